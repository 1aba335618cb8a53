"""How sure the report is: 95% intervals of one model's F1 minus another's, both scored on the same test rows
(focalcls.report.differences: test-row resampling, and the seed spread where presets were trained with
several seeds)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import numpy as np

from focalcls.core.spreadsheets import read_table
from focalcls.evaluate.prediction_table import label_ids
from focalcls.report.differences import Interval, f1_difference_intervals


def averaged_classes(metrics: Mapping, labels: Sequence[str]) -> dict[str, list[int]]:
    """The class ids each headline metric averages over: every class in the test split for macro-F1,
    the minority classes for minority-class F1."""
    index = {label: i for i, label in enumerate(labels)}
    return {
        "macro_f1": [index[x] for x, c in metrics["per_class"].items() if c["support"] > 0],
        "minority_f1": [index[x] for x in metrics["minority_labels"]],
    }


def difference_intervals(
    runs: Mapping[str, dict], best: str, others: Sequence[str], labels: Sequence[str]
) -> dict[str, dict[str, Interval]]:
    """{other: {metric: 95% interval of best minus other}}; a model whose predictions are not of the same
    test rows gets no interval."""
    found = {other: paired_intervals(runs, best, other, labels) for other in others}
    return {other: interval for other, interval in found.items() if interval is not None}


def intervals_against(
    runs: Mapping[str, dict], reference: str, labels: Sequence[str]
) -> dict[str, dict[str, Interval]]:
    """{model: {metric: 95% interval of that model minus `reference`}} for every other model scored on the
    same test rows."""
    found = {name: paired_intervals(runs, name, reference, labels) for name in runs if name != reference}
    return {name: interval for name, interval in found.items() if interval is not None}


def paired_intervals(runs: Mapping[str, dict], a: str, b: str, labels: Sequence[str]) -> dict[str, Interval] | None:
    """{metric: 95% interval of a minus b} over every seed of each, or None when their predictions are
    not of the same test rows."""
    mine = [predicted(path, tuple(labels)) for path in runs[a]["seed_predictions"]]
    theirs = [predicted(path, tuple(labels)) for path in runs[b]["seed_predictions"]]
    texts, truth = mine[0][0], mine[0][1]
    if any(t != texts for t, _, _ in mine + theirs):
        return None
    keep = truth >= 0
    for _, _, ids in mine + theirs:
        keep &= ids >= 0
    return f1_difference_intervals(
        truth[keep],
        [ids[keep] for _, _, ids in mine],
        [ids[keep] for _, _, ids in theirs],
        averaged_classes(runs[a]["metrics"], labels),
    )


@cache
def predicted(path: Path, labels: tuple[str, ...]) -> tuple[list, np.ndarray, np.ndarray]:
    """A predictions file's texts, true ids and predicted ids (-1 for a label outside `labels`), read once."""
    table = read_table(path)
    return (
        list(table["text"]),
        label_ids(table, labels, "true_label", missing=-1),
        label_ids(table, labels, "predicted_label", missing=-1),
    )
