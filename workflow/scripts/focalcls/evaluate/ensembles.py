"""Ensembles made of stored predictions, with no training: a preset's seeds averaged, and a run blended with
TF-IDF at a weight chosen on validation.

Both are one operation, a weighted mean of log-probabilities, renormalised (softmax(sum w_i log p_i)). For the
seeds, equal weights: the geometric mean of the seeds' probabilities, the operation the blend needs anyway, so
the ensemble stage and predict share one function. It is more confident than the plain mean of probabilities
where the seeds agree; the calibrate stage fits the ensemble's own temperature on validation, which corrects
that, and the argmax of the two means rarely differs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

import numpy as np
import pandas as pd
from scipy.special import log_softmax

from focalcls.core.errors import UserError
from focalcls.core.metrics import classification_metrics
from focalcls.core.spreadsheets import read_table
from focalcls.data.cleaning import TEXT
from focalcls.evaluate.calibration import log_probs, probabilities

# A model's stored predictions of each split, by the kind of file that holds them (focalcls.config.runs).
SPLIT_FILES = {"val": "val_predictions", "test": "predictions"}


def log_mean(probs: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """softmax(sum of weight * log p) over the models' (rows, classes) probabilities; a probability stored as
    0 (a class TF-IDF never saw in training) is floored, so it only pulls its class down."""
    z = sum(w * log_probs(p) for w, p in zip(weights, probs, strict=True))
    return np.exp(log_softmax(z, axis=1))


def seed_average(probs: Sequence[np.ndarray]) -> np.ndarray:
    """The seeds' probabilities combined with equal weights; one run's as they are."""
    return probs[0] if len(probs) == 1 else log_mean(probs, [1 / len(probs)] * len(probs))


def blend(llm: np.ndarray, tfidf: np.ndarray, weight: float) -> np.ndarray:
    """log p = weight * log p_llm + (1 - weight) * log p_tfidf, renormalised; weight 1 is the LLM alone."""
    return llm if weight == 1 else log_mean([llm, tfidf], [weight, 1 - weight])


def choose_weight(
    llm: np.ndarray, tfidf: np.ndarray, weights: Sequence[float], score: Callable[[np.ndarray], float]
) -> tuple[float, dict[float, float]]:
    """The weight of `weights` (1, the LLM alone, always among them) whose blend `score`s best, the larger weight
    on a tie, and every weight's score. The rows, and what `score` compares them with, must be validation's."""
    grid = sorted({1.0, *map(float, weights)}, reverse=True)
    scores = {w: score(blend(llm, tfidf, w)) for w in grid}
    return max(grid, key=scores.__getitem__), scores  # max keeps the first of equals: the largest weight


def halves(truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two halves of the rows, each class's rows dealt alternately (in their order): deterministic, and each
    half holds about half of every class, the rare ones included."""
    rank = np.empty(len(truth), dtype=int)
    for label in np.unique(truth):
        where = np.flatnonzero(truth == label)
        rank[where] = np.arange(len(where))
    first = rank % 2 == 0
    return np.flatnonzero(first), np.flatnonzero(~first)


def cross_fitted(
    llm: np.ndarray,
    tfidf: np.ndarray,
    truth: np.ndarray,
    weights: Sequence[float],
    score: Callable[[np.ndarray, np.ndarray], float],
) -> tuple[np.ndarray, list[float]]:
    """The blend's validation probabilities out of fold: each half blended at the weight chosen on the other
    half, and those two weights. A weight chosen and scored on the same rows can only tie or beat the LLM alone
    (weight 1 is in the grid), so a blend would win the choice of a model on noise; scored out of fold, it
    wins only where the weight carries over to rows it was not chosen on."""
    out, chosen = np.empty_like(llm), []
    a, b = halves(truth)
    for fit, held in ((a, b), (b, a)):
        weight, _ = choose_weight(llm[fit], tfidf[fit], weights, partial(score, truth[fit]))
        out[held] = blend(llm[held], tfidf[held], weight)
        chosen.append(weight)
    return out, chosen


def combine(
    members: Sequence[Mapping[str, np.ndarray]], tfidf: Mapping[str, np.ndarray] | None, weight: float | None
) -> dict[str, np.ndarray]:
    """Each split's ensemble probabilities: the members' ({split: probs} each, one per seed) averaged, then
    blended with `tfidf` ({split: probs}) at `weight` when given; what predict repeats on new rows."""
    splits = members[0].keys()
    averaged = {split: seed_average([m[split] for m in members]) for split in splits}
    if tfidf is None:
        return averaged
    return {split: blend(averaged[split], tfidf[split], weight) for split in splits}


def ensemble_on_splits(
    members: Sequence[Mapping[str, np.ndarray]],
    tfidf: Mapping[str, np.ndarray] | None,
    val_truth: np.ndarray,
    labels: Sequence[str],
    train_counts: Mapping[str, int],
    weights: Sequence[float],
    metric: str,
) -> tuple[dict[str, np.ndarray], dict]:
    """The ensemble's val and test probabilities and what was chosen: with `tfidf`, the weight, from the
    validation rows alone ({"weight": w, "metric", "val_scores", "half_weights"}), test blended at it and
    validation's own rows blended out of fold (cross_fitted), so that the blend's validation figures can be set
    against the presets' as fairly as theirs against each other; without, {"weight": None}."""
    if tfidf is None:
        return combine(members, None, None), {"weight": None}
    llm_val = seed_average([m["val"] for m in members])

    def score(truth: np.ndarray, probs: np.ndarray) -> float:
        return classification_metrics(truth, probs, labels, train_counts)[metric]

    weight, scores = choose_weight(llm_val, tfidf["val"], weights, partial(score, val_truth))
    probs = combine(members, tfidf, weight)
    probs["val"], half_weights = cross_fitted(llm_val, tfidf["val"], val_truth, weights, score)
    record = {"weight": weight, "metric": metric, "val_scores": {f"{w:g}": s for w, s in scores.items()}}
    return probs, {**record, "half_weights": half_weights}


def stored_probs(
    files: Mapping[str, str], frames: Mapping[str, pd.DataFrame], labels: Sequence[str]
) -> dict[str, np.ndarray]:
    """{split: probabilities} from a model's val_predictions and predictions files, each checked to hold the
    split's rows in their order: an ensemble adds up rows by position."""
    found = {}
    for split, kind in SPLIT_FILES.items():
        table = read_table(files[kind])
        if list(table[TEXT].astype(str)) != list(frames[split][TEXT].astype(str)):
            raise UserError(f"{files[kind]}: its rows are not the {split} split's; rerun the stage that wrote it")
        found[split] = probabilities(table, labels)
    return found
