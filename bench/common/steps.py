"""Training steps outside the Trainer, for the speed benchmarks that compare variants of one step: the same
collated batches for every variant, and one step (forward, loss, backward, optimizer step)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import torch
from transformers import DataCollatorWithPadding

from focalcls.data.cleaning import LABEL, TEXT


def fixed_batches(
    train: pd.DataFrame, labels: list[str], tokenizer, batch_size: int, count: int, max_length: int
) -> list[tuple[dict, torch.Tensor]]:
    """`count` consecutive batches of the training rows with their class ids, collated once so every variant
    sees the same ones."""
    collate = DataCollatorWithPadding(tokenizer)
    index = {label: i for i, label in enumerate(labels)}
    batches = []
    for r in range(count):
        rows = train.iloc[r * batch_size : (r + 1) * batch_size]
        encoded = tokenizer(list(rows[TEXT]), truncation=True, max_length=max_length)
        batch = collate(
            [{"input_ids": i, "attention_mask": m} for i, m in zip(encoded["input_ids"], encoded["attention_mask"])]
        )
        batches.append((batch, torch.tensor([index[x] for x in rows[LABEL]])))
    return batches


def train_step(model, optimizer, batch: dict, targets: torch.Tensor, loss_fn: Callable, bf16: bool) -> torch.Tensor:
    """One training step: forward (under bf16 autocast if asked), loss_fn(logits, targets), backward, optimizer
    step; returns the logits, detached."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(**batch).logits
    loss_fn(logits, targets).backward()
    optimizer.step()
    optimizer.zero_grad()
    return logits.detach()
