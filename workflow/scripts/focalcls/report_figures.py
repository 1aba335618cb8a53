"""The report's figures, each a base64 PNG (focalcls.plots draws them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from . import plots


def report_figures(
    runs: Mapping[str, dict],
    presets: Sequence[str],
    best: str,
    labels: Sequence[str],
    summary: Mapping,
    lengths: Mapping[str, Sequence[int]],
) -> dict:
    """Class counts and text lengths per split, per-class F1 of every model (classes by training count, the
    tail on the right), the training curves of the presets trained here, confusion matrices of the chosen
    preset and ce, and the binary test's curves."""
    train_counts = summary["counts"]["train"]
    trained = [n for n in presets if "log" in runs[n]]  # an adapter trained elsewhere has no curves
    by_count = sorted(labels, key=lambda x: -train_counts.get(x, 0))
    counts = {"train (before balancing)": summary["before_balance"]["train"], **summary["counts"]}
    return {
        "counts": plots.class_counts(counts, labels),
        "lengths": plots.text_lengths(lengths),
        "per_class": plots.per_class_f1(
            {n: {x: r["metrics"]["per_class"][x]["f1"] for x in labels} for n, r in runs.items()}, by_count
        ),
        "curves": plots.training_curves({n: runs[n]["log"] for n in trained}, {n: runs[n]["train"] for n in trained}),
        "confusion": [
            plots.confusion_matrix(runs[n]["confusion"], f"{n} (rows normalised)")
            for n in dict.fromkeys([best, "ce"])
            if n in presets
        ],
        "binary": plots.binary_curves({n: runs[n]["binary"] for n in presets}),
    }
