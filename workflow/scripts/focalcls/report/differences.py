"""How sure a difference in F1 between two models is: 95% intervals that account for the size of the test
split and, when the models were trained with several seeds, for the spread between training seeds.

One seed each: the paired percentile bootstrap (test rows resampled with replacement, both models scored
on the same resample). Several seeds: the models are paired seed by seed (the same seed gives both the
same initialisation draws and data order), and two variances add up: that of the mean paired difference
over resampled test rows, and the seeds' own share of the spread of the paired differences, divided by
their number. The spread of the differences between seeds on one test split also holds the row noise
that differs from seed to seed, which the bootstrap of the mean already counts; that part, measured on
the same resamples, is taken out once so it is not counted twice. The interval is mean +- t * sqrt(sum),
with Welch-Satterthwaite degrees of freedom: close to the normal quantile when the test rows dominate,
up to the t of (seeds - 1) degrees of freedom when the seeds do, so two or three seeds that disagree
give a wide interval rather than a confident one."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy import stats

from focalcls.core.metrics import f1_from_counts

BOOTSTRAP_RESAMPLES = 2000
Interval = tuple[float, float]


def f1_difference_intervals(
    y_true: np.ndarray,
    preds_a: Sequence[np.ndarray],
    preds_b: Sequence[np.ndarray],
    class_sets: Mapping[str, Sequence[int]],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> dict[str, Interval]:
    """{name: 95% interval of mean F1 over class_sets[name] of a minus that of b}. preds_a, preds_b: one
    array of predicted ids per training seed, in the same seed order (a model with one, such as a baseline,
    is set against every seed of the other)."""
    pairs = seed_pairs(preds_a, preds_b)
    resampled = resampled_differences(y_true, pairs, class_sets, resamples, seed)
    if len(pairs) == 1:
        return {name: percentile_interval(values[:, 0]) for name, values in resampled.items()}
    whole = {name: mean_differences(y_true, pairs, classes) for name, classes in class_sets.items()}
    return {name: seed_and_row_interval(whole[name], resampled[name]) for name in class_sets}


def seed_pairs(preds_a: Sequence[np.ndarray], preds_b: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    if len(preds_a) == len(preds_b):
        return list(zip(preds_a, preds_b, strict=True))
    if len(preds_b) == 1:
        return [(a, preds_b[0]) for a in preds_a]
    if len(preds_a) == 1:
        return [(preds_a[0], b) for b in preds_b]
    raise ValueError(f"{len(preds_a)} and {len(preds_b)} seeds cannot be paired")


def mean_differences(y_true: np.ndarray, pairs, classes: Sequence[int]) -> np.ndarray:
    """Per pair (seed), mean F1 over `classes` of a minus that of b, on the whole test split."""
    n_classes = class_count(y_true, pairs)
    classes = list(classes)
    return np.array(
        [
            f1_from_counts(y_true, a, n_classes)[classes].mean() - f1_from_counts(y_true, b, n_classes)[classes].mean()
            for a, b in pairs
        ]
    )


def resampled_differences(
    y_true: np.ndarray, pairs, class_sets: Mapping[str, Sequence[int]], resamples: int, seed: int
) -> dict[str, np.ndarray]:
    """{name: array (resamples, pairs)}: each pair's difference on each resample of the test rows, the same
    rows for every pair."""
    rng = np.random.default_rng(seed)
    n_classes = class_count(y_true, pairs)
    sets = {name: list(classes) for name, classes in class_sets.items()}
    out = {name: np.empty((resamples, len(pairs))) for name in sets}
    for r in range(resamples):
        rows = rng.integers(0, len(y_true), len(y_true))
        truth = y_true[rows]
        for p, (a, b) in enumerate(pairs):
            gap = f1_from_counts(truth, a[rows], n_classes) - f1_from_counts(truth, b[rows], n_classes)
            for name, classes in sets.items():
                out[name][r, p] = gap[classes].mean()
    return out


def percentile_interval(values: np.ndarray) -> Interval:
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def seed_and_row_interval(per_seed: np.ndarray, resampled: np.ndarray) -> Interval:
    """mean(per_seed) +- t * sqrt(row variance + seed variance / seeds), Welch-Satterthwaite degrees of
    freedom. per_seed: each pair's difference on the whole split; resampled: (resamples, pairs)."""
    seeds, centre = len(per_seed), float(np.mean(per_seed))
    rows_var = float(np.var(resampled.mean(axis=1), ddof=1))
    # The row noise each pair's difference carries apart from the others': its spread about the resample's
    # mean over pairs, scaled back from (seeds - 1) / seeds of a pair's own variance.
    apart = resampled - resampled.mean(axis=1, keepdims=True)
    row_noise_per_pair = float(np.var(apart, axis=0, ddof=1).mean()) * seeds / (seeds - 1)
    seeds_var = max(0.0, float(np.var(per_seed, ddof=1)) - row_noise_per_pair) / seeds
    total = rows_var + seeds_var
    if total == 0:
        return centre, centre
    dof = math.inf if seeds_var == 0 else total**2 * (seeds - 1) / seeds_var**2
    half = float(stats.t.ppf(0.975, dof)) * math.sqrt(total)
    return centre - half, centre + half


def class_count(y_true: np.ndarray, pairs) -> int:
    return int(max(y_true.max(), *(max(a.max(), b.max()) for a, b in pairs))) + 1


def statistic_intervals(
    per_seed: Sequence[Sequence[np.ndarray]],
    statistic: Callable[..., np.ndarray],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[np.ndarray, list[Interval | None]]:
    """One model's figures, their mean over training seeds and its 95% interval, as the differences above:
    `per_seed` holds, for each seed, the arrays `statistic` takes, one value per test row (the same rows for
    every seed); statistic(*arrays) returns the figures (NaN where one is undefined, as the recall of a class
    with no rows). Returns the means over seeds and one interval per figure, None where no resample defines it."""
    rows = len(per_seed[0][0])
    whole = np.array([statistic(*arrays) for arrays in per_seed])
    rng = np.random.default_rng(seed)
    resampled = np.empty((resamples, len(per_seed), whole.shape[1]))
    for r in range(resamples):
        picked = rng.integers(0, rows, rows)
        for s, arrays in enumerate(per_seed):
            resampled[r, s] = statistic(*(a[picked] for a in arrays))
    intervals = [interval_over_seeds(whole[:, k], resampled[:, :, k]) for k in range(whole.shape[1])]
    return whole.mean(axis=0), intervals


def interval_over_seeds(per_seed: np.ndarray, resampled: np.ndarray) -> Interval | None:
    """The percentile interval for one seed, else seed_and_row_interval; resamples where the figure is undefined
    for some seed are left out (a rare class drawn with no rows), and a figure undefined on the whole split
    has none."""
    defined = ~np.isnan(resampled).any(axis=1)
    if np.isnan(per_seed).any() or defined.sum() < 2:
        return None
    if resampled.shape[1] == 1:
        return percentile_interval(resampled[defined, 0])
    return seed_and_row_interval(per_seed, resampled[defined])
