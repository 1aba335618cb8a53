"""One stage of the gamma-then-alpha search: judged on the mean validation figure over seeds, never on test."""

import pytest

from focalcls.train.search import stage_result


def seed(val: float, test: float) -> dict:
    return {"val": {"minority_f1": val}, "minority_f1": test}


def point(value: float, run: str, *seeds: dict) -> dict:
    return {"value": value, "run": run, "metrics": list(seeds)}


def test_the_best_mean_over_seeds_wins_and_test_plays_no_part():
    points = [
        point(1.0, "tune/gamma-1-alpha-0.25", seed(0.6, 0.9), seed(0.6, 0.9)),
        point(2.0, "moderate", seed(0.5, 0.1), seed(0.9, 0.1)),
        point(3.0, "tune/gamma-3-alpha-0.25", seed(0.7, 0.5), seed(0.7, 0.5)),
    ]
    result = stage_result("gamma", points, "minority_f1", {"alpha": 0.25})
    assert result["chosen"] == 2.0  # mean 0.70 beats 0.60 and 0.70 (tie goes to the first listed)
    assert [p["mean"] for p in result["points"]] == pytest.approx([0.6, 0.7, 0.7])
    assert result["points"][1]["sd"] == pytest.approx(0.2828, abs=1e-4) and result["fixed"] == {"alpha": 0.25}
    # gamma 2 at alpha 0.25 is the preset moderate: its runs, named under both names
    assert [(p["run"], p["preset"]) for p in result["points"]] == [
        ("tune/gamma-1-alpha-0.25", None),
        ("moderate", "moderate"),
        ("tune/gamma-3-alpha-0.25", None),
    ]


def test_one_seed_has_no_spread_and_a_value_without_runs_is_refused():
    result = stage_result("alpha", [point(0.25, "moderate", seed(0.5, 0.5))], "minority_f1", {"gamma": 2.0})
    assert result["points"][0]["sd"] is None and result["chosen"] == 0.25
    with pytest.raises(ValueError, match="a candidate alpha without runs"):
        stage_result("alpha", [point(0.25, "a", seed(0.5, 0.5)), point(0.5, "b")], "minority_f1", {"gamma": 2.0})
