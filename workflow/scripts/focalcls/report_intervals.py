"""How sure the headline is: paired bootstrap 95% intervals of the chosen preset's F1 minus another model's,
both scored on the same resamples of the test rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .inference import label_ids
from .metrics import bootstrap_f1_difference
from .tables import read_table

Interval = tuple[float, float]


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
    """{other: {metric: 95% interval of best minus other}} from both models' test predictions; a model
    whose predictions are not of the same test rows gets no interval."""
    chosen = read_table(runs[best]["predictions"])
    truth = label_ids(chosen, labels, "true_label", missing=-1)
    classes = averaged_classes(runs[best]["metrics"], labels)
    intervals = {}
    for other in others:
        theirs = read_table(runs[other]["predictions"])
        if list(theirs["text"]) != list(chosen["text"]):
            continue  # not the same test rows: no paired interval
        mine, their_ids = (label_ids(t, labels, "predicted_label", missing=-1) for t in (chosen, theirs))
        keep = (mine >= 0) & (their_ids >= 0) & (truth >= 0)
        intervals[other] = {
            m: bootstrap_f1_difference(truth[keep], mine[keep], their_ids[keep], c) for m, c in classes.items()
        }
    return intervals
