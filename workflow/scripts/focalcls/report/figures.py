"""The report's figures, each a base64 PNG (focalcls.report.plots draws them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from focalcls.report import plots

# The per-class F1 figure's models beside the chosen preset: every preset, adjusted row and baseline drew 16 bars a
# class on the demo, too many to read; the comparison table holds the rest.
BAR_MODELS = ("ce", "tfidf")


def bar_models(runs: Mapping[str, dict], best: str) -> list[str]:
    """The chosen preset, then ce and the TF-IDF baseline where the run has them."""
    return list(dict.fromkeys(name for name in (best, *BAR_MODELS) if name in runs))


def report_figures(
    runs: Mapping[str, dict],
    presets: Sequence[str],
    best: str,
    labels: Sequence[str],
    summary: Mapping,
    lengths: Mapping[str, Sequence[int]],
) -> dict:
    """Class counts and text lengths per split, per-class F1 of the chosen preset, ce and TF-IDF (classes by
    training count, the tail on the right), the training curves of the presets trained here, confusion
    matrices of the chosen preset and ce, and the binary test's curves. With many classes the per-class
    figures draw the most frequent and the rarest only; `drawn` says how many, for the page to say so."""
    train_counts = summary["counts"]["train"]
    trained = [n for n in presets if "log" in runs[n]]  # an adapter trained elsewhere has no curves
    bars = plots.shown_classes(labels, train_counts, plots.BAR_CLASSES)
    by_count = sorted(bars, key=lambda x: -train_counts.get(x, 0))
    position = {label: i for i, label in enumerate(labels)}  # confusion.csv's rows and columns, in labels order
    confused = [position[x] for x in plots.shown_classes(labels, train_counts, plots.CONFUSION_CLASSES)]
    counts = {"train (before balancing)": summary["before_balance"]["train"], **summary["counts"]}
    return {
        "counts": plots.class_counts(counts, bars),
        "lengths": plots.text_lengths(lengths),
        "per_class": plots.per_class_f1(
            {n: {x: runs[n]["metrics"]["per_class"][x]["f1"] for x in by_count} for n in bar_models(runs, best)},
            by_count,
        ),
        "curves": plots.training_curves({n: runs[n]["log"] for n in trained}, {n: runs[n]["train"] for n in trained}),
        "confusion": [
            plots.confusion_matrix(runs[n]["confusion"], f"{n} (rows normalised)", confused)
            for n in dict.fromkeys([best, "ce"])
            if n in presets
        ],
        "binary": plots.binary_curves({n: runs[n]["binary"] for n in presets}),
        "drawn": {"bars": len(bars), "confusion": len(confused), "cell_numbers": plots.CELL_NUMBERS},
    }
