"""One stage of the gamma-then-alpha search: each candidate value's validation figure over the training
seeds, and the value chosen (the best mean; a tie goes to the value listed first)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence


def stage_result(
    parameter: str,
    values: Sequence[float],
    metrics: Sequence[Mapping],
    seeds: int,
    metric: str,
    fixed: Mapping,
    *,
    runs: Sequence[str],
) -> dict:
    """The stage's record (results/tune/<parameter>.json). metrics: the metrics.json of every run, value by
    value, each value's `seeds` seeds in turn; each is judged on metrics["val"][metric], never on test.
    runs: the folder each value's runs lie in, under results/presets/: the search's own (tune/...), or a
    configured preset's of the same settings, which the record names as `preset`."""
    if len(metrics) != len(values) * seeds:
        raise ValueError(f"{len(metrics)} runs for {len(values)} {parameter} values x {seeds} seeds")
    if len(runs) != len(values):
        raise ValueError(f"{len(runs)} run folders for {len(values)} {parameter} values")
    points = []
    for i, value in enumerate(values):
        scores = [m["val"][metric] for m in metrics[i * seeds : (i + 1) * seeds]]
        points.append(
            {
                "value": value,
                "run": runs[i],
                "preset": None if runs[i].startswith("tune/") else runs[i],
                "mean": statistics.fmean(scores),
                "sd": statistics.stdev(scores) if len(scores) > 1 else None,
                "seeds": scores,
            }
        )
    best = max(range(len(points)), key=lambda i: (points[i]["mean"], -i))
    return {"parameter": parameter, "metric": metric, "fixed": dict(fixed), "points": points, "chosen": values[best]}
