"""Report figures, drawn with matplotlib's Agg backend and returned as base64 PNG for embedding."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# Chinese labels render with whatever CJK font is installed; the fallback list keeps ASCII working.
plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "WenQuanYi Zen Hei", "DejaVu Sans"]
# Labels are the user's text: a label such as $_$ is not mathtext to typeset (it would crash the report).
plt.rcParams["text.parse_math"] = False

# Figures stay bounded whatever the labels: a 2,000-character label made megabyte figures, and with hundreds
# of classes the per-class figures grew past matplotlib's pixel limit (the report crashed) or took minutes.
TICK_CHARS = 30  # a longer label is cut on a figure's axis; tables and files keep it whole
BAR_CLASSES = 60  # the most classes a bar chart draws (half the most frequent, half the rarest)
CONFUSION_CLASSES = 30  # likewise the rows and columns of a confusion matrix
CELL_NUMBERS = 25  # a confusion matrix of more classes than this shows colours only
MAX_INCHES = 24.0  # 2,160 pixels at the report's 90 dpi


def to_png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def short(label: str, limit: int = TICK_CHARS) -> str:
    """`label` within `limit` characters for an axis: its start and end, which tell similar labels apart."""
    label = str(label)
    if len(label) <= limit:
        return label
    tail = limit // 3
    return f"{label[: limit - tail - 1]}…{label[-tail:]}"


def shown_classes(labels: Sequence[str], counts: Mapping[str, int], limit: int) -> list[str]:
    """The classes a figure draws: every label in its order, or past `limit` the limit/2 most frequent and
    the limit/2 rarest by `counts`, most frequent first."""
    if len(labels) <= limit:
        return list(labels)
    by_count = sorted(labels, key=lambda x: -counts.get(x, 0))
    return [*by_count[: limit // 2], *by_count[len(by_count) - limit // 2 :]]


def side(n: int, inches_each: float, least: float) -> float:
    """A figure's width or height for `n` classes, capped at MAX_INCHES."""
    return min(MAX_INCHES, max(least, n * inches_each))


def class_counts(counts: Mapping[str, Mapping[str, int]], labels: Sequence[str]) -> str:
    """Grouped bars per split; log scale once the largest class is 10x the smallest."""
    fig, ax = plt.subplots(figsize=(side(len(labels), 0.7, 6), 3.2))
    names = list(counts)
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(labels))
    for i, name in enumerate(names):
        ax.bar(x + i * width, [counts[name].get(label, 0) for label in labels], width, label=name)
    values = [v for c in counts.values() for v in c.values() if v > 0]
    if values and max(values) / min(values) >= 10:
        ax.set_yscale("log")
        # The log axis labels its ticks in mathtext ($10^{3}$), which text.parse_math off prints raw: plain numbers.
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xticks(x + width * (len(names) - 1) / 2, [short(label) for label in labels], rotation=45, ha="right")
    ax.set_ylabel("rows")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the bars, never over them
    return to_png(fig)


