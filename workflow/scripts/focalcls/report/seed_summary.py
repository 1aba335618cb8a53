"""A preset trained with several seeds, summarised: the mean of every figure over its seeds, and their spread."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

# Settings each seed chose for itself (a logit adjustment's tau and prior, a blend's weight): kept per seed,
# never averaged into a value no seed chose; the merged metrics hold the first seed's.
CHOSEN_PER_SEED = {"logit_adjustment", "ensemble"}


def mean_over_seeds(values: Sequence):
    """The seeds' metrics.json merged: a number that differs between seeds becomes its mean, at every level
    (per-class F1, the validation block); anything the seeds agree on (labels, loss settings) stays as it is."""
    first = values[0]
    if all(v == first for v in values[1:]):
        return first
    if isinstance(first, Mapping):
        return {
            key: first[key] if key in CHOSEN_PER_SEED else mean_over_seeds([v[key] for v in values]) for key in first
        }
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return statistics.fmean(values)
    return first  # not a figure (a list of labels written in another order): the first seed's


def spread_over_seeds(values: Sequence[Mapping], columns: Sequence[str]) -> dict[str, float] | None:
    """The sample standard deviation of each of `columns` over the seeds (`val_<name>` reads the validation
    block); None for one seed, whose spread is not measured."""
    if len(values) < 2:
        return None
    return {column: statistics.stdev(figure(v, column) for v in values) for column in columns}


def figure(metrics: Mapping, column: str) -> float:
    """A test figure by its name, or a validation one as val_<name>."""
    return metrics["val"][column[4:]] if column.startswith("val_") else metrics[column]
