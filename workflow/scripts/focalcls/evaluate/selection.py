"""Which preset to use: chosen on validation figures only, never on test."""

from __future__ import annotations

from collections.abc import Mapping


def pick_best(metrics: Mapping[str, Mapping], metric: str) -> str:
    """The preset whose metrics (its eval/metrics.json) has the best validation `metric`; ties go to the
    preset listed first."""
    names = list(metrics)
    return max(names, key=lambda n: (metrics[n]["val"][metric], -names.index(n)))
