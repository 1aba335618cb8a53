"""Does anything beat ce beyond seed noise? The demo with full LoRA over three training seeds, run as a user
runs it: the workflow with train.seeds and tune: set.

The config is the demo's (same data, split, model, two-epoch cap, lr, batch) with train.seeds [42, 1, 2]
and these models: ce; balanced, the focal preset with the best validation minority-F1 in the head-only
bench (bench/quality/head_only.py); the logit-adjusted loss (tau 1, the balanced softmax); the gamma-then-alpha
search (gammas 1, 2, 3 at alpha 0.25, then alphas 0.1 and 0.5, on validation minority-F1) as `tuned`;
post-hoc logit adjustment of each; and TF-IDF. It runs in its own folder (bench-runs/quality by default),
so results/ is untouched; rerun it and only what is missing trains. It prints each model's test figures
(mean ± sd over seeds, and each seed's), the search's path, the report's headline and its decision for
every model against ce, and the wall time.
    python -m bench.quality.full_lora [--work bench-runs/quality] [--cores 2] [--print-only]
"""

from __future__ import annotations

import argparse
import html
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench.common.demo_inputs import REPO
from focalcls.config.checks import preset_names
from focalcls.config.loading import load_config

SEEDS = [42, 1, 2]
TUNE = {"gammas": [1.0, 2.0, 3.0], "alpha": 0.25, "alphas": [0.1, 0.5], "form": "sigmoid", "metric": "minority_f1"}


def study_config() -> dict:
    """The demo's config with three seeds, the presets above, the search, and TF-IDF as the only baseline."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text(encoding="utf-8"))
    config["data"]["raw"] = str(REPO / "resources/demo/thucnews.xlsx")
    config["model"]["checkpoint"] = str(REPO / "resources/models/demo")
    config["train"]["seeds"] = SEEDS
    demo = config["presets"]
    config["presets"] = {
        "ce": demo["ce"],
        "balanced": demo["balanced"],
        "logit-adjusted": {"loss": "logit-adjusted", "tau": 1.0},
    }
    config["tune"] = TUNE
    config["baselines"] = ["tfidf"]
    return config


def runs(results: Path, config: dict) -> list[tuple[str, list[dict]]]:
    """(model, its metrics per seed) for every preset the config names (and tuned), each with its adjusted row
    where there is one, then the baselines: the report's models, never a stale folder of an earlier config."""
    seeds, found = config["train"]["seeds"], []
    for preset in preset_names(config):
        folders = [results / "presets" / preset] + [results / "presets" / preset / f"seed-{s}" for s in seeds[1:]]
        for kind, suffix in (("eval", ""), ("adjusted", " + logit adjustment")):
            files = [f / kind / "metrics.json" for f in folders]
            if all(f.exists() for f in files):
                found.append((preset + suffix, [json.loads(f.read_text()) for f in files]))
    for baseline in config["baselines"]:
        found.append((baseline, [json.loads((results / "baselines" / baseline / "metrics.json").read_text())]))
    return found


def mean_sd(values: list[float]) -> str:
    sd = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else "        "
    return f"{statistics.fmean(values):.3f}{sd}"


def table(found: list[tuple[str, list[dict]]]) -> list[str]:
    lines = [f"{'model':<52} {'macro_f1':>15} {'minority_f1':>15}   per seed (macro / minority)"]
    for name, seeds in found:
        per_seed = "  ".join(f"{m['macro_f1']:.3f}/{m['minority_f1']:.3f}" for m in seeds)
        taus = [m["logit_adjustment"]["tau"] for m in seeds if "logit_adjustment" in m]
        label = name + (f" (tau {', '.join(f'{t:g}' for t in taus)})" if taus else "")
        macro, minority = mean_sd([m["macro_f1"] for m in seeds]), mean_sd([m["minority_f1"] for m in seeds])
        lines.append(f"{label:<52} {macro:>15} {minority:>15}   {per_seed}")
    return lines


def search_path(results: Path) -> list[str]:
    lines = []
    for name in ("gamma", "alpha"):
        path = results / "tune" / f"{name}.json"
        if path.exists():
            stage = json.loads(path.read_text())
            points = ", ".join(f"{p['value']:g}: {p['mean']:.3f} ± {p['sd'] or 0:.3f}" for p in stage["points"])
            fixed = ", ".join(f"{k} {v:g}" for k, v in stage["fixed"].items())
            lines.append(f"search, {name} at {fixed} (val {stage['metric']}): {points}; chose {stage['chosen']:g}")
    return lines


def page_text(page: str, start: str, end: str) -> str:
    """The words of the report between two markers, tags dropped and spaces collapsed."""
    part = page.split(start, 1)[1].split(end, 1)[0].replace("\n", " ")  # a line per row or item, not per source line
    part = re.sub(r"</t[dh]>", " | ", part)
    part = re.sub(r"</tr>|</li>", "\n", part)
    return "\n".join(" ".join(html.unescape(re.sub(r"<[^>]+>", " ", line)).split()) for line in part.splitlines())


def report_words(report: Path) -> list[str]:
    page = report.read_text(encoding="utf-8")
    headline = page_text(page, '<p class="headline">', '<p class="note">')
    versus = page_text(page, "<h3>Each model against ce", "</table>") if "<h3>Each model against ce" in page else ""
    return [line for line in (headline + "\n" + versus).splitlines() if line.strip()]


def wall_seconds(results: Path) -> dict[str, float]:
    """Summed wall seconds per rule, from the workflow's own benchmark files."""
    totals: dict[str, float] = {}
    for tsv in (results / "benchmarks").rglob("*.tsv"):
        rule = tsv.relative_to(results / "benchmarks").parts[0].removesuffix(".tsv")
        totals[rule] = totals.get(rule, 0.0) + float(tsv.read_text().splitlines()[1].split("\t")[0])
    return totals


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default=str(REPO / "bench-runs/quality"), help="the workflow's folder")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--print-only", action="store_true", help="print what the folder holds; run nothing")
    args = p.parse_args()
    work = Path(args.work).resolve()
    started = time.time()
    if not args.print_only:
        if not (REPO / "resources/models/demo/config.json").exists():
            sys.exit("resources/models/demo not found: fetch it first (snakemake --cores 2 resources/models/demo)")
        work.mkdir(parents=True, exist_ok=True)
        (work / "config.yaml").write_text(yaml.safe_dump(study_config(), allow_unicode=True, sort_keys=False))
        cmd = ["snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work), "--cores", str(args.cores)]
        subprocess.run([*cmd, "results/report.html", "--configfile", str(work / "config.yaml")], check=True)
    config = load_config(work / "config.yaml")  # complete: the schema's defaults filled in
    results = work / "results"
    print(f"seeds {config['train']['seeds']}, test split; the demo's data, model and two-epoch cap")
    print("\n".join(table(runs(results, config))))
    print("\n".join(search_path(results)))
    print("\n".join(report_words(results / "report.html")))
    totals = wall_seconds(results)
    print("wall seconds per rule, summed over jobs: " + ", ".join(f"{r} {s:.0f}" for r, s in sorted(totals.items())))
    if not args.print_only:
        print(f"wall time of this run: {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
