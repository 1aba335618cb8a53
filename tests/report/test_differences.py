"""The intervals behind every 'better', 'worse' and 'cannot be told apart' the report prints, tested as a
statistic: how often they call a difference where there is none, and whether they see one that is there."""

import math

import numpy as np
import pytest

from focalcls.report.differences import (
    f1_difference_intervals,
    resampled_differences,
    seed_and_row_interval,
    seed_pairs,
    statistic_intervals,
)

CLASSES = {"macro": [0, 1, 2]}


def trained(truth: np.ndarray, skill: float, rng) -> np.ndarray:
    """One training seed's predictions: right with probability `skill`, else a random class."""
    return np.where(rng.random(len(truth)) < skill, truth, rng.integers(0, 3, len(truth)))


def test_seed_spread_alone_sets_the_width_with_the_t_of_seeds_minus_one():
    low, high = seed_and_row_interval(np.array([0.1, 0.2, 0.3]), np.zeros((50, 3)))
    half = 4.302653 * math.sqrt(0.01 / 3)  # t(0.975, 2 dof) * sd / sqrt(3)
    assert (low, high) == pytest.approx((0.2 - half, 0.2 + half), abs=1e-5)


def test_rows_alone_give_the_normal_quantile_and_no_spread_at_all_a_point():
    shared = np.random.default_rng(0).normal(0.05, 0.02, 4000)
    low, high = seed_and_row_interval(np.array([0.05, 0.05, 0.05]), np.repeat(shared[:, None], 3, axis=1))
    assert (high - low) / 2 == pytest.approx(1.96 * shared.std(ddof=1), rel=1e-3)
    assert seed_and_row_interval(np.array([0.0, 0.0]), np.zeros((10, 2))) == (0.0, 0.0)


def test_row_noise_that_differs_between_seeds_is_not_counted_twice():
    """Every seed equally skilled, each wrong on its own rows: the seeds differ only by row noise, which the
    bootstrap of the mean already holds, so the interval stays as wide as the rows make it (counting
    that noise again as seed spread would widen it by about a third, every time)."""
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 3, 300)
    ratios, calls = [], 0
    for i in range(40):
        a = [trained(truth, 0.7, rng) for _ in range(3)]
        b = [trained(truth, 0.7, rng) for _ in range(3)]
        low, high = f1_difference_intervals(truth, a, b, CLASSES, resamples=200, seed=i)["macro"]
        rows = resampled_differences(truth, seed_pairs(a, b), CLASSES, 200, i)["macro"].mean(axis=1)
        ratios.append((high - low) / 2 / (1.96 * rows.std(ddof=1)))
        calls += low > 0 or high < 0
    # the median: with three seeds the estimated seed share is itself noisy, and now and then widens one
    assert np.median(ratios) < 1.1 and calls / 40 <= 0.1


def test_two_presets_of_equal_skill_are_rarely_told_apart_when_seeds_differ_more_than_rows():
    """An A/A test: both presets draw each seed's skill from the same spread. The combined interval must
    call a difference at most about 5% of the time; an interval of the test rows alone calls far more,
    which is why the report adds the seed spread."""
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, 300)
    combined = rows_only = 0
    experiments = 120
    for i in range(experiments):
        a = [trained(truth, rng.uniform(0.45, 0.85), rng) for _ in range(3)]
        b = [trained(truth, rng.uniform(0.45, 0.85), rng) for _ in range(3)]
        low, high = f1_difference_intervals(truth, a, b, CLASSES, resamples=150, seed=i)["macro"]
        combined += low > 0 or high < 0
        low, high = f1_difference_intervals(truth, a[:1], b[:1], CLASSES, resamples=150, seed=i)["macro"]
        rows_only += low > 0 or high < 0
    assert combined / experiments <= 0.1
    assert rows_only / experiments >= 0.3


def test_a_clearly_better_preset_is_told_apart_over_three_seeds():
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 3, 300)
    good = [trained(truth, rng.uniform(0.8, 0.85), rng) for _ in range(3)]
    broken = [trained(truth, 0.0, rng) for _ in range(3)]
    low, high = f1_difference_intervals(truth, good, broken, CLASSES, resamples=300)["macro"]
    assert low > 0.3
    low, high = f1_difference_intervals(truth, broken, good, CLASSES, resamples=300)["macro"]
    assert high < -0.3


def test_a_single_run_is_set_against_every_seed_and_unpairable_seeds_are_refused():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 100)
    seeds = [trained(truth, 0.8, rng) for _ in range(2)]
    baseline = [trained(truth, 0.3, rng)]
    low, high = f1_difference_intervals(truth, seeds, baseline, CLASSES, resamples=100)["macro"]
    assert 0 < low < high
    with pytest.raises(ValueError, match="2 and 3 seeds cannot be paired"):
        f1_difference_intervals(truth, seeds, seeds + baseline, CLASSES, resamples=10)


def test_a_figure_undefined_on_the_whole_split_has_no_interval_and_seeds_widen_one():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 300)

    def statistic(y, p):  # accuracy, and the recall of class 2, which no row has
        rare = y == 2
        return np.array([(y == p).mean(), (p[rare] == 2).mean() if rare.any() else np.nan])

    one = [(truth, np.where(rng.random(300) < 0.7, truth, 1 - truth))]
    means, (accuracy, absent) = statistic_intervals(one, statistic, resamples=500)
    assert absent is None and accuracy[0] < means[0] < accuracy[1]
    # Three seeds far apart (0.55, 0.7, 0.85): the seed spread widens the interval beyond the rows' own.
    seeds = [(truth, np.where(rng.random(300) < share, truth, 1 - truth)) for share in (0.55, 0.7, 0.85)]
    _, (spread, _) = statistic_intervals(seeds, statistic, resamples=500)
    assert spread[1] - spread[0] > 3 * (accuracy[1] - accuracy[0])
