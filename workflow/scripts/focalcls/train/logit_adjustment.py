"""Post-hoc logit adjustment (Menon et al. 2021): predict argmax of log p - tau log prior, tau chosen on validation.

A trained model's probabilities carry the training split's class prior; subtracting tau times its log
moves decisions toward the rare classes with no retraining. tau 0 is the model as trained, so a grid that
holds 0 can only match or beat the unadjusted model on validation; ties go to the smaller tau."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from focalcls.core.metrics import classification_metrics


def log_prior(labels: Sequence[str], train_counts: Mapping[str, int]) -> np.ndarray:
    """log of each class's share of the training split (a class with no rows counts as one)."""
    counts = np.array([max(int(train_counts.get(x, 0)), 1) for x in labels], dtype=float)
    return np.log(counts / counts.sum())


def adjusted_probs(probs: np.ndarray, prior: np.ndarray, tau: float) -> np.ndarray:
    """softmax(log p - tau log prior), rows summing to one: the adjusted model's probabilities."""
    z = np.log(np.clip(probs, 1e-30, None)) - tau * prior
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def choose_tau(
    val_probs: np.ndarray,
    val_truth: np.ndarray,
    labels: Sequence[str],
    train_counts: Mapping[str, int],
    taus: Sequence[float],
    metric: str,
) -> tuple[float, dict[float, float]]:
    """The tau of `taus` (0, the model as trained, always among them) with the best validation `metric`, the
    smallest on a tie; and every tau's score."""
    prior = log_prior(labels, train_counts)
    taus = sorted({0.0, *map(float, taus)})
    scores = {
        float(tau): classification_metrics(val_truth, adjusted_probs(val_probs, prior, tau), labels, train_counts)[
            metric
        ]
        for tau in taus
    }
    best = max(sorted(scores), key=lambda tau: scores[tau])  # max keeps the first of equals: the smallest tau
    return best, scores
