"""LoRA fine-tuning of a sequence classifier with a focal (or cross-entropy) loss, on transformers.Trainer."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import os
import resource
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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

from .atomic import atomic_dir, atomic_path, write_json
from .data import LABEL, TEXT, class_counts
from .errors import UserError
from .hard_examples import STATE_FILE, EpochSampler, RowLosses, SamplerCallback
from .head_init import init_head
from .losses import focal_loss
from .metrics import minority_labels
from .model import add_lora, load_classifier, load_tokenizer, resolve_dtype, save_adapter, use_bf16
from .presets import LossSpec

log = logging.getLogger(__name__)
ROW = "row"  # each row's number in the training table, for difficulty-aware sampling
LOG_COLUMNS = ["step", "epoch", "lr", "train_loss", "val_loss", "val_macro_f1", "val_minority_f1"]


@dataclass
class TrainSettings:
    epochs: float = 2.0
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 2e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.1
    scheduler: str = "cosine"
    max_grad_norm: float = 1.0
    seed: int = 42
    patience: int = 2
    eval_steps: int | None = None  # None: once per epoch
    early_stopping_metric: str = "loss"  # loss (the preset's own loss on val) | macro_f1 | minority_f1
    precision: str = "auto"  # auto | bf16 | fp32
    gradient_checkpointing: bool = False
    hard_example_sampling: bool = False
    hard_example_floor: float = 0.2


class TokenizedRows(torch.utils.data.Dataset):
    """Tokenised texts with their class ids and row numbers; padding is left to the collator (per batch)."""

    def __init__(self, frame: pd.DataFrame, labels: Sequence[str], tokenizer, max_length: int):
        index = {label: i for i, label in enumerate(labels)}
        encoded = tokenizer(list(frame[TEXT]), truncation=True, max_length=max_length)
        self.items = [
            {"input_ids": ids, "attention_mask": mask, "labels": index[label], ROW: i}
            for i, (ids, mask, label) in enumerate(zip(encoded["input_ids"], encoded["attention_mask"], frame[LABEL]))
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]

    def lengths(self) -> list[int]:
        return [len(item["input_ids"]) for item in self.items]


class FocalTrainer(Trainer):
    """Trainer whose batches come from EpochSampler; it takes the row numbers out of each batch before
    the model sees them and, with difficulty-aware sampling on, records each training row's loss."""

    def __init__(self, *args, loss: LossSpec, sampler: EpochSampler, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_spec, self.sampler = loss, sampler

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        rows, targets = inputs.pop(ROW), inputs["labels"]  # Trainer pops the labels
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        if self.sampler.losses is not None and model.training:
            # Without alpha: class weights already act in the loss; drawing by them too would square them.
            spec = self.loss_spec
            per_row = focal_loss(outputs.logits.detach(), targets, gamma=spec.gamma, form=spec.form, reduction="none")
            self.sampler.losses.record(rows, per_row)
        return (loss, outputs) if return_outputs else loss

    def _get_train_sampler(self, train_dataset=None):
        return self.sampler


class EvaluationSummary(TrainerCallback):
    """One line per validation pass, so a log read at any time says where training stands."""

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if state.is_world_process_zero and metrics:
            log.info(
                "step %d/%d (epoch %.2f): val loss %.4f, macro-F1 %.3f, minority-F1 %.3f",
                state.global_step,
                state.max_steps,
                state.epoch or 0.0,
                metrics.get("eval_loss", float("nan")),
                metrics.get("eval_macro_f1", float("nan")),
                metrics.get("eval_minority_f1", float("nan")),
            )


def log_table(log_history: Sequence[dict]) -> str:
    """train_log.csv from Trainer's log history, which survives a resume (a callback's memory does not)."""
    rows = []
    for entry in log_history:
        row = {
            "step": entry.get("step"),
            "epoch": round(entry.get("epoch") or 0.0, 4),
            "lr": entry.get("learning_rate"),
            "train_loss": entry.get("loss"),
            "val_loss": entry.get("eval_loss"),
            "val_macro_f1": entry.get("eval_macro_f1"),
            "val_minority_f1": entry.get("eval_minority_f1"),
        }
        if row["train_loss"] is not None or row["val_loss"] is not None:
            rows.append(row)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LOG_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def loss_function(loss: LossSpec):
    """Trainer's compute_loss_func. In training Trainer passes num_items_in_batch (rows over all
    accumulation steps, and all processes) and expects the loss already normalised by it."""

    def compute(outputs, targets, num_items_in_batch=None):
        if num_items_in_batch is None:
            return focal_loss(outputs.logits, targets, gamma=loss.gamma, alpha=loss.alpha, form=loss.form)
        total = focal_loss(outputs.logits, targets, gamma=loss.gamma, alpha=loss.alpha, form=loss.form, reduction="sum")
        return total / num_items_in_batch

    return compute


def fingerprint(*parts) -> str:
    """Identifies a training setup, so checkpoints of another setup are never resumed."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def clean_checkpoints(folder: Path, key: str) -> None:
    """Keep only checkpoints this setup can resume from: remove those of another setup (other loss, data
    or settings) and any checkpoint cut short by a kill. Trainer writes trainer_state.json last, so a
    checkpoint without it is incomplete."""
    stamp = folder / "fingerprint.txt"
    if folder.is_dir() and (not stamp.exists() or stamp.read_text() != key):
        if any(folder.glob("checkpoint-*")):
            log.warning("removing checkpoints of a different setup in %s", folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp.write_text(key)
    for path in folder.glob("checkpoint-*"):
        if not (path / "trainer_state.json").exists():
            log.warning("removing %s: it was being written when the job stopped", path)
            shutil.rmtree(path)


def last_checkpoint(folder: Path) -> str | None:
    steps = {int(p.name.rsplit("-", 1)[1]): p for p in folder.glob("checkpoint-*")}
    return str(steps[max(steps)]) if steps else None


def training_arguments(settings: TrainSettings, checkpoints: Path, eval_steps: int, bf16: bool) -> TrainingArguments:
    """Evaluate and checkpoint every eval_steps; keep the best checkpoint by the early-stopping metric."""
    return TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=settings.epochs,
        per_device_train_batch_size=settings.batch_size,
        # Validation batches as large as training ones: they fit wherever training fits (no gradients kept).
        per_device_eval_batch_size=settings.batch_size,
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
        metric_for_best_model=settings.early_stopping_metric,
        greater_is_better=settings.early_stopping_metric != "loss",
        logging_steps=max(1, min(10, eval_steps)),
        remove_unused_columns=False,  # the row numbers must reach compute_loss
        bf16=bf16,
        use_cpu=not torch.cuda.is_available(),
        gradient_checkpointing=settings.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if settings.gradient_checkpointing else None,
        ddp_find_unused_parameters=False,
        seed=settings.seed,
        data_seed=settings.seed,
        report_to="none",
        disable_tqdm=False,
        label_names=["labels"],
        dataloader_num_workers=0,
    )


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
    dtype: str = "auto",
    trust_remote_code: bool = False,
) -> dict:
    """Train one adapter; writes out_dir/{adapter/, train_log.csv, train_summary.json}; returns the summary."""
    started = time.time()
    set_seed(settings.seed)
    bf16 = use_bf16(settings.precision)
    dtype = resolve_dtype(dtype)
    if dtype == "bfloat16" and not bf16:
        raise UserError("model.dtype bfloat16 needs bf16 compute: set train.precision to bf16 (or auto on a bf16 GPU)")
    tokenizer = load_tokenizer(checkpoint, trust_remote_code=trust_remote_code)
    model = load_classifier(
        checkpoint, labels, pad_token_id=tokenizer.pad_token_id, dtype=dtype, trust_remote_code=trust_remote_code
    )
    if torch.cuda.is_available():  # the head's forward pass on the GPU this process trains on, not the CPU
        model.to(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}")
    train_counts = class_counts(train, labels)
    sample = list(train[TEXT].sample(frac=1.0, random_state=settings.seed))
    with out_of_memory_advice(preset_name, settings, max_length):
        init_head(model, tokenizer, sample, [train_counts[x] for x in labels], loss.form, max_length)
    model = add_lora(
        model, r=lora["r"], alpha=lora["alpha"], dropout=lora["dropout"], target_modules=lora["target_modules"]
    )
    if settings.gradient_checkpointing:
        model.enable_input_require_grads()  # else LoRA weights behind checkpointed blocks get no gradient

    train_rows = TokenizedRows(train, labels, tokenizer, max_length)
    val_rows = TokenizedRows(val, labels, tokenizer, max_length)
    # Each of the world_size processes takes its share of every epoch's rows.
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    batches = int(np.ceil(np.ceil(len(train_rows) / world_size) / settings.batch_size))
    steps_per_epoch = max(1, int(np.ceil(batches / settings.grad_accum)))
    eval_steps = settings.eval_steps or steps_per_epoch
    checkpoints = out_dir / "checkpoints"
    minority = [labels.index(x) for x in minority_labels(labels, train_counts)]

    def compute_metrics(prediction) -> dict:
        y_true, y_pred = prediction.label_ids, np.asarray(prediction.predictions).argmax(axis=-1)
        f1 = f1_score(y_true, y_pred, labels=range(len(labels)), average=None, zero_division=0)
        present = [i for i in range(len(labels)) if (y_true == i).any()]
        return {
            "macro_f1": float(np.mean(f1[present])),
            "minority_f1": float(np.mean([f1[i] for i in minority if i in present] or [0.0])),
        }

    args = training_arguments(settings, checkpoints, eval_steps, bf16)
    losses = RowLosses(len(train_rows)) if settings.hard_example_sampling else None
    sampler = EpochSampler(
        train_rows.lengths(),
        settings.batch_size * settings.grad_accum,
        seed=settings.seed,
        losses=losses,
        floor=settings.hard_example_floor,
    )
    callbacks = [
        EarlyStoppingCallback(early_stopping_patience=settings.patience),
        SamplerCallback(sampler),
        EvaluationSummary(),
    ]
    trainer = FocalTrainer(
        model=model,
        args=args,
        train_dataset=train_rows,
        eval_dataset=val_rows,
        data_collator=DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8 if torch.cuda.is_available() else None),
        compute_loss_func=loss_function(loss),
        compute_metrics=compute_metrics,
        callbacks=callbacks,
        loss=loss,
        sampler=sampler,
    )
    setup = fingerprint(
        loss.as_dict(),
        dict(lora),
        settings.__dict__,
        max_length,
        str(checkpoint),
        labels,
        world_size,
        dtype,
        list(train[TEXT]),
        list(train[LABEL]),
        list(val[TEXT]),
    )
    if trainer.is_world_process_zero():
        clean_checkpoints(checkpoints, setup)
    trainer.accelerator.wait_for_everyone()
    resume = last_checkpoint(checkpoints)
    if resume:
        log.info("resuming from %s", resume)
        if losses is not None and (Path(resume) / STATE_FILE).exists():
            losses.load_state_dict(torch.load(Path(resume) / STATE_FILE))
    with out_of_memory_advice(preset_name, settings, max_length):
        trainer.train(resume_from_checkpoint=resume)

    state = trainer.state
    summary = {
        "preset": preset_name,
        "loss": loss.as_dict(),
        "best_step": _step_of(state.best_model_checkpoint),
        "early_stopping_metric": f"val_{settings.early_stopping_metric}",
        "best_metric": state.best_metric,
        "steps": state.global_step,
        "max_steps": state.max_steps,
        "stop_reason": "early_stopping" if state.global_step < state.max_steps else "max_epochs",
        "train_rows": len(train_rows),
        "hard_example_sampling": settings.hard_example_sampling,
        "seconds": round(time.time() - started, 2),
        "peak_memory_mb": peak_memory_mb(),
        "dtype": dtype,
        "bf16": args.bf16,
        "world_size": args.world_size,
        "resumed_from": resume,
    }
    log.info(
        "process %d of %d trained %d steps (%s)",
        args.process_index,
        args.world_size,
        state.global_step,
        summary["stop_reason"],
    )
    if trainer.is_world_process_zero():
        with atomic_dir(out_dir / "adapter") as tmp:
            save_adapter(
                trainer.model, tmp, labels, {"preset": preset_name, "loss": loss.as_dict(), "max_length": max_length}
            )
        with atomic_path(out_dir / "train_log.csv") as tmp:
            tmp.write_text(log_table(state.log_history), encoding="utf-8")
        write_json(out_dir / "train_summary.json", summary)
        shutil.rmtree(checkpoints, ignore_errors=True)
        log.info("process %d wrote %s", args.process_index, out_dir)
    return summary


@contextlib.contextmanager
def out_of_memory_advice(preset: str, settings: TrainSettings, max_length: int) -> Iterator[None]:
    """A GPU running out of memory becomes one message naming the settings to lower."""
    try:
        yield
    except torch.OutOfMemoryError:
        raise UserError(
            f"preset {preset!r} ran out of GPU memory with train.batch_size {settings.batch_size} (training and "
            f"its validation passes) and model.max_length {max_length}; halve train.batch_size and double "
            "train.grad_accum (same effective batch), turn on train.gradient_checkpointing, or lower "
            "model.max_length (balance's summary.json says how many rows are longer). A rerun with the same "
            "settings resumes from the last checkpoint; changing any of these starts the preset afresh."
        ) from None


def _step_of(checkpoint: str | None) -> int | None:
    return int(checkpoint.rsplit("-", 1)[1]) if checkpoint else None


def peak_memory_mb() -> float:
    """Peak accelerator memory when on a GPU, else the process's peak resident memory."""
    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
