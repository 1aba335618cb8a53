"""Calibrated confidence: one temperature per run, fitted on validation, that changes no prediction.

The workflow stores a model's probabilities (p_<label>), not its logits. For a softmax-form preset
log p = z - logsumexp(z), so softmax(log p / T) = softmax(z / T): a temperature on the stored log-probabilities
is exactly temperature scaling on the logits (Guo et al. 2017). A sigmoid-form preset stores its per-class
sigmoid scores renormalised (losses.class_probabilities), from which the logits cannot be recovered; the same
single parameter on the log of that vector (p ** (1 / T), renormalised) calibrates the distribution the workflow
predicts from and reports, and, like a temperature on logits, never reorders a row's classes. A temperature per
class on the sigmoid logits would calibrate each class's yes/no score instead, not the confidence in the
predicted label that the review queue thresholds. The baselines and the logit-adjusted rows are scaled alike.

T is found by minimising the validation negative log-likelihood over log T with scipy's bounded scalar search."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from focalcls.core.metrics import calibration_bins, expected_calibration_error
from focalcls.evaluate.prediction_table import label_ids
from focalcls.evaluate.review import choose_threshold, coverage_curve, needs_review, unreachable_words

# A temperature beyond these bounds says the scores carry no usable confidence; the search stops there.
LOG_T_BOUNDS = (np.log(1e-2), np.log(1e2))
TRUE_LABEL = "true_label"
CALIBRATED = "calibrated_"  # prefix of the calibrated columns, beside the raw confidence and p_<label>


def log_probs(probs: np.ndarray) -> np.ndarray:
    """log p, with a floor so a probability stored as 0 stays finite."""
    return np.log(np.clip(probs, 1e-30, None))


def scaled(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): the calibrated probabilities; rows of NaN (no prediction) stay NaN."""
    return np.exp(log_softmax(log_probs(probs) / temperature, axis=1))


def nll(probs: np.ndarray, truth: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true classes under the probabilities scaled by `temperature`."""
    logp = log_softmax(log_probs(probs) / temperature, axis=1)
    return float(-logp[np.arange(len(truth)), truth].mean())


def fit_temperature(probs: np.ndarray, truth: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of `truth` (class ids) on these rows."""
    if not len(truth):
        raise ValueError("no rows to fit a temperature on")
    found = minimize_scalar(
        lambda log_t: nll(probs, truth, float(np.exp(log_t))), bounds=LOG_T_BOUNDS, method="bounded"
    )
    return float(np.exp(found.x))


def reliability(truth: np.ndarray, probs: np.ndarray) -> list[dict]:
    """The reliability diagram's points: per confidence bin with rows, their mean confidence and accuracy."""
    return [
        {"confidence": round(conf, 5), "accuracy": round(acc, 5), "rows": rows}
        for conf, acc, rows in calibration_bins(truth, probs)
    ]


def calibrated_columns(labels: Sequence[str]) -> list[str]:
    return [f"{CALIBRATED}confidence", *(f"{CALIBRATED}p_{label}" for label in labels)]


def probabilities(table: pd.DataFrame, labels: Sequence[str], prefix: str = "p_") -> np.ndarray:
    """The (rows, classes) probabilities a predictions file holds; an empty cell (no prediction) is NaN."""
    columns = [f"{prefix}{label}" for label in labels]
    return table[columns].replace("", np.nan).to_numpy(dtype=float)


def with_calibration(
    table: pd.DataFrame, labels: Sequence[str], temperature: float, review: Mapping | None
) -> pd.DataFrame:
    """A predictions table with calibrated_confidence and calibrated_p_<label> appended (the raw columns stay
    as they are) and, when a review target is set, needs_review (review: the calibration's review record)."""
    calibrated = scaled(probabilities(table, labels), temperature)
    table = table.copy()
    for column, values in zip(calibrated_columns(labels), [calibrated.max(axis=1), *calibrated.T], strict=True):
        table[column] = values
    if review is not None:
        table["needs_review"] = needs_review(calibrated.max(axis=1), review["threshold"])
    return table


def review_flags(table: pd.DataFrame) -> np.ndarray:
    """needs_review as written to xlsx and read back as text (TRUE/FALSE, as a spreadsheet shows it)."""
    return table["needs_review"].astype(str).str.upper().eq("TRUE").to_numpy()


def calibrate_run(
    tables: Mapping[str, pd.DataFrame], labels: Sequence[str], target: Mapping | None
) -> tuple[dict, dict[str, pd.DataFrame]]:
    """One run's temperature and review threshold, fitted on tables['val'] (its predictions), and how they
    fare on tables['test']: the record calibration.json holds, and both tables with the calibrated columns."""
    scored = {}
    for split, table in tables.items():
        truth = label_ids(table, labels, TRUE_LABEL, missing=-1)
        known = truth >= 0
        scored[split] = (probabilities(table, labels)[known], truth[known])
    temperature = fit_temperature(*scored["val"])
    record: dict = {"temperature": temperature}
    for split, (probs, truth) in scored.items():
        after = scaled(probs, temperature)
        correct = probs.argmax(axis=1) == truth
        record[split] = {
            "rows": int(len(truth)),
            "nll_before": nll(probs, truth),
            "nll_after": nll(probs, truth, temperature),
            "ece_before": expected_calibration_error(truth, probs),
            "ece_after": expected_calibration_error(truth, after),
            "reliability_before": reliability(truth, probs),
            "reliability_after": reliability(truth, after),
            "coverage": coverage_curve(after.max(axis=1), correct),
        }
    record["review"] = None if target is None else review_record(scored, temperature, target)
    calibrated = {split: with_calibration(t, labels, temperature, record["review"]) for split, t in tables.items()}
    return record, calibrated


def review_record(scored: Mapping[str, tuple[np.ndarray, np.ndarray]], temperature: float, target: Mapping) -> dict:
    """The threshold chosen on validation, and the share sent to a person and precision of the rest on test."""
    confidence, correct = {}, {}
    for split, (probs, truth) in scored.items():
        confidence[split] = scaled(probs, temperature).max(axis=1)
        correct[split] = probs.argmax(axis=1) == truth
    chosen = choose_threshold(confidence["val"], correct["val"], target)
    sent = needs_review(confidence["test"], chosen["threshold"])
    automatic = correct["test"][~sent]
    return {
        "target": dict(target),
        "threshold": chosen["threshold"],
        "reached": chosen["reached"],
        "val": chosen,
        "test": {
            "rows": int(len(sent)),
            "share_review": float(sent.mean()) if len(sent) else 0.0,
            "precision": float(automatic.mean()) if len(automatic) else None,
        },
        "message": None if chosen["reached"] else unreachable_words(target, chosen),
    }
