"""One stage of the gamma-then-alpha search: each candidate value's validation figure over the training
seeds, and the value chosen (the best mean; a tie goes to the value listed first)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence


def stage_result(
    parameter: str, values: Sequence[float], metrics: Sequence[Mapping], seeds: int, metric: str, fixed: Mapping
) -> dict:
    """The stage's record (results/tune/<parameter>.json). metrics: the metrics.json of every run, value by
    value, each value's `seeds` seeds in turn; each is judged on metrics["val"][metric], never on test."""
    if len(metrics) != len(values) * seeds:
        raise ValueError(f"{len(metrics)} runs for {len(values)} {parameter} values x {seeds} seeds")
    points = []
    for i, value in enumerate(values):
        scores = [m["val"][metric] for m in metrics[i * seeds : (i + 1) * seeds]]
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
