"""Report figures, drawn with matplotlib's Agg backend and returned as base64 PNG for embedding."""

from __future__ import annotations

import base64
import io
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# Chinese labels render with whatever CJK font is installed; the fallback list keeps ASCII working.
plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "WenQuanYi Zen Hei", "DejaVu Sans"]


def to_png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def class_counts(counts: Mapping[str, Mapping[str, int]], labels: Sequence[str]) -> str:
    """Grouped bars per split; log scale once the largest class is 10x the smallest."""
    fig, ax = plt.subplots(figsize=(max(6, len(labels) * 0.7), 3.2))
    names = list(counts)
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(labels))
    for i, name in enumerate(names):
        ax.bar(x + i * width, [counts[name].get(label, 0) for label in labels], width, label=name)
    values = [v for c in counts.values() for v in c.values() if v > 0]
    if values and max(values) / min(values) >= 10:
        ax.set_yscale("log")
    ax.set_xticks(x + width * (len(names) - 1) / 2, labels, rotation=45, ha="right")
    ax.set_ylabel("rows")
    ax.legend(fontsize=8)
    return to_png(fig)


def per_class_f1(f1: Mapping[str, Mapping[str, float]], labels: Sequence[str]) -> str:
    """`f1[model][label]`; labels arrive ordered by training count so the tail sits on the right."""
    fig, ax = plt.subplots(figsize=(max(7, len(labels) * 0.9), 3.4))
    width = 0.8 / max(len(f1), 1)
    x = np.arange(len(labels))
    for i, (name, scores) in enumerate(f1.items()):
        ax.bar(x + i * width, [scores.get(label, 0.0) for label in labels], width, label=name)
    ax.set_xticks(x + width * (len(f1) - 1) / 2, labels, rotation=45, ha="right")
    ax.set_ylabel("F1 (test)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, ncol=min(len(f1), 4))
    return to_png(fig)


def training_curves(logs: Mapping[str, pd.DataFrame], best_steps: Mapping[str, int | None]) -> str:
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
    for name, frame in logs.items():
        for ax, column in zip(axes, ("train_loss", "val_loss", "val_macro_f1")):
            rows = frame.dropna(subset=[column])
            line = ax.plot(rows["step"], rows[column], marker="." if column != "train_loss" else None, label=name)[0]
            best = best_steps.get(name)
            if column == "val_macro_f1" and best is not None:
                at = rows[rows["step"] == best]
                ax.scatter(at["step"], at[column], color=line.get_color(), s=60, marker="*", zorder=3)
    for ax, title in zip(axes, ("train loss", "validation loss", "validation macro-F1 (* = kept)")):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
    axes[0].legend(fontsize=8)
    return to_png(fig)


def confusion_matrix(matrix: pd.DataFrame, title: str) -> str:
    values = matrix.to_numpy(dtype=float)
    normalised = values / np.maximum(values.sum(axis=1, keepdims=True), 1)
    n = len(matrix)
    fig, ax = plt.subplots(figsize=(max(4, n * 0.55), max(3.5, n * 0.5)))
    ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), matrix.columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), matrix.index, fontsize=8)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{normalised[i, j]:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if normalised[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    return to_png(fig)
