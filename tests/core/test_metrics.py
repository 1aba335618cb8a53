import numpy as np
import pytest

from focalcls.core.errors import UserError
from focalcls.core.metrics import best_threshold, classification_metrics, expected_calibration_error, minority_labels
from focalcls.evaluate.binary import binary_test, positive_labels

LABELS = ["a", "b", "c"]


def onehot(ids, n=3, confidence=0.9):
    probs = np.full((len(ids), n), (1 - confidence) / (n - 1))
    probs[np.arange(len(ids)), ids] = confidence
    return probs


def test_minority_is_rarest_third_by_training_count():
    assert minority_labels(LABELS, {"a": 100, "b": 5, "c": 50}) == ["b"]
    assert minority_labels(list("abcdef"), {"a": 6, "b": 5, "c": 4, "d": 3, "e": 2, "f": 1}) == ["f", "e"]


def test_metrics_against_hand_counts():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 0])
    m = classification_metrics(y_true, onehot(y_pred), LABELS, {"a": 10, "b": 5, "c": 1})
    assert m["accuracy"] == pytest.approx(4 / 6)
    # a: p=2/3 r=2/3; b: p=2/3 r=1; c: 0
    assert m["per_class"]["a"]["f1"] == pytest.approx(2 / 3)
    assert m["per_class"]["b"]["f1"] == pytest.approx(0.8)
    assert m["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 3)
    assert m["minority_f1"] == 0.0 and m["minority_labels"] == ["c"]
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert m["n"] == 6


def test_ece_is_zero_when_confidence_matches_accuracy():
    y = np.array([0, 1, 2, 0])
    assert expected_calibration_error(y, onehot(y, confidence=1.0)) == pytest.approx(0.0)
    assert expected_calibration_error(y, onehot([1, 1, 2, 0], confidence=1.0)) == pytest.approx(0.25)


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


def test_a_class_absent_from_test_does_not_count_as_zero_f1():
    y = np.array([0, 0, 1, 1])
    m = classification_metrics(y, onehot(y), LABELS, {"a": 10, "b": 5, "c": 1})
    assert m["macro_f1"] == 1.0 and m["f1_std"] == 0.0
    assert m["absent_labels"] == ["c"] and m["minority_labels"] == ["b"] and m["minority_f1"] == 1.0


def test_ranking_curves_are_thinned_and_mark_the_threshold():
    from focalcls.core.metrics import ranking_curves

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


def test_f1_from_counts_matches_scikit_learn():
    from sklearn.metrics import f1_score

    from focalcls.core.metrics import f1_from_counts

    rng = np.random.default_rng(1)
    truth, pred = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    pred[:150] = truth[:150]
    assert np.allclose(f1_from_counts(truth, pred, 5)[:4], f1_score(truth, pred, labels=range(4), average=None))
    assert f1_from_counts(truth, pred, 5)[4] == 0.0


def test_bootstrap_interval_is_zero_for_the_same_model_and_positive_for_a_clearly_better_one():
    from focalcls.report.differences import f1_difference_intervals

    def interval(a, b, classes):
        return f1_difference_intervals(truth, [a], [b], {"m": classes}, resamples=200)["m"]

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 400)
    noisy = np.where(rng.random(400) < 0.5, truth, rng.integers(0, 3, 400))
    assert interval(noisy, noisy, [0, 1, 2]) == (0.0, 0.0)
    low, high = interval(truth, noisy, [0, 1, 2])
    assert 0 < low < high <= 1
    low, high = interval(noisy, truth, [2])
    assert low < high < 0
