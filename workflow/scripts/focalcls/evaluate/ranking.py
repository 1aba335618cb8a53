"""Figures of one positive class scored against the rest: the F1-best threshold, precision and recall at a
threshold, the areas under the ROC and precision-recall curves and the curves themselves (scikit-learn's,
imported by the binary test alone: focalcls/core/metrics.py keeps every other job free of it)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

CURVE_POINTS = 200


def best_threshold(y_true: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold that maximises F1 of the positive class (chosen on validation data)."""
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    return float(thresholds[int(np.argmax(f1[:-1]))]) if len(thresholds) else 0.5


def binary_metrics(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    y_pred = scores >= threshold
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="binary", zero_division=0)
    return {"threshold": float(threshold), "precision": float(p), "recall": float(r), "f1": float(f)}


def ranking_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict:
    both = 0 < y_true.sum() < len(y_true)
    return {
        "roc_auc": float(roc_auc_score(y_true, scores)) if both else None,
        "pr_auc": float(average_precision_score(y_true, scores)) if both else None,
        "positives": int(y_true.sum()),
        "n": int(len(y_true)),
    }


def ranking_curves(y_true: np.ndarray, scores: np.ndarray, threshold: float, points: int = CURVE_POINTS) -> dict | None:
    """ROC and precision-recall curves, thinned to about `points` each so a large test split keeps its
    metrics file small, and where the chosen threshold sits on both; None when one class is missing."""
    if not 0 < y_true.sum() < len(y_true):
        return None
    fpr, tpr, _ = roc_curve(y_true, scores)
    precision, recall, _ = precision_recall_curve(y_true, scores)
    predicted = scores >= threshold
    negatives = len(y_true) - y_true.sum()
    return {
        "roc": {"fpr": _thin(fpr, points), "tpr": _thin(tpr, points)},
        "pr": {"recall": _thin(recall, points), "precision": _thin(precision, points)},
        "at_threshold": {
            "fpr": float((predicted & (y_true == 0)).sum() / negatives),
            "tpr": float((predicted & (y_true == 1)).sum() / y_true.sum()),
        },
    }


def _thin(values: np.ndarray, points: int) -> list[float]:
    """Evenly spaced indices, first and last always kept, so both ends of the curve stay exact."""
    keep = np.unique(np.linspace(0, len(values) - 1, min(points, len(values))).round().astype(int))
    return [round(float(v), 5) for v in values[keep]]
