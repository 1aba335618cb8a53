"""The prediction table (predicted label, confidence, p_<label> columns) from probabilities, and class ids from
a label column: numpy and pandas only, so the jobs that read stored predictions (calibration, ensembles, the
report) start without importing torch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from focalcls.core.errors import UserError
from focalcls.data.cleaning import LABEL, TEXT


def predictions_table(
    frame: pd.DataFrame, probs: np.ndarray, labels: Sequence[str], keep_columns: Sequence[str] = ()
) -> pd.DataFrame:
    """Kept columns, text, true label (when known), predicted label, confidence and p(class) columns."""
    clash = [c for c in keep_columns if c in {f"p_{x}" for x in labels}]
    if clash:  # at load time this is checked once the labels are known; a first run learns them here
        raise UserError(f"data.keep_columns names {clash}, the predicted probabilities' columns; leave them out")
    table = pd.DataFrame({c: frame[c].values for c in keep_columns if c in frame.columns})
    table[TEXT] = frame[TEXT].values
    if LABEL in frame.columns:
        table["true_label"] = frame[LABEL].values
    return with_predictions(table, probs, labels)


def with_predictions(table: pd.DataFrame, probs: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    """predicted_label, confidence and one p_<label> column per class appended; a row whose
    probabilities are all NaN (nothing to predict from) gets an empty label and no confidence."""
    table = table.copy()
    known = ~np.isnan(probs).all(axis=1)
    filled = np.nan_to_num(probs, nan=-1.0)
    table["predicted_label"] = [labels[i] if ok else "" for i, ok in zip(filled.argmax(axis=1), known)]
    table["confidence"] = np.where(known, filled.max(axis=1), np.nan)
    for i, label in enumerate(labels):
        table[f"p_{label}"] = probs[:, i]
    return table


def label_ids(
    frame: pd.DataFrame, labels: Sequence[str], column: str = LABEL, missing: int | None = None
) -> np.ndarray:
    """Class ids of a label column; a value that is no label raises KeyError, or becomes `missing` when given."""
    index = {label: i for i, label in enumerate(labels)}
    if missing is None:
        return np.array([index[x] for x in frame[column]], dtype=int)
    return np.array([index.get(x, missing) for x in frame[column]], dtype=int)
