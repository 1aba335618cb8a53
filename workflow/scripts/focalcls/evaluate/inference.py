"""Batched inference: rows sorted by length and padded per batch, probabilities back in input order."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from focalcls.core.errors import UserError
from focalcls.data.cleaning import LABEL, TEXT
from focalcls.train.losses import class_probabilities


def progress(total: int, desc: str) -> tqdm:
    """A progress bar on stderr: lively in a terminal, a line every 10 s in a log file."""
    return tqdm(total=total, desc=desc, unit="row", file=sys.stderr, mininterval=0.5 if sys.stderr.isatty() else 10)


@contextlib.contextmanager
def batch_memory_advice(batch_size: int, key: str) -> Iterator[None]:
    """A GPU running out of memory while predicting becomes one message naming the key to lower."""
    try:
        yield
    except torch.OutOfMemoryError:
        raise UserError(
            f"out of GPU memory predicting batches of {batch_size} rows; halve {key}, or lower model.max_length"
        ) from None


@torch.inference_mode()
def predict_probs(
    model, tokenizer, texts: Sequence[str], *, form: str, max_length: int, batch_size: int = 64, bf16: bool = False
) -> np.ndarray:
    """(len(texts), classes) probabilities; sorting by length keeps padding, and so wasted work, small."""
    if not len(texts):
        return np.zeros((0, model.config.num_labels), dtype=np.float32)
    device = next(model.parameters()).device
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    order = np.argsort([len(ids) for ids in encoded], kind="stable")
    out = np.zeros((len(texts), model.config.num_labels), dtype=np.float32)
    with progress(len(order), "predicting") as bar, batch_memory_advice(batch_size, "train.eval_batch_size"):
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = tokenizer.pad({"input_ids": [encoded[i] for i in idx]}, return_tensors="pt").to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(**batch).logits
            out[idx] = class_probabilities(logits, form).cpu().numpy()
            bar.update(len(idx))
    return out


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
