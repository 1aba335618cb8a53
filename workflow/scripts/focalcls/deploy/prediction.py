"""Label new, unlabelled rows with a trained preset: every input column kept, predictions appended."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from focalcls.core.errors import UserError
from focalcls.data.cleaning import normalise
from focalcls.evaluate.calibration import calibrated_columns
from focalcls.evaluate.prediction_table import with_predictions


def predict_table(
    frame: pd.DataFrame,
    text_column: str,
    labels: Sequence[str],
    probs_of: Callable[[list[str]], np.ndarray],
    *,
    source: str,
) -> pd.DataFrame:
    """The input rows in their order, then predicted_label, confidence and p_<label> columns.

    Texts are normalised as training texts were; a row with an empty text gets no prediction. `probs_of` maps
    the other rows' texts to the probabilities written (a preset's, adjusted or not, or an ensemble's).
    """
    if text_column not in frame.columns:
        raise UserError(
            f"{source}: no column {text_column!r} (columns: {', '.join(map(str, frame.columns))}); "
            "set predict.text_column"
        )
    written = {"predicted_label", "confidence", *(f"p_{x}" for x in labels), *calibrated_columns(labels)}
    written.add("needs_review")
    ours = [c for c in map(str, frame.columns) if c in written]
    if ours:
        raise UserError(
            f"{source}: it already has the column(s) {ours}, which predict writes; rename or remove them "
            "(a file predict wrote before goes in without its prediction columns)"
        )
    texts = [normalise(x) for x in frame[text_column]]
    filled = [i for i, text in enumerate(texts) if text]
    # float64: an ensemble's probabilities as the ensemble stage computed them, to the last digit.
    probs = np.full((len(frame), len(labels)), np.nan, dtype=np.float64)
    if filled:
        probs[filled] = probs_of([texts[i] for i in filled])
    return with_predictions(frame, probs, labels)
