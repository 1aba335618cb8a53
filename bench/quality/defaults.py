"""Which training defaults hold on all three public data sets at once: each candidate recipe (the schema's
training defaults, or one knob changed) trains the same preset on the demo's data, the chat topics
(bench/quality/second_dataset.py) and the ICD-10-CM chapters (bench/quality/third_dataset.py), over the same
seeds, and is judged by its mean validation figure over the three: never by one data set, never by test. A
change replaces the defaults only when it beats them on that mean by more than --margin (0.01): the demo's
test macro-F1 moves by 0.010 to 0.016 (sd) between training seeds alone (BENCHMARKS.md, full LoRA).

Each (data set, candidate) runs the workflow in its own folder, W/<data set>/<candidate>, with the data set's
study config (split seed 7: rows the demo's defaults were not chosen on; model.max_length 64, as each study
sets it for its short texts), the one preset, TF-IDF, the seeds and the candidate's changes; one run at a
time, as trainings side by side slow each other down. A rerun trains only what is missing (a run that fails is
reported, the next one starts, and the script exits 1 once the table is printed), and --print-only reads what
is there: the table is the record of everything tried, the losers included. It prints each candidate's
validation figure per data set and their mean (what chooses), the test macro-F1 and minority-F1 beside it
(never used to choose), the choice, and each data set's tokens per row against the runs' max_length.
    python -m bench.quality.defaults [--work bench-runs/defaults] [--candidates default lr-1e-4 ...]
        [--sets demo chat icd10cm] [--seeds 42] [--preset ce] [--cores 2] [--print-only]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml
from snakemake.utils import update_config

from bench.common.demo_inputs import REPO
from bench.common.study import Study, demo_presets, prepare
from bench.quality import second_dataset, third_dataset

SPLIT_SEED = 7
# What was tried, each against the schema's defaults (config/README.md): one knob at a time; "preset" holds
# changes to the preset trained (its loss settings), the other keys config sections.
CANDIDATES: dict[str, dict] = {
    "default": {},
    "lr-1e-4": {"train": {"lr": 1.0e-4}},
    "lr-4e-4": {"train": {"lr": 4.0e-4}},
    "warmup-0": {"train": {"warmup_ratio": 0.0}},
    "r-8": {"lora": {"r": 8, "alpha": 16}},
    "r-32": {"lora": {"r": 32, "alpha": 64}},
    "attention-only": {"lora": {"target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}},
    "patience-3": {"train": {"patience": 3}},
    "batch-16": {"train": {"batch_size": 16}},
    "head-lr-10x": {"train": {"head_lr": 2.0e-3}},  # ten times the schema's train.lr
    "label-smoothing-0.1": {"preset": {"label_smoothing": 0.1}},
    "max-length-256": {"model": {"max_length": 256}},  # the schema's default; the studies set 64
}
STUDIES: dict[str, Study] = {"chat": second_dataset.STUDY, "icd10cm": third_dataset.STUDY}
SETS = ("demo", *STUDIES)


def demo_config() -> dict:
    """The demo's data, balance and model as config/config.yaml has them, its split drawn with SPLIT_SEED, and
    no training knob: the schema's defaults, not the demo's time cap."""
    demo = yaml.safe_load((REPO / "config/config.yaml").read_text(encoding="utf-8"))
    config = {key: demo[key] for key in ("data", "split", "balance", "model")}
    config["data"]["raw"] = str(REPO / "resources/demo/thucnews.xlsx")
    config["split"]["seed"] = SPLIT_SEED
    config["model"]["checkpoint"] = str(REPO / "resources/models/demo")
    return config


def base_config(name: str, work: Path) -> dict:
    """The data set's config as its study writes it, its rows fetched into `work` for the two studies."""
    if name == "demo":
        return demo_config()
    return yaml.safe_load(prepare(STUDIES[name], work, SPLIT_SEED).read_text(encoding="utf-8"))


def candidate_config(base: Mapping, candidate: str, preset: str, seeds: Sequence[int]) -> dict:
    """One preset (the demo's settings for it), TF-IDF, the seeds and the candidate's changes; no zero-shot."""
    config = copy.deepcopy({key: value for key, value in base.items() if key not in ("presets", "direct")})
    changes = copy.deepcopy(CANDIDATES[candidate])
    config.update(presets={preset: {**demo_presets()[preset], **changes.pop("preset", {})}}, baselines=["tfidf"])
    update_config(config, {"train": {"seeds": list(seeds)}})
    update_config(config, changes)  # Snakemake's merge of one config into another
    return config


def targets(preset: str, seeds: Sequence[int]) -> list[str]:
    runs = [f"results/presets/{preset}"] + [f"results/presets/{preset}/seed-{s}" for s in seeds[1:]]
    return [f"{run}/eval/metrics.json" for run in runs] + ["results/baselines/tfidf/metrics.json"]


