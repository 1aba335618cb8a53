"""LoRA fine-tuning of a sequence classifier with a focal (or cross-entropy) loss, on transformers.Trainer."""

from __future__ import annotations

import csv
import io
import logging
import resource
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import f1_score
from transformers import (
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

from .atomic import atomic_dir, atomic_path, write_json
from .data import LABEL, TEXT
from .losses import focal_loss
from .model import add_lora, init_head, load_classifier, load_tokenizer, save_adapter
from .presets import LossSpec

log = logging.getLogger(__name__)
LOG_COLUMNS = ["step", "epoch", "lr", "train_loss", "val_loss", "val_macro_f1"]


@dataclass
class TrainSettings:
    epochs: float = 2.0
    batch_size: int = 16
    eval_batch_size: int = 64
    grad_accum: int = 1
    lr: float = 2e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.1
    scheduler: str = "cosine"
    max_grad_norm: float = 1.0
    seed: int = 42
    patience: int = 2
    evals_per_epoch: int = 1
    precision: str = "auto"  # auto | bf16 | fp32
    gradient_checkpointing: bool = False


class TokenizedRows(torch.utils.data.Dataset):
    """Tokenised texts with their class ids; padding is left to the collator (per batch)."""

    def __init__(self, frame: pd.DataFrame, labels: Sequence[str], tokenizer, max_length: int):
        index = {label: i for i, label in enumerate(labels)}
        encoded = tokenizer(list(frame[TEXT]), truncation=True, max_length=max_length)
        self.items = [
            {"input_ids": ids, "attention_mask": mask, "labels": index[label]}
            for ids, mask, label in zip(encoded["input_ids"], encoded["attention_mask"], frame[LABEL])
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


class CsvLogCallback(TrainerCallback):
    """Collects step, lr, train loss and validation figures into rows for train_log.csv."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        row = {
            "step": state.global_step,
            "epoch": round(state.epoch or 0.0, 4),
            "lr": logs.get("learning_rate"),
            "train_loss": logs.get("loss"),
            "val_loss": logs.get("eval_loss"),
            "val_macro_f1": logs.get("eval_macro_f1"),
        }
        if any(row[k] is not None for k in ("train_loss", "val_loss")):
            self.rows.append(row)
            if state.is_world_process_zero:
                log.info("step %s epoch %.2f %s", row["step"], row["epoch"], {k: v for k, v in logs.items()})

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(self.rows)
        return buffer.getvalue()


def use_bf16(precision: str) -> bool:
    """bf16 autocast: 'bf16' always (CPUs with avx512_bf16/AMX run it ~1.5x faster), 'auto' on bf16 GPUs."""
    if precision == "bf16":
        return True
    return precision == "auto" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def train_preset(
    *,
    train: pd.DataFrame,
    val: pd.DataFrame,
    labels: Sequence[str],
    checkpoint: str,
    loss: LossSpec,
    lora: Mapping,
    settings: TrainSettings,
    max_length: int,
    out_dir: Path,
    preset_name: str,
    trust_remote_code: bool = False,
) -> dict:
    """Train one adapter; writes out_dir/{adapter/, train_log.csv, train_summary.json}; returns the summary."""
    started = time.time()
    set_seed(settings.seed)
    tokenizer = load_tokenizer(checkpoint, trust_remote_code=trust_remote_code)
    model = load_classifier(
        checkpoint, labels, pad_token_id=tokenizer.pad_token_id, trust_remote_code=trust_remote_code
    )
    init_head(model, [int((train["label"] == x).sum()) for x in labels], loss.form)
    model = add_lora(model, r=lora["r"], alpha=lora["alpha"], dropout=lora["dropout"], target_modules=lora["target_modules"])
    if settings.gradient_checkpointing:
        model.enable_input_require_grads()  # else LoRA weights behind checkpointed blocks get no gradient

    train_rows = TokenizedRows(train, labels, tokenizer, max_length)
    val_rows = TokenizedRows(val, labels, tokenizer, max_length)
    steps_per_epoch = max(1, int(np.ceil(len(train_rows) / (settings.batch_size * settings.grad_accum))))
    eval_steps = max(1, steps_per_epoch // max(1, settings.evals_per_epoch))
    checkpoints = out_dir / "checkpoints"

    def compute_loss(outputs, targets, num_items_in_batch=None):
        return focal_loss(outputs.logits, targets, gamma=loss.gamma, alpha=loss.alpha, form=loss.form)

    def compute_metrics(prediction) -> dict:
        y_pred = np.asarray(prediction.predictions).argmax(axis=-1)
        return {"macro_f1": f1_score(prediction.label_ids, y_pred, labels=range(len(labels)), average="macro", zero_division=0)}

    args = TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=settings.epochs,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.eval_batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        learning_rate=settings.lr,
        weight_decay=settings.weight_decay,
        warmup_steps=settings.warmup_ratio,
        lr_scheduler_type=settings.scheduler,
        max_grad_norm=settings.max_grad_norm,
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="macro_f1",
        greater_is_better=True,
        logging_steps=max(1, min(10, eval_steps)),
        train_sampling_strategy="group_by_length",
        bf16=use_bf16(settings.precision),
        use_cpu=not torch.cuda.is_available(),
        gradient_checkpointing=settings.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if settings.gradient_checkpointing else None,
        ddp_find_unused_parameters=False,
        seed=settings.seed,
        data_seed=settings.seed,
        report_to="none",
        disable_tqdm=True,
        label_names=["labels"],
        dataloader_num_workers=0,
    )
    csv_log = CsvLogCallback()
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_rows,
        eval_dataset=val_rows,
        data_collator=DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8 if torch.cuda.is_available() else None),
        compute_loss_func=compute_loss,
        compute_metrics=compute_metrics,
        callbacks=[csv_log, EarlyStoppingCallback(early_stopping_patience=settings.patience)],
    )
    resume = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    if resume:
        log.info("resuming from %s", resume)
    trainer.train(resume_from_checkpoint=resume)

    state = trainer.state
    total_steps = state.max_steps
    stopped_early = state.global_step < total_steps
    summary = {
        "preset": preset_name,
        "loss": loss.as_dict(),
        "best_step": _step_of(state.best_model_checkpoint),
        "best_val_macro_f1": state.best_metric,
        "steps": state.global_step,
        "max_steps": total_steps,
        "stop_reason": "early_stopping" if stopped_early else "max_epochs",
        "train_rows": len(train_rows),
        "seconds": round(time.time() - started, 2),
        "peak_memory_mb": peak_memory_mb(),
        "bf16": args.bf16,
        "world_size": args.world_size,
        "resumed_from": resume,
    }
    if trainer.is_world_process_zero():
        with atomic_dir(out_dir / "adapter") as tmp:
            save_adapter(trainer.model, tmp, labels, {"preset": preset_name, "loss": loss.as_dict(), "max_length": max_length})
        with atomic_path(out_dir / "train_log.csv") as tmp:
            tmp.write_text(csv_log.to_csv(), encoding="utf-8")
        write_json(out_dir / "train_summary.json", summary)
        shutil.rmtree(checkpoints, ignore_errors=True)
    return summary


def _step_of(checkpoint: str | None) -> int | None:
    return int(checkpoint.rsplit("-", 1)[1]) if checkpoint else None


def peak_memory_mb() -> float:
    """Peak accelerator memory when on a GPU, else the process's peak resident memory."""
    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
