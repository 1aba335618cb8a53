"""Batched inference: rows sorted by length and padded per batch, probabilities back in input order."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from focalcls.core.errors import UserError
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
