"""Calibration and the review queue: a temperature fitted on validation, a threshold chosen there, test untouched."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from focalcls.core.metrics import expected_calibration_error
from focalcls.core.spreadsheets import read_table
from focalcls.evaluate.calibration import calibrate_run, fit_temperature, scaled
from focalcls.evaluate.review import choose_threshold, needs_review
from helpers import section

LABELS = ["a", "b", "c", "d"]


def overconfident(rows: int, temperature: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose true labels are drawn from softmax(z), reported by a model as softmax(z * temperature):
    scores too sharp by exactly `temperature`, which fitting should find."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (rows, len(LABELS))) + np.array([1.0, 0.5, 0.0, -0.5])
    truth = np.array([rng.choice(len(LABELS), p=p) for p in softmax(z, axis=1)])
    return softmax(z * temperature, axis=1), truth


def table(probs: np.ndarray, truth: np.ndarray) -> pd.DataFrame:
    """A predictions file as evaluate writes it (read back as strings, as read_table reads it)."""
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(len(truth))], "true_label": [LABELS[i] for i in truth]})
    frame["predicted_label"] = [LABELS[i] for i in probs.argmax(axis=1)]
    frame["confidence"] = probs.max(axis=1)
    for i, label in enumerate(LABELS):
        frame[f"p_{label}"] = probs[:, i]
    return frame.astype(str)


@pytest.mark.parametrize("temperature", [0.5, 2.5])
def test_fitting_recovers_a_known_temperature_and_changes_no_prediction(temperature):
    probs, truth = overconfident(20000, temperature, seed=1)
    found = fit_temperature(probs, truth)
    assert found == pytest.approx(temperature, rel=0.05)
    calibrated = scaled(probs, found)
    assert (calibrated.argmax(axis=1) == probs.argmax(axis=1)).all()
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)


def test_the_temperature_fitted_on_validation_lowers_the_test_ece():
    val, test = overconfident(3000, 3.0, seed=2), overconfident(3000, 3.0, seed=3)
    record, _ = calibrate_run({"val": table(*val), "test": table(*test)}, LABELS, None)
    assert record["temperature"] == pytest.approx(3.0, rel=0.15)
    assert record["test"]["ece_before"] == pytest.approx(expected_calibration_error(test[1], test[0]))
    assert record["test"]["ece_after"] < record["test"]["ece_before"] / 3
    assert record["review"] is None


def test_the_review_threshold_is_chosen_on_validation_only():
    val, test = overconfident(2000, 2.0, seed=4), overconfident(2000, 2.0, seed=5)
    target = {"precision": 0.9}
    first, tables = calibrate_run({"val": table(*val), "test": table(*test)}, LABELS, target)
    # Other test rows (and labels): the temperature and threshold stay; only the test figures move.
    other = overconfident(500, 0.7, seed=6)
    second, _ = calibrate_run({"val": table(*val), "test": table(*other)}, LABELS, target)
    assert second["temperature"] == first["temperature"]
    assert second["review"]["threshold"] == first["review"]["threshold"]
    assert second["review"]["test"] != first["review"]["test"]
    # Other validation rows move it: the check above could fail.
    moved, _ = calibrate_run({"val": table(*overconfident(2000, 1.0, seed=7)), "test": table(*test)}, LABELS, target)
    assert moved["review"]["threshold"] != first["review"]["threshold"]
    # On validation the target holds for the rows labelled automatically, and needs_review marks the rest.
    assert first["review"]["val"]["precision"] >= 0.9 and first["review"]["reached"]
    written = tables["test"]
    calibrated = written["calibrated_confidence"].to_numpy(dtype=float)
    assert (written["needs_review"] == (calibrated < first["review"]["threshold"])).all()
    assert first["review"]["test"]["share_review"] == pytest.approx(written["needs_review"].mean())
    assert (written["p_a"] == table(*test)["p_a"]).all()  # the raw probabilities stay where they were


def test_the_most_rows_that_reach_the_precision_are_labelled_automatically():
    confidence = np.array([0.99, 0.95, 0.9, 0.9, 0.8, 0.7, 0.6])
    correct = np.array([1, 1, 1, 0, 1, 0, 0], dtype=bool)
    chosen = choose_threshold(confidence, correct, {"precision": 0.8})
    # Top 5 rows: 4 of 5 right. Rows of equal confidence are never split: 0.9 keeps both or neither.
    assert chosen["threshold"] == 0.8 and chosen["automatic"] == 5 and chosen["precision"] == 0.8
    assert choose_threshold(confidence, correct, {"precision": 0.9})["automatic"] == 2
    assert choose_threshold(confidence, correct, {"share": 0.3})["automatic"] == 5  # at most 2 of 7 sent
    assert choose_threshold(confidence, correct, {"share": 0.0})["automatic"] == 7


def test_a_precision_no_threshold_reaches_says_so_and_what_can_be():
    confidence = np.array([0.9, 0.8, 0.7, 0.6])
    correct = np.array([0, 1, 1, 0], dtype=bool)
    chosen = choose_threshold(confidence, correct, {"precision": 0.9})
    assert not chosen["reached"] and chosen["threshold"] is None
    assert chosen["best"] == {"precision": pytest.approx(2 / 3), "coverage": 0.75, "rows": 3}
    assert needs_review(confidence, None).all()
    val = (softmax(np.array([[3.0, 0, 0, 0], [0, 3.0, 0, 0]]), axis=1), np.array([1, 0]))
    record, _ = calibrate_run({"val": table(*val), "test": table(*val)}, LABELS, {"precision": 0.95})
    assert "no threshold reaches on validation" in record["review"]["message"]
    assert "predict.review.precision" in record["review"]["message"]


@pytest.mark.slow
def test_calibrate_script_writes_the_calibrated_files(stages):
    """The stages fixture ran the calibrate rule on the preset's predictions, with review share 0.25."""
    folder = stages / "p/balanced/eval"
    record = json.loads((folder / "calibrated/calibration.json").read_text())
    written, raw = read_table(folder / "calibrated/predictions.xlsx"), read_table(folder / "predictions.xlsx")
    assert record["temperature"] > 0 and record["review"]["val"]["coverage"] >= 0.75
    assert list(written.columns[: len(raw.columns)]) == list(raw.columns)
    assert (written["predicted_label"] == raw["predicted_label"]).all()
    assert {"calibrated_confidence", "needs_review"} <= set(written.columns)
    assert section("predict")["review"] is None  # off unless asked for
