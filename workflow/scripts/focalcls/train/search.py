"""One stage of the gamma-then-alpha search: each candidate value's validation figure over the training
seeds, and the value chosen (the best mean; a tie goes to the value listed first)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence


def stage_result(parameter: str, points: Sequence[Mapping], metric: str, fixed: Mapping) -> dict:
    """The stage's record (results/tune/<parameter>.json). points: one per candidate value, in the order
    listed: {value, run (the folder under results/presets/ its runs lie in: the search's own tune/..., or a
    configured preset's of the same settings, which the record names as `preset`), metrics (the metrics.json
    of each of its runs)}; each is judged on metrics["val"][metric], never on test."""
    if not points or any(not point["metrics"] for point in points):
        raise ValueError(f"a candidate {parameter} without runs: every candidate needs its runs' metrics")
    found = []
    for point in points:
        scores = [m["val"][metric] for m in point["metrics"]]
        found.append(
            {
                "value": point["value"],
                "run": point["run"],
                "preset": None if point["run"].startswith("tune/") else point["run"],
                "mean": statistics.fmean(scores),
                "sd": statistics.stdev(scores) if len(scores) > 1 else None,
                "seeds": scores,
            }
        )
    best = max(range(len(found)), key=lambda i: (found[i]["mean"], -i))
    return {
        "parameter": parameter,
        "metric": metric,
        "fixed": dict(fixed),
        "points": found,
        "chosen": found[best]["value"],
    }