def run(
    folder: Path, config: dict, preset: str, seeds: Sequence[int], cores: int, triggers: Sequence[str] = ()
) -> bool:
    """The workflow on `config` in `folder`, up to the preset's and TF-IDF's metrics; False when it failed.
    `triggers` narrows what makes Snakemake redo a finished job (its --rerun-triggers; all of them if empty)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(folder), "--cores", str(cores)]
    cmd += targets(preset, seeds)  # before the options that take several values, which would read them as theirs
    if triggers:
        cmd += ["--rerun-triggers", *triggers]
    done = subprocess.run([*cmd, "--configfile", str(path)])
    if done.returncode != 0:
        print(
            f"{folder}: the workflow failed (exit {done.returncode}); Snakemake's message is above, the jobs' logs "
            f"under {folder}/results/logs (a folder still locked by a killed run: `snakemake --unlock -s "
            f"{REPO / 'Snakefile'} -d {folder} --configfile {path}`)"
        )
    return done.returncode == 0


def seed_metrics(folder: Path, preset: str, seeds: Sequence[int]) -> list[dict] | None:
    """Each seed's metrics.json (test figures, and validation's under "val"); None while one is missing."""
    paths = [folder / target for target in targets(preset, seeds)[:-1]]
    if not all(path.is_file() for path in paths):
        return None
    return [json.loads(path.read_text(encoding="utf-8")) for path in paths]


def figures(runs: Sequence[dict], metric: str) -> dict[str, float]:
    """Means over the seeds: validation's `metric` (what chooses), test macro-F1 and minority-F1."""
    return {
        "val": statistics.fmean(m["val"][metric] for m in runs),
        "macro_f1": statistics.fmean(m["macro_f1"] for m in runs),
        "minority_f1": statistics.fmean(m["minority_f1"] for m in runs),
    }


def collect(work: Path, sets: Sequence[str], candidates: Sequence[str], preset: str, seeds, metric: str) -> dict:
    """{candidate: {data set: figures}} for every run found complete; a missing one is left out."""
    found: dict[str, dict[str, dict]] = {}
    for candidate in candidates:
        for name in sets:
            runs = seed_metrics(work / name / candidate, preset, seeds)
            if runs:
                found.setdefault(candidate, {})[name] = figures(runs, metric)
    return found


def validation_means(found: Mapping[str, Mapping[str, dict]], sets: Sequence[str]) -> dict[str, float]:
    """Each candidate's mean validation figure over `sets`, for those run on every one of them."""
    complete = [c for c, per_set in found.items() if all(name in per_set for name in sets)]
    return {c: statistics.fmean(found[c][name]["val"] for name in sets) for c in complete}


def choose(means: Mapping[str, float], margin: float) -> str | None:
    """The best mean, in CANDIDATES' order on a tie; the defaults stay unless it beats them by more than
    `margin` (or they were not run)."""
    ordered = [c for c in CANDIDATES if c in means]
    best = max(ordered, key=means.get, default=None)
    if best is not None and "default" in means and means[best] - means["default"] <= margin:
        return "default"
    return best


def table(found: Mapping[str, Mapping[str, dict]], sets: Sequence[str], metric: str, tfidf: Mapping) -> list[str]:
    """Three blocks, a row per candidate and a column per data set and their mean ('-' while a run is
    missing): validation `metric` (what chooses), then test macro-F1 and minority-F1 with TF-IDF's row."""
    lines = []
    blocks = [
        ("val", f"validation {metric} (chooses)"),
        ("macro_f1", "test macro_f1"),
        ("minority_f1", "test minority_f1"),
    ]
    for key, title in blocks:
        lines.append(f"{title:<32}" + "".join(f"{name[:8]:>9}" for name in sets) + f"{'mean':>9}")
        rows = dict(found) if key == "val" else {**found, "tfidf": tfidf}
        for candidate, per_set in rows.items():
            values = [per_set[name][key] if name in per_set else None for name in sets]
            values.append(statistics.fmean(values) if None not in values else None)
            lines.append(f"{candidate:<32}" + "".join(f"{'-' if v is None else f'{v:.3f}':>9}" for v in values))
    return lines


def tfidf_figures(work: Path, sets: Sequence[str], candidates: Sequence[str]) -> dict[str, dict]:
    """TF-IDF's test figures per data set, from the first candidate's folder that has them (every candidate
    fits it on the same split, so they are the same)."""
    found = {}
    for name in sets:
        for candidate in candidates:
            path = work / name / candidate / "results/baselines/tfidf/metrics.json"
            if path.is_file():
                m = json.loads(path.read_text(encoding="utf-8"))
                found[name] = {"macro_f1": m["macro_f1"], "minority_f1": m["minority_f1"]}
                break
    return found


