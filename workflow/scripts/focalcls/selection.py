"""Which preset to use: chosen on validation figures only, never on test."""

from __future__ import annotations

from collections.abc import Mapping


def pick_best(runs: Mapping[str, dict], metric: str) -> str:
    """The preset with the best validation figure; ties go to the preset listed first."""
    presets = [n for n, r in runs.items() if r["kind"] == "preset"]
    return max(presets, key=lambda n: (runs[n]["metrics"]["val"][metric], -presets.index(n)))
