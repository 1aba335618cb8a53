"""The binary test: positive labels against the rest, the threshold chosen on validation, and its curves."""

import numpy as np
import pytest

from focalcls.core.errors import UserError
from focalcls.evaluate.binary import binary_test, positive_labels
from focalcls.evaluate.ranking import best_threshold, ranking_curves

LABELS = ["a", "b", "c"]


def test_best_threshold_separates_when_possible():
    y = np.array([0, 0, 1, 1])
    t = best_threshold(y, np.array([0.1, 0.2, 0.7, 0.8]))
    assert 0.2 < t <= 0.7


def test_positive_labels_default_and_errors():
    counts = {"a": 10, "b": 2, "c": 5}
    assert positive_labels(None, LABELS, counts) == ["b"]
    assert positive_labels("c", LABELS, counts) == ["c"]
    with pytest.raises(UserError, match="binary.positive"):
        positive_labels(["z"], LABELS, counts)


def test_binary_threshold_comes_from_validation():
    import pandas as pd

    def table(truth, p):
        return pd.DataFrame({"true_label": truth, "p_a": p, "p_b": [1 - x for x in p]})

    val = table(["a", "a", "b", "b"], [0.9, 0.6, 0.3, 0.2])
    test = table(["a", "b", "b", "a"], [0.7, 0.1, 0.65, 0.95])
    result = binary_test(val, test, ["a"], metric="f1")
    assert result["threshold"] == pytest.approx(0.6)
    assert result["precision"] == pytest.approx(2 / 3) and result["recall"] == 1.0
    assert result["roc_auc"] == pytest.approx(1.0)


def test_ranking_curves_are_thinned_and_mark_the_threshold():
    rng = np.random.default_rng(0)
    truth = (rng.random(5000) < 0.1).astype(int)
    scores = np.clip(truth * 0.3 + rng.random(5000) * 0.7, 0, 1)
    curves = ranking_curves(truth, scores, threshold=0.5, points=50)
    assert len(curves["roc"]["fpr"]) <= 50 and curves["roc"]["fpr"][0] == 0.0 and curves["roc"]["tpr"][-1] == 1.0
    assert len(curves["pr"]["recall"]) == len(curves["pr"]["precision"]) <= 50
    flagged = scores >= 0.5
    assert curves["at_threshold"]["tpr"] == pytest.approx(flagged[truth == 1].mean())
    assert curves["at_threshold"]["fpr"] == pytest.approx(flagged[truth == 0].mean())
    assert ranking_curves(np.zeros(4, dtype=int), np.ones(4), 0.5) is None
