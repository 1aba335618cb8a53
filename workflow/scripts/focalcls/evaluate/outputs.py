"""Everything written for one set of predictions: metrics.json, predictions.xlsx, confusion.csv."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from focalcls.core.atomic import atomic_path, write_json
from focalcls.core.metrics import classification_metrics, confusion
from focalcls.core.spreadsheets import csv_safe, write_xlsx
from focalcls.evaluate.prediction_table import label_ids, predictions_table


def write_evaluation(
    out_dir: Path,
    frames: Mapping[str, pd.DataFrame],
    probs: Mapping[str, np.ndarray],
    labels: Sequence[str],
    train_counts: Mapping[str, int],
    keep_columns: Sequence[str] = (),
    extra: Mapping | None = None,
) -> dict:
    """`frames`/`probs` hold 'test' and, for a preset's own evaluation, 'val': test metrics go to
    metrics.json (val figures under 'val'), confusion.csv is the test split's."""
    metrics, truth = {}, {}
    for split, name in (("val", "val_predictions.xlsx"), ("test", "predictions.xlsx")):
        if split not in frames:
            continue
        truth[split] = label_ids(frames[split], labels)
        metrics[split] = classification_metrics(truth[split], probs[split], labels, train_counts)
        write_xlsx(out_dir / name, predictions_table(frames[split], probs[split], labels, keep_columns))
    matrix = confusion(truth["test"], probs["test"].argmax(axis=1), len(labels))
    with atomic_path(out_dir / "confusion.csv") as tmp:
        names = [csv_safe(x) for x in labels]  # label names are the user's text: no formula in the header
        pd.DataFrame(matrix, index=pd.Index(names, name="true"), columns=names).to_csv(tmp)
    result = {**metrics["test"], **({"val": metrics["val"]} if "val" in metrics else {}), **(extra or {})}
    write_json(out_dir / "metrics.json", result)
    return result
