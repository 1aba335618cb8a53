"""One stage of the gamma-then-alpha search: judged on the mean validation figure over seeds, never on test."""

import pytest

from focalcls.train.search import stage_result


def seed(val: float, test: float) -> dict:
    return {"val": {"minority_f1": val}, "minority_f1": test}


def test_the_best_mean_over_seeds_wins_and_test_plays_no_part():
    runs = [seed(0.6, 0.9), seed(0.6, 0.9), seed(0.5, 0.1), seed(0.9, 0.1), seed(0.7, 0.5), seed(0.7, 0.5)]
    folders = ["tune/gamma-1-alpha-0.25", "moderate", "tune/gamma-3-alpha-0.25"]
    result = stage_result("gamma", [1.0, 2.0, 3.0], runs, 2, "minority_f1", {"alpha": 0.25}, runs=folders)
    assert result["chosen"] == 2.0  # mean 0.70 beats 0.60 and 0.70 (tie goes to the first listed)
    assert [p["mean"] for p in result["points"]] == pytest.approx([0.6, 0.7, 0.7])
    assert result["points"][1]["sd"] == pytest.approx(0.2828, abs=1e-4) and result["fixed"] == {"alpha": 0.25}
    # gamma 2 at alpha 0.25 is the preset moderate: its runs, named under both names
    assert [(p["run"], p["preset"]) for p in result["points"]] == [
        ("tune/gamma-1-alpha-0.25", None),
        ("moderate", "moderate"),
        ("tune/gamma-3-alpha-0.25", None),
    ]


def test_one_seed_has_no_spread_and_a_missing_run_is_refused():
    result = stage_result("alpha", [0.25], [seed(0.5, 0.5)], 1, "minority_f1", {"gamma": 2.0}, runs=["moderate"])
    assert result["points"][0]["sd"] is None and result["chosen"] == 0.25
    with pytest.raises(ValueError, match="3 runs for 2 alpha values x 2 seeds"):
        stage_result("alpha", [0.25, 0.5], [seed(0.5, 0.5)] * 3, 2, "minority_f1", {"gamma": 2.0}, runs=["a", "b"])
    with pytest.raises(ValueError, match="1 run folders for 2 alpha values"):
        stage_result("alpha", [0.25, 0.5], [seed(0.5, 0.5)] * 2, 1, "minority_f1", {"gamma": 2.0}, runs=["a"])
