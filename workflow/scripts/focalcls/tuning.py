"""One stage of the gamma-then-alpha search: each candidate value's validation figure over the training
seeds, and the value chosen (the best mean; a tie goes to the value listed first)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence


def stage_result(
    parameter: str,
    values: Sequence[float],
    per_value: Sequence[Sequence[Mapping]],
    metric: str,
    fixed: Mapping[str, float],
) -> dict:
    """The stage's record (results/tune/<parameter>.json). per_value[i]: the metrics.json of every seed of
    the run with values[i]; each is judged on metrics["val"][metric], never on test."""
    if len(per_value) != len(values):
        raise ValueError(f"{len(per_value)} runs for {len(values)} {parameter} values")
    points = []
    for value, seeds in zip(values, per_value, strict=True):
        scores = [m["val"][metric] for m in seeds]
        points.append(
            {
                "value": value,
                "mean": statistics.fmean(scores),
                "sd": statistics.stdev(scores) if len(scores) > 1 else None,
                "seeds": scores,
            }
        )
    best = max(range(len(points)), key=lambda i: (points[i]["mean"], -i))
    return {"parameter": parameter, "metric": metric, "fixed": dict(fixed), "points": points, "chosen": values[best]}