def per_class_f1(f1: Mapping[str, Mapping[str, float]], labels: Sequence[str]) -> str:
    """`f1[model][label]`; labels arrive ordered by training count so the tail sits on the right."""
    fig, ax = plt.subplots(figsize=(side(len(labels), 0.9, 7), 3.4))
    width = 0.8 / max(len(f1), 1)
    x = np.arange(len(labels))
    for i, (name, scores) in enumerate(f1.items()):
        ax.bar(x + i * width, [scores.get(label, 0.0) for label in labels], width, label=name)
    ax.set_xticks(x + width * (len(f1) - 1) / 2, [short(label) for label in labels], rotation=45, ha="right")
    ax.set_ylabel("F1 (test)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return to_png(fig)


def training_curves(logs: Mapping[str, pd.DataFrame], summaries: Mapping[str, Mapping]) -> str:
    """Loss and validation macro-F1 over steps; a star marks the checkpoint kept (the best on the early
    stopping metric) and a dotted line the step where early stopping ended the run."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
    for name, frame in logs.items():
        summary = summaries[name]
        for ax, column in zip(axes, ("train_loss", "val_loss", "val_macro_f1")):
            rows = frame.dropna(subset=[column])
            line = ax.plot(rows["step"], rows[column], marker="." if column != "train_loss" else None, label=name)[0]
            kept = rows[rows["step"] == summary.get("best_step")]
            if column != "train_loss" and len(kept):
                ax.scatter(kept["step"], kept[column], color=line.get_color(), s=70, marker="*", zorder=3)
            if summary.get("stop_reason") == "early_stopping":
                ax.axvline(summary["steps"], color=line.get_color(), linestyle=":", linewidth=1)
    titles = ("train loss", "validation loss (* = checkpoint kept)", "validation macro-F1 (* = checkpoint kept)")
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
    axes[0].legend(fontsize=8)
    return to_png(fig)


def text_lengths(lengths: Mapping[str, Sequence[int]]) -> str:
    """Character counts per split as overlaid step histograms on shared bins, as fractions of each split."""
    fig, ax = plt.subplots(figsize=(7, 3))
    every = np.concatenate([np.asarray(v, dtype=float) for v in lengths.values()]) if lengths else np.zeros(1)
    bins = np.histogram_bin_edges(every, bins=min(40, max(5, len(np.unique(every)))))
    for name, values in lengths.items():
        weights = np.full(len(values), 1 / max(len(values), 1))
        ax.hist(values, bins=bins, weights=weights, histtype="step", linewidth=1.5, label=name)
    ax.set_xlabel("characters per text")
    ax.set_ylabel("fraction of rows")
    ax.legend(fontsize=8)
    return to_png(fig)


def binary_curves(results: Mapping[str, Mapping]) -> str | None:
    """ROC and precision-recall curves of the one-vs-rest test per preset; a dot marks the threshold chosen
    on validation, where the test split's precision and recall land. None when the test split lacks the
    positive or the negative class, so no preset has curves."""
    if not any(result.get("curves") for result in results.values()):
        return None
    fig, (roc, pr) = plt.subplots(1, 2, figsize=(10, 4))
    for name, result in results.items():
        curves = result.get("curves")
        if not curves:
            continue
        line = roc.plot(curves["roc"]["fpr"], curves["roc"]["tpr"], label=f"{name} (AUC {result['roc_auc']:.3f})")[0]
        roc.scatter([curves["at_threshold"]["fpr"]], [curves["at_threshold"]["tpr"]], color=line.get_color(), zorder=3)
        pr.plot(
            curves["pr"]["recall"],
            curves["pr"]["precision"],
            color=line.get_color(),
            label=f"{name} (AP {result['pr_auc']:.3f})",
        )
        pr.scatter([result["recall"]], [result["precision"]], color=line.get_color(), zorder=3)
    roc.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)", xlim=(0, 1), ylim=(0, 1.02))
    pr.set(xlabel="recall", ylabel="precision", title="precision-recall (test)", xlim=(0, 1), ylim=(0, 1.02))
    for ax in (roc, pr):
        ax.title.set_fontsize(10)
        ax.legend(fontsize=7, loc="lower right" if ax is roc else "lower left")
    return to_png(fig)


def confusion_matrix(matrix: pd.DataFrame, title: str, shown: Sequence[int] | None = None) -> str:
    """Rows normalised over every class; drawn for the classes at positions `shown` only (default all), and
    then a last column holds each row's share predicted as a class not drawn. The cells carry their numbers
    up to CELL_NUMBERS columns."""
    values = matrix.to_numpy(dtype=float)
    normalised = values / np.maximum(values.sum(axis=1, keepdims=True), 1)
    shown = list(range(len(matrix))) if shown is None else list(shown)
    drawn = normalised[np.ix_(shown, shown)]
    names = [short(matrix.columns[i]) for i in shown]  # the header keeps names as text; the index may not
    columns = names
    if len(shown) < len(matrix):
        drawn = np.column_stack([drawn, normalised[shown].sum(axis=1) - drawn.sum(axis=1)])
        columns = [*names, "other classes"]
    fig, ax = plt.subplots(figsize=(side(len(columns), 0.55, 4), side(len(names), 0.5, 3.5)))
    ax.imshow(drawn, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    if len(columns) <= CELL_NUMBERS:
        for (i, j), value in np.ndenumerate(drawn):
            color = "white" if value > 0.5 else "black"
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color=color)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    return to_png(fig)


def tune_path(stages: Sequence[Mapping]) -> str:
    """The search's path (results/tune/<parameter>.json, in stage order): the validation figure against each
    stage's parameter, mean over seeds with their sd as error bars, the value chosen ringed."""
    fig, axes = plt.subplots(
        1, len(stages), figsize=(4.2 * len(stages), 3.2), squeeze=False, sharey=True, constrained_layout=True
    )
    for ax, stage in zip(axes[0], stages, strict=True):
        points = sorted(stage["points"], key=lambda p: p["value"])
        x = [p["value"] for p in points]
        ax.errorbar(x, [p["mean"] for p in points], yerr=[p["sd"] or 0 for p in points], marker="o", capsize=3)
        best = next(p for p in points if p["value"] == stage["chosen"])
        ax.plot([best["value"]], [best["mean"]], "o", ms=14, mfc="none", mec="crimson")
        for p in points:
            if p.get("preset"):  # a configured preset's runs: the point under both names
                ax.annotate(p["preset"], (p["value"], p["mean"]), textcoords="offset points", xytext=(4, 6), fontsize=8)
        fixed = ", ".join(f"{k} {v:g}" for k, v in stage["fixed"].items())
        ax.set_title(f"{stage['parameter']} (at {fixed}): chose {stage['chosen']:g}", fontsize=9)
        ax.set_xlabel(stage["parameter"])
    axes[0][0].set_ylabel(f"validation {stages[0]['metric']}")
    return to_png(fig)


def reliability_diagram(calibration: Mapping, title: str) -> str:
    """Accuracy against mean confidence per confidence bin on test, before and after calibration (a point's
    area grows with its rows); the diagonal is perfect calibration."""
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    test = calibration["test"]
    for key, words in (("reliability_before", "raw"), ("reliability_after", "calibrated")):
        bins = test[key]
        ece = test["ece_before" if key.endswith("before") else "ece_after"]
        sizes = [20 + 200 * b["rows"] / max(test["rows"], 1) for b in bins]
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker=None, linewidth=1)
        ax.scatter(
            [b["confidence"] for b in bins], [b["accuracy"] for b in bins], s=sizes, label=f"{words} (ECE {ece:.3f})"
        )
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="confidence (test, binned)", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(f"{title}: T = {calibration['temperature']:.2f}", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return to_png(fig)


def coverage_accuracy(calibration: Mapping, title: str) -> str:
    """Accuracy of the rows labelled automatically against their share, as the threshold on the calibrated
    confidence falls, on validation and test; the review threshold's point on each when one is set."""
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    review = calibration["review"]
    for split in ("val", "test"):
        curve = calibration[split]["coverage"]
        line = ax.plot(curve["coverage"], curve["accuracy"], label=f"{split}")[0]
        point = review and review[split]
        if point and point["precision"] is not None:  # none when nothing is labelled automatically
            coverage = point["coverage"] if split == "val" else 1 - point["share_review"]
            ax.scatter([coverage], [point["precision"]], color=line.get_color(), s=60, zorder=3)
    if review and "precision" in review["target"]:
        ax.axhline(review["target"]["precision"], color="grey", linestyle=":", linewidth=1, label="target precision")
    ax.set(xlabel="share of rows labelled automatically", ylabel="accuracy of those rows", xlim=(0, 1.02))
    ax.set_title(title + (": dots at the threshold chosen on val" if review else ""), fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    return to_png(fig)
