"""The review queue on test, for the chosen preset: the share of rows sent to a person, the precision of the rows
labelled automatically, and per class the share sent and the recall of the rest, each with its 95% interval
(test rows resampled, and the seed spread where there are several seeds: focalcls.differences)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from focalcls.core.spreadsheets import read_table
from focalcls.evaluate.calibration import review_flags
from focalcls.evaluate.prediction_table import label_ids
from focalcls.report.differences import statistic_intervals


def review_statistic(classes: int):
    """statistic(truth, predicted, sent) for statistic_intervals: the share sent, the precision of the rest, then
    per class the recall of its automatically labelled rows and the share of its rows sent (NaN: no rows)."""

    def statistic(truth: np.ndarray, predicted: np.ndarray, sent: np.ndarray) -> np.ndarray:
        automatic, right = ~sent, predicted == truth
        rows = np.bincount(truth, minlength=classes)
        kept = np.bincount(truth[automatic], minlength=classes)
        recall = np.bincount(truth[automatic & right], minlength=classes) / np.where(kept > 0, kept, np.nan)
        sent_share = np.bincount(truth[sent], minlength=classes) / np.where(rows > 0, rows, np.nan)
        precision = right[automatic].mean() if automatic.any() else np.nan
        return np.concatenate([[sent.mean(), precision], recall, sent_share])

    return statistic


def read_review(path: Path, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A calibrated predictions file's true ids, predicted ids and review flags, rows of known labels only."""
    table = read_table(path)
    truth = label_ids(table, labels, "true_label", missing=-1)
    predicted = label_ids(table, labels, "predicted_label", missing=-1)
    known = (truth >= 0) & (predicted >= 0)
    return truth[known], predicted[known], review_flags(table)[known]


def review_summary(
    calibrations: Sequence[Mapping], predictions: Sequence[Path], labels: Sequence[str], rare: Sequence[str]
) -> dict | None:
    """What the report says of the review queue on test (None when predict.review is off): the first seed's
    threshold and validation point, figures as the mean over seeds with intervals, classes rarest first."""
    first = calibrations[0]["review"]
    if first is None:
        return None
    means, intervals = statistic_intervals(
        [read_review(path, labels) for path in predictions], review_statistic(len(labels))
    )
    k = len(labels)
    counts = np.bincount(read_review(predictions[0], labels)[0], minlength=k)
    classes = [
        {
            "label": label,
            "rows": int(counts[i]),
            "rare": label in rare,
            "recall": means[2 + i],
            "recall_interval": intervals[2 + i],
            "sent": means[2 + k + i],
            "sent_interval": intervals[2 + k + i],
        }
        for i, label in enumerate(labels)
        if counts[i]
    ]
    return {
        **first,
        "thresholds": [c["review"]["threshold"] for c in calibrations],
        "share": (means[0], intervals[0]),
        "precision": (means[1], intervals[1]),
        "classes": sorted(classes, key=lambda c: (not c["rare"], c["rows"])),
    }
