"""Classification metrics for imbalanced data, from true ids and class probabilities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

ECE_BINS = 15
CURVE_POINTS = 200


def minority_labels(labels: Sequence[str], train_counts: Mapping[str, int]) -> list[str]:
    """The rarest third of the classes by training count (rounded, at least one), ties by label order."""
    k = max(1, round(len(labels) / 3))
    order = sorted(range(len(labels)), key=lambda i: (train_counts.get(labels[i], 0), i))
    return [labels[i] for i in order[:k]]


def f1_summary(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str], train_counts: Mapping[str, int]) -> dict:
    """Per-class precision, recall and F1, and the F1 averages both the training log (validation) and the
    report quote, so the two can never disagree on the same predictions."""
    ids = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0)
    # Averages run over the classes this split holds: a class kept in train only (split.small_classes)
    # would otherwise count as F1 = 0 everywhere. The minority classes are the rarest third of those, so
    # a rare class missing from the split never drags the minority average to 0 either.
    present = [i for i in ids if support[i] > 0]
    minority = minority_labels([labels[i] for i in present], train_counts)
    per_class = {
        label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for label, p, r, f, s in zip(labels, precision, recall, f1, support)
    }
    return {
        "macro_f1": float(np.mean(f1[present])),
        "minority_f1": float(np.mean([per_class[x]["f1"] for x in minority])),
        "minority_labels": minority,
        "absent_labels": [labels[i] for i in ids if support[i] == 0],
        "f1_std": float(np.std(f1[present])),
        "per_class": per_class,
    }


def classification_metrics(
    y_true: np.ndarray, probs: np.ndarray, labels: Sequence[str], train_counts: Mapping[str, int]
) -> dict:
    """Every figure the report compares; `probs` is (n, classes), rows summing to one."""
    ids = list(range(len(labels)))
    y_pred = probs.argmax(axis=1)
    f1 = f1_summary(y_true, y_pred, labels, train_counts)
    present = [i for i in ids if f1["per_class"][labels[i]]["support"] > 0]
    confidence = probs.max(axis=1)
    hard = np.argsort(confidence, kind="stable")[: max(1, len(confidence) // 4)]
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": f1["macro_f1"],
        "weighted_f1": float(f1_score(y_true, y_pred, labels=ids, average="weighted", zero_division=0)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "minority_f1": f1["minority_f1"],
        "minority_labels": f1["minority_labels"],
        "absent_labels": f1["absent_labels"],
        "f1_std": f1["f1_std"],
        "hard_sample_accuracy": float((y_pred[hard] == y_true[hard]).mean()),
        "ece": expected_calibration_error(y_true, probs),
        "pr_auc_macro": float(
            np.mean([average_precision_score(y_true == i, probs[:, i]) for i in present]) if present else 0.0
        ),
        "per_class": f1["per_class"],
    }


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, bins: int = ECE_BINS) -> float:
    """The rows' share-weighted gap between confidence and accuracy over equal-width confidence bins."""
    n = len(y_true)
    return float(sum(rows / n * abs(acc - conf) for conf, acc, rows in calibration_bins(y_true, probs, bins)))


def calibration_bins(y_true: np.ndarray, probs: np.ndarray, bins: int = ECE_BINS) -> list[tuple[float, float, int]]:
    """(mean confidence, accuracy, rows) of each non-empty equal-width bin of the top-class confidence: what
    the expected calibration error sums and what a reliability diagram draws."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    found = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            found.append((float(confidence[mask].mean()), float(correct[mask].mean()), int(mask.sum())))
    return found


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> np.ndarray:
    return confusion_matrix(y_true, y_pred, labels=list(range(n_labels)))


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


def f1_from_counts(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """F1 of every class from counts alone (fast enough to repeat thousands of times); 0 where a class
    is neither true nor predicted."""
    tp = np.bincount(y_true[y_true == y_pred], minlength=n_classes)
    seen = np.bincount(y_true, minlength=n_classes) + np.bincount(y_pred, minlength=n_classes)
    return np.where(seen > 0, 2 * tp / np.maximum(seen, 1), 0.0)
