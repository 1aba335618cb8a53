"""How well the label audit finds wrong training labels: flip a known share of them and count what it flags.

The training rows of a workflow run's split (results/data/, after `snakemake results/data/summary.json`: no
training needed) get `share` of their labels flipped, either uniformly to another class or toward each class's
neighbour (the class the TF-IDF model confuses it with most on the clean labels: the errors people make). The audit
of the training split (focalcls.evaluate.label_audit: TF-IDF cross-fitted over --folds, cleanlab's confident
learning) then flags rows; printed per setting, mean ± sd over --seeds flips: the precision of the flags (share
that are flips; chance is `share`), their recall (share of the flips flagged), and the TF-IDF baseline's test
macro-F1 and minority-class F1 when trained on the noisy rows and on the noisy rows less the flagged ones.
    python -m bench.quality.label_audit --data results/data [--shares 0.05 0.1] [--seeds 3] [--folds 5]
    python -m bench.quality.label_audit --synthetic      # a small generated set, to check the script itself
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from focalcls.core.atomic import read_json
from focalcls.core.metrics import f1_summary
from focalcls.core.spreadsheets import read_table
from focalcls.data.cleaning import LABEL, TEXT
from focalcls.evaluate.baselines import tfidf_probs
from focalcls.evaluate.label_audit import audited_training_rows, out_of_fold_probs, suspects
from focalcls.evaluate.prediction_table import label_ids

KINDS = ("uniform", "neighbour")


def synthetic(seed: int = 0) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Four long-tailed classes, each with its own words and some shared ones: separable, as real classes
    mostly are, but not trivially (shared filler, pairs of words)."""
    words = {
        "sports": "team match goal coach league score player",
        "finance": "bank stock rate market fund bond price",
        "tech": "chip phone software network laptop code cloud",
        "health": "doctor hospital vaccine drug clinic nurse care",
    }
    filler = "today news said report week new people city".split()
    rng = random.Random(seed)
    counts = {"sports": 300, "finance": 200, "tech": 120, "health": 60}
    rows = [
        {TEXT: " ".join(rng.sample(words[label].split(), 2) + rng.sample(filler, 3)) + f" {i}", LABEL: label}
        for label, n in counts.items()
        for i in range(n)
    ]
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    cut = [int(len(frame) * 0.7), int(len(frame) * 0.85)]
    parts = {"train": frame[: cut[0]], "val": frame[cut[0] : cut[1]], "test": frame[cut[1] :]}
    return {name: part.reset_index(drop=True) for name, part in parts.items()}, list(counts)


def neighbours(train: pd.DataFrame, labels: Sequence[str], folds: int) -> np.ndarray:
    """For each class, the other class its clean rows get the most out-of-fold probability for."""
    probs = out_of_fold_probs(train, labels, folds, seed=0)
    truth = label_ids(train, labels)
    mass = np.array([probs[truth == i].sum(axis=0) for i in range(len(labels))])
    np.fill_diagonal(mass, -1)
    return mass.argmax(axis=1)


def flip(truth: np.ndarray, share: float, kind: str, near: np.ndarray, seed: int) -> np.ndarray:
    """`truth` with round(share * rows) labels changed: to a random other class, or to the class's neighbour."""
    rng = np.random.default_rng(seed)
    noisy = truth.copy()
    rows = rng.choice(len(truth), round(share * len(truth)), replace=False)
    classes = int(truth.max()) + 1
    for row in rows:
        noisy[row] = near[truth[row]] if kind == "neighbour" else (truth[row] + rng.integers(1, classes)) % classes
    return noisy


def test_f1(train: pd.DataFrame, test: pd.DataFrame, labels: Sequence[str], counts: dict) -> tuple[float, float]:
    """The TF-IDF baseline's test macro-F1 and minority-class F1 when fitted on `train`."""
    probs = tfidf_probs(train, {"test": test}, labels, seed=0)["test"]
    found = f1_summary(label_ids(test, labels), probs.argmax(axis=1), labels, counts)
    return found["macro_f1"], found["minority_f1"]


def one_setting(splits: dict, labels: list[str], truth: np.ndarray, noisy: np.ndarray, folds: int) -> dict:
    """The audit's precision and recall at finding the flips, and test F1 with and without the flagged rows."""
    train = splits["train"].assign(**{LABEL: [labels[i] for i in noisy]})
    flagged, _ = suspects(out_of_fold_probs(train, labels, folds, seed=0), noisy)
    moved = noisy != truth
    caught = int(moved[flagged].sum())
    counts = train[LABEL].value_counts().to_dict()
    noisy_f1 = test_f1(train, splits["test"], labels, counts)
    cleaned_f1 = test_f1(train.drop(index=flagged), splits["test"], labels, counts)
    return {
        "flagged": len(flagged),
        "precision": caught / len(flagged) if len(flagged) else float("nan"),
        "recall": caught / moved.sum(),
        "macro_noisy": noisy_f1[0],
        "macro_cleaned": cleaned_f1[0],
        "minority_noisy": noisy_f1[1],
        "minority_cleaned": cleaned_f1[1],
    }


def spread(values: Sequence[float]) -> str:
    mean = statistics.fmean(values)
    return f"{mean:.3f} ± {statistics.stdev(values):.3f}" if len(values) > 1 else f"{mean:.3f}"


def run(splits: dict, labels: list[str], shares: Sequence[float], seeds: int, folds: int) -> list[str]:
    """One printed line per (kind, share): every figure as mean ± sd over the seeds' flips."""
    splits = {**splits, "train": audited_training_rows(splits["train"])}
    truth = label_ids(splits["train"], labels)
    near = neighbours(splits["train"], labels, folds)
    columns = ("flagged", "precision", "recall", "macro_noisy", "macro_cleaned", "minority_noisy", "minority_cleaned")
    lines = ["kind       share  " + "  ".join(f"{c:>15}" for c in columns)]
    for kind in KINDS:
        for share in shares:
            found = [
                one_setting(splits, labels, truth, flip(truth, share, kind, near, seed), folds) for seed in range(seeds)
            ]
            cells = [spread([f[c] for f in found]) for c in columns]
            lines.append(f"{kind:<10} {share:<5}  " + "  ".join(f"{c:>15}" for c in cells))
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, help="a run's results/data folder (train/val/test.xlsx, labels.json)")
    p.add_argument("--synthetic", action="store_true", help="a small generated set instead of --data")
    p.add_argument("--shares", type=float, nargs="+", default=[0.05, 0.1])
    p.add_argument("--seeds", type=int, default=3, help="flips drawn per setting")
    p.add_argument("--folds", type=int, default=5, help="audit.folds")
    args = p.parse_args()
    if args.synthetic == (args.data is not None):
        p.error("give --data or --synthetic")
    if args.synthetic:
        splits, labels = synthetic()
    else:
        splits = {name: read_table(args.data / f"{name}.xlsx") for name in ("train", "test")}
        labels = read_json(args.data / "labels.json")
    rows = len(audited_training_rows(splits["train"]))
    print(f"{rows} training rows, {len(labels)} classes; {args.seeds} flips per setting, {args.folds} folds")
    print("\n".join(run(splits, labels, args.shares, args.seeds, args.folds)))


if __name__ == "__main__":
    main()
