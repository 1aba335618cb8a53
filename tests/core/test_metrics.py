import contextlib

import numpy as np
import pytest

from focalcls.core.metrics import classification_metrics, expected_calibration_error, minority_labels

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


def test_a_class_absent_from_test_does_not_count_as_zero_f1():
    y = np.array([0, 0, 1, 1])
    m = classification_metrics(y, onehot(y), LABELS, {"a": 10, "b": 5, "c": 1})
    assert m["macro_f1"] == 1.0 and m["f1_std"] == 0.0
    assert m["absent_labels"] == ["c"] and m["minority_labels"] == ["b"] and m["minority_f1"] == 1.0


@pytest.mark.parametrize("seed", range(5))
def test_every_figure_equals_scikit_learns_on_random_predictions_with_ties_and_absent_classes(seed):
    """The numpy counts against scikit-learn's own functions: 6 labels, one never true and never predicted,
    one predicted but never true, confidences rounded so that many rows tie."""
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        balanced_accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    from focalcls.core.metrics import confusion

    rng = np.random.default_rng(seed)
    labels = list("abcdef")
    truth = rng.choice([0, 1, 2, 3], size=200, p=[0.6, 0.25, 0.1, 0.05])
    probs = np.round(rng.dirichlet(np.ones(6), size=200), 1) + 1e-3  # many tied scores per class
    probs[:120, :] *= 0.1
    probs[np.arange(120), truth[:120]] = 1.0  # most rows right, so the figures are not all near zero
    probs[:, 5] = 0.0  # f: never predicted (and never true)
    probs /= probs.sum(axis=1, keepdims=True)
    pred, ids = probs.argmax(axis=1), list(range(6))
    m = classification_metrics(truth, probs, labels, {x: 50 - i for i, x in enumerate(labels)})
    precision, recall, f1, support = precision_recall_fscore_support(truth, pred, labels=ids, zero_division=0)
    for i, label in enumerate(labels):
        assert m["per_class"][label] == pytest.approx(
            {"precision": precision[i], "recall": recall[i], "f1": f1[i], "support": support[i]}, abs=1e-12
        )
    assert m["accuracy"] == pytest.approx(accuracy_score(truth, pred), abs=1e-12)
    weighted = f1_score(truth, pred, labels=ids, average="weighted", zero_division=0)
    assert m["weighted_f1"] == pytest.approx(weighted, abs=1e-12)
    with pytest.warns(UserWarning) if set(pred) - set(truth) else contextlib.nullcontext():
        balanced = balanced_accuracy_score(truth, pred)
    assert m["balanced_accuracy"] == pytest.approx(balanced, abs=1e-12)
    present = sorted(set(truth))
    ap = np.mean([average_precision_score(truth == i, probs[:, i]) for i in present])
    assert m["pr_auc_macro"] == pytest.approx(ap, abs=1e-12)
    assert (confusion(truth, pred, 6) == confusion_matrix(truth, pred, labels=ids)).all()


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
