"""Classification metrics for imbalanced data, from true ids and class probabilities.

Counted with numpy alone: every training, evaluation, calibration and report job computes these, and
importing scikit-learn's metrics costs about a second of each job's start (they agree with scikit-learn's
to within 1e-12; tests/core/test_metrics.py checks). The binary test's curves stay with scikit-learn, in
focalcls/evaluate/ranking.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

ECE_BINS = 15


def minority_labels(labels: Sequence[str], train_counts: Mapping[str, int]) -> list[str]:
    """The rarest third of the classes by training count (rounded, at least one), ties by label order."""
    k = max(1, round(len(labels) / 3))
    order = sorted(range(len(labels)), key=lambda i: (train_counts.get(labels[i], 0), i))
    return [labels[i] for i in order[:k]]


def f1_summary(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str], train_counts: Mapping[str, int]) -> dict:
    """Per-class precision, recall and F1, and the F1 averages both the training log (validation) and the
    report quote, so the two can never disagree on the same predictions."""
    ids = list(range(len(labels)))
    precision, recall, f1, support = per_class_figures(y_true, y_pred, len(labels))
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
    y_pred = probs.argmax(axis=1)
    f1 = f1_summary(y_true, y_pred, labels, train_counts)
    _, recall, f1s, support = per_class_figures(y_true, y_pred, len(labels))
    present = np.flatnonzero(support)
    confidence = probs.max(axis=1)
    hard = np.argsort(confidence, kind="stable")[: max(1, len(confidence) // 4)]
    return {
        "n": int(len(y_true)),
        "accuracy": float((y_true == y_pred).mean()),
        "macro_f1": f1["macro_f1"],
        "weighted_f1": float(np.average(f1s, weights=support)) if len(present) else 0.0,
        # the mean recall over the classes the split holds, as scikit-learn's balanced accuracy
        "balanced_accuracy": float(recall[present].mean()),
        "minority_f1": f1["minority_f1"],
        "minority_labels": f1["minority_labels"],
        "absent_labels": f1["absent_labels"],
        "f1_std": f1["f1_std"],
        "hard_sample_accuracy": float((y_pred[hard] == y_true[hard]).mean()),
        "ece": expected_calibration_error(y_true, probs),
        "pr_auc_macro": float(
            np.mean([average_precision(y_true == i, probs[:, i]) for i in present]) if len(present) else 0.0
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
    """Rows: true class, columns: predicted class, ids 0 to n_labels - 1."""
    pairs = np.asarray(y_true, dtype=np.int64) * n_labels + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(pairs, minlength=n_labels * n_labels).reshape(n_labels, n_labels)


def per_class_figures(
    y_true: np.ndarray, y_pred: np.ndarray, n_labels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 and support of every class id, 0 where a figure divides by zero."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    hits = np.bincount(y_true[y_true == y_pred], minlength=n_labels)
    support, predicted = np.bincount(y_true, minlength=n_labels), np.bincount(y_pred, minlength=n_labels)
    precision, recall, f1 = (
        np.divide(top, bottom, out=np.zeros(n_labels), where=bottom > 0)
        for top, bottom in ((hits, predicted), (hits, support), (2 * hits, support + predicted))
    )
    return precision, recall, f1, support


def average_precision(positive: np.ndarray, scores: np.ndarray) -> float:
    """The area under the precision-recall step curve, one step per distinct score (tied scores are one
    threshold), as scikit-learn's average_precision_score; `positive` holds at least one True."""
    order = np.argsort(-scores, kind="stable")
    ordered, hits = scores[order], np.asarray(positive, dtype=np.int64)[order]
    ends = np.r_[np.flatnonzero(np.diff(ordered)), len(ordered) - 1]
    true_positives = np.cumsum(hits)[ends]
    precision = true_positives / (ends + 1)
    recall = true_positives / true_positives[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def f1_from_counts(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """F1 of every class from counts alone (fast enough to repeat thousands of times); 0 where a class
    is neither true nor predicted."""
    return per_class_figures(y_true, y_pred, n_classes)[2]