def row_lengths(work: Path, sets: Sequence[str], candidates: Sequence[str], tokenizer: Path) -> list[str]:
    """Tokens per row of each data set (its rows as a run extracted them), by `tokenizer`, and how many rows
    each candidate's model.max_length cuts: where it cuts none, that candidate trains what the defaults train."""
    import pandas as pd
    from transformers import AutoTokenizer

    from focalcls.data.cleaning import TEXT

    if not (tokenizer / "tokenizer_config.json").is_file():
        return [f"tokens per row: not counted, {tokenizer} has no tokenizer (fetch the demo's model first)"]
    encode = AutoTokenizer.from_pretrained(str(tokenizer))
    lines = []
    for name in sets:
        configs = [work / name / c / "config.yaml" for c in candidates if (work / name / c / "config.yaml").is_file()]
        limits = sorted({yaml.safe_load(path.read_text(encoding="utf-8"))["model"]["max_length"] for path in configs})
        extracted = (path.parent / "results/data/extracted.xlsx" for path in configs)
        rows = next((path for path in extracted if path.is_file()), None)
        if rows is not None:
            n = [len(ids) for ids in encode(list(pd.read_excel(rows)[TEXT].astype(str)))["input_ids"]]
            cut = ", ".join(f"{sum(k > limit for k in n)} over {limit}" for limit in limits)
            lines.append(f"  {name}: {len(n)} rows, {statistics.fmean(n):.1f} tokens a row, longest {max(n)}; {cut}")
    title = f"tokens per row ({tokenizer.name}'s tokenizer); rows over a run's max_length, all a larger one changes:"
    return [title, *lines] if lines else ["tokens per row: no run has extracted its rows yet"]


def report(
    work: Path, sets: Sequence[str], candidates: Sequence[str], preset: str, seeds, metric: str, margin: float
) -> list[str]:
    found = collect(work, sets, candidates, preset, seeds, metric)
    lines = table(found, sets, metric, tfidf_figures(work, sets, candidates))
    means = validation_means(found, sets)
    best = choose(means, margin)
    if best is None:
        return [*lines, f"no candidate has run on all of {', '.join(sets)} yet"]
    on = f"the mean validation {metric} over {', '.join(sets)} ({preset}, seeds {list(seeds)})"
    lines.append(f"chosen on {on}, a change only by more than {margin:g}: {best}")
    if "default" in means:
        rivals = {c: means[c] - means["default"] for c in means if c != "default"}
        lines += [f"  {c}: {gain:+.3f} against the defaults" for c, gain in rivals.items()]
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default=str(REPO / "bench-runs/defaults"))
    p.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    p.add_argument("--seeds", nargs="+", type=int, default=[42])
    p.add_argument("--preset", default="ce", choices=list(demo_presets()))
    p.add_argument("--metric", default="macro_f1", choices=["macro_f1", "minority_f1"])
    p.add_argument("--margin", type=float, default=0.01, help="how much a change must beat the defaults' mean by")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--print-only", action="store_true", help="read the runs already made; train nothing")
    p.add_argument(
        "--rerun-triggers",
        nargs="+",
        default=[],
        choices=["mtime", "params", "input", "software-env", "code"],
        help="what makes a finished run train again (Snakemake's option; all by default): leave out 'code' to keep "
        "runs made before a change of the project's code that leaves their figures as they were",
    )
    args = p.parse_args()
    work = Path(args.work).resolve()
    candidates = [c for c in CANDIDATES if c in args.candidates]  # the defaults first, whatever the order given
    if not args.print_only:
        if not (REPO / "resources/models/demo/config.json").exists():
            sys.exit("resources/models/demo not found: fetch it first (snakemake --cores 2 resources/models/demo)")
        failed = train_every_candidate(work, args, candidates)
    print("\n".join(report(work, args.sets, candidates, args.preset, args.seeds, args.metric, args.margin)))
    print("\n".join(row_lengths(work, args.sets, candidates, REPO / "resources/models/demo")))
    if not args.print_only and failed:
        sys.exit(f"{len(failed)} run(s) failed, their rows incomplete above: {', '.join(map(str, failed))}")


def train_every_candidate(work: Path, args: argparse.Namespace, candidates: Sequence[str]) -> list[Path]:
    """Each candidate on every data set before the next candidate starts (a run stopped half-way leaves whole
    rows behind); the folders whose run failed."""
    bases = {name: base_config(name, work / name) for name in args.sets}
    failed = []
    for candidate in candidates:
        for name, base in bases.items():
            config = candidate_config(base, candidate, args.preset, args.seeds)
            folder = work / name / candidate
            if not run(folder, config, args.preset, args.seeds, args.cores, args.rerun_triggers):
                failed.append(folder)
    return failed


if __name__ == "__main__":
    main()
