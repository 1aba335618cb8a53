"""One-vs-rest binary test: positive labels against the rest, threshold chosen on validation only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from focalcls.core.errors import UserError
from focalcls.core.metrics import minority_labels
from focalcls.evaluate.ranking import best_threshold, binary_metrics, ranking_curves, ranking_metrics


def positive_labels(
    positive: Sequence[str] | str | None, labels: Sequence[str], train_counts: Mapping[str, int]
) -> list[str]:
    """The configured positives, or the rarest training class when none are configured."""
    if isinstance(positive, str):
        positive = [positive]
    if not positive:
        return minority_labels(labels, train_counts)[:1]
    unknown = [x for x in positive if x not in labels]
    if unknown:
        raise UserError(f"binary.positive names {unknown}, which are not labels; labels are {list(labels)}")
    if len(set(positive)) == len(labels):
        raise UserError("binary.positive lists every label; leave at least one label for the negative class")
    return list(positive)


def scores_and_truth(predictions: pd.DataFrame, positive: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Score = summed probability of the positive labels; truth from the true_label column."""
    scores = predictions[[f"p_{x}" for x in positive]].astype(float).sum(axis=1).to_numpy()
    truth = predictions["true_label"].isin(positive).to_numpy().astype(int)
    return scores, truth


def binary_test(val: pd.DataFrame, test: pd.DataFrame, positive: Sequence[str], metric: str) -> dict:
    if metric != "f1":
        raise UserError(f"binary.threshold_metric {metric!r} is not supported; use f1")
    val_scores, val_truth = scores_and_truth(val, positive)
    test_scores, test_truth = scores_and_truth(test, positive)
    threshold = best_threshold(val_truth, val_scores) if 0 < val_truth.sum() < len(val_truth) else 0.5
    return {
        "positive": list(positive),
        "threshold_metric": metric,
        **binary_metrics(test_truth, test_scores, threshold),
        "at_0.5": binary_metrics(test_truth, test_scores, 0.5),
        "val_at_threshold": binary_metrics(val_truth, val_scores, threshold),
        **ranking_metrics(test_truth, test_scores),
        "curves": ranking_curves(test_truth, test_scores, threshold),
    }
