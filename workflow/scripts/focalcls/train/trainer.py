"""The pieces transformers.Trainer is built from for one preset: datasets, loss, metrics, arguments, sampler."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import (
    EarlyStoppingCallback,
    EvalPrediction,
    PreTrainedTokenizerBase,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from focalcls.core.errors import UserError
from focalcls.core.metrics import f1_summary
from focalcls.data.cleaning import LABEL, TEXT
from focalcls.train.losses import focal_loss
from focalcls.train.presets import LossSpec
from focalcls.train.sampling import EpochSampler, RowLosses, SamplerCallback
from focalcls.train.settings import TrainSettings

log = logging.getLogger(__name__)
ROW = "row"  # each row's number in the training table, for difficulty-aware sampling


class TokenizedRows(torch.utils.data.Dataset):
    """Tokenised texts with their class ids and row numbers; padding is left to the collator (per batch)."""

    def __init__(self, frame: pd.DataFrame, labels: Sequence[str], tokenizer: PreTrainedTokenizerBase, max_length: int):
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

    def by_length(self) -> TokenizedRows:
        """The same rows, shortest first: batches read in order then pad little (validation passes, whose
        F1 does not depend on the order of the rows)."""
        self.items.sort(key=lambda item: len(item["input_ids"]))
        return self


class PadToLongest:
    """Collates rows into a batch padded on the right to its longest row (to a multiple of `multiple`) with
    `pad_id`. Not transformers' DataCollatorWithPadding: a Trainer writes its collator's tokenizer into every
    checkpoint (the demo's: 33 MB and 0.7 s a checkpoint), and resuming never reads it."""

    def __init__(self, pad_id: int, multiple: int = 1):
        self.pad_id, self.multiple = pad_id, multiple

    def __call__(self, rows: Sequence[dict]) -> dict[str, torch.Tensor]:
        width = math.ceil(max(len(row["input_ids"]) for row in rows) / self.multiple) * self.multiple
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row["input_ids"])] = torch.tensor(row["input_ids"])
            mask[i, : len(row["input_ids"])] = torch.tensor(row["attention_mask"])
        rest = {
            key: torch.tensor([row[key] for row in rows])
            for key in rows[0]
            if key not in ("input_ids", "attention_mask")
        }
        return {"input_ids": ids, "attention_mask": mask, **rest}


class FocalTrainer(Trainer):
    """Trainer whose batches come from EpochSampler; it takes the row numbers out of each batch before
    the model sees them and, with difficulty-aware sampling on, records each training row's loss."""

    def __init__(
        self, *args, loss: LossSpec, sampler: EpochSampler, clock: PhaseClock, head_lr: float | None = None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.loss_spec, self.sampler, self.clock, self.head_lr = loss, sampler, clock, head_lr

    def create_optimizer(self, model=None):
        fresh = self.optimizer is None  # Trainer returns the optimizer it made when asked again
        optimizer = super().create_optimizer(model)
        if fresh and self.head_lr is not None:
            give_head_its_lr(optimizer, head_parameters(self.model if model is None else model), self.head_lr)
        return optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        rows, targets = inputs.pop(ROW), inputs["labels"]  # Trainer pops the labels
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        if self.sampler.losses is not None and model.training:
            # Without alpha: class weights already act in the loss; drawing by them too would square them.
            unweighted = {**self.loss_spec.loss_arguments(), "alpha": None}
            per_row = focal_loss(outputs.logits.detach(), targets, reduction="none", **unweighted)
            self.sampler.losses.record(rows, per_row)
        return (loss, outputs) if return_outputs else loss

    def _get_train_sampler(self, train_dataset=None):
        return self.sampler


def head_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The classification head's trained parameters: peft trains it in full as its only module to save."""
    found = [p for name, p in model.named_parameters() if "modules_to_save" in name and p.requires_grad]
    if not found:
        raise RuntimeError("train.head_lr is set but the model has no trained classification head")
    return found


def give_head_its_lr(optimizer: torch.optim.Optimizer, head: Sequence[torch.nn.Parameter], lr: float) -> None:
    """Moves the head's parameters out of each group into a copy of that group (its weight decay kept) with
    learning rate `lr`. Done before Trainer makes the scheduler, which then warms up and decays every
    group's rate alike, and before a checkpoint's optimizer state is loaded into the same groups."""
    ids = {id(p) for p in head}
    for group in list(optimizer.param_groups):
        moved = [p for p in group["params"] if id(p) in ids]
        if moved:
            group["params"] = [p for p in group["params"] if id(p) not in ids]
            optimizer.add_param_group({**{k: v for k, v in group.items() if k != "params"}, "params": moved, "lr": lr})


class PhaseClock(TrainerCallback):
    """Seconds of trainer.train() spent in validation passes and in checkpoint writes (from the end of a
    validation pass to its checkpoint's on_save), so the summary can say what a job costs besides its steps."""

    def __init__(self):
        self.validation, self.checkpoints, self._evaluated_at = 0.0, 0.0, None

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.validation += float((metrics or {}).get("eval_runtime", 0.0))
        self._evaluated_at = time.perf_counter()

    def on_save(self, args, state, control, **kwargs):
        if self._evaluated_at is not None:
            self.checkpoints += time.perf_counter() - self._evaluated_at
            self._evaluated_at = None


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


class LossNotFinite(UserError):
    """Training diverged; train_preset names the preset."""


class StopOnNonFiniteLoss(TrainerCallback):
    """A NaN or infinite training loss stops the job at the next log line (every 10 steps at most), before
    any adapter is written: an adapter of NaNs would otherwise pass as trained."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        for key in ("loss", "train_loss"):
            if key in (logs or {}) and not math.isfinite(float(logs[key])):
                raise LossNotFinite(
                    f"the training loss is {logs[key]} at step {state.global_step}; lower train.lr or "
                    "train.max_grad_norm, or use train.precision fp32 if bf16 or fp16 overflows"
                )


def loss_function(loss: LossSpec) -> Callable:
    """Trainer's compute_loss_func. In training Trainer passes num_items_in_batch (rows over all
    accumulation steps, and all processes) and expects the loss already normalised by it."""

    settings = loss.loss_arguments()

    def compute(outputs, targets, num_items_in_batch=None):
        if num_items_in_batch is None:
            return focal_loss(outputs.logits, targets, **settings)
        return focal_loss(outputs.logits, targets, reduction="sum", **settings) / num_items_in_batch

    return compute


def validation_metrics(labels: Sequence[str], train_counts: Mapping[str, int]) -> Callable[[EvalPrediction], dict]:
    """Trainer's compute_metrics: the report's own F1 averages (metrics.f1_summary), so the training log's
    validation figures and the evaluation's agree on the same predictions."""

    def compute(prediction: EvalPrediction) -> dict:
        y_pred = np.asarray(prediction.predictions).argmax(axis=-1)
        scores = f1_summary(np.asarray(prediction.label_ids), y_pred, labels, train_counts)
        return {"macro_f1": scores["macro_f1"], "minority_f1": scores["minority_f1"]}

    return compute


def world_size() -> int:
    """How many processes train together (accelerate sets WORLD_SIZE; a plain run is one)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def steps_per_epoch(rows: int, settings: TrainSettings, processes: int) -> int:
    """Optimizer steps in one epoch: each of the processes takes its share of the rows."""
    batches = int(np.ceil(np.ceil(rows / processes) / settings.batch_size))
    return max(1, int(np.ceil(batches / settings.grad_accum)))


def training_arguments(
    settings: TrainSettings, checkpoints: Path, eval_steps: int, compute: str, report_to: Sequence[str] = ()
) -> TrainingArguments:
    """Evaluate and checkpoint every eval_steps; keep the best checkpoint by the early-stopping metric.
    `compute` (bf16, fp16, fp32) is the Trainer's own autocast; fp16 adds its loss scaling. `report_to`:
    the Trainer's integrations that get its logs (train.report_to), none when empty."""
    return TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=settings.epochs,
        per_device_train_batch_size=settings.batch_size,
        # Validation batches as large as training ones: they fit wherever training fits (no gradients kept).
        per_device_eval_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        learning_rate=settings.lr,
        weight_decay=settings.weight_decay,
        # Not a bug: transformers 5 reads a float below 1 as a fraction of all steps (warmup_ratio is deprecated).
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
        logging_nan_inf_filter=False,  # a NaN step must show in the log, where StopOnNonFiniteLoss stops the job
        remove_unused_columns=False,  # the row numbers must reach compute_loss
        bf16=compute == "bf16",
        fp16=compute == "fp16",
        use_cpu=not torch.cuda.is_available(),
        gradient_checkpointing=settings.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if settings.gradient_checkpointing else None,
        ddp_find_unused_parameters=False,
        seed=settings.seed,
        data_seed=settings.seed,
        report_to=list(report_to) or "none",
        disable_tqdm=False,
        label_names=["labels"],
        dataloader_num_workers=0,
    )


def build_trainer(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    *,
    train: pd.DataFrame,
    val: pd.DataFrame,
    labels: Sequence[str],
    train_counts: Mapping[str, int],
    loss: LossSpec,
    settings: TrainSettings,
    max_length: int,
    checkpoints: Path,
    compute: str,
    report_to: Sequence[str] = (),
) -> FocalTrainer:
    """A Trainer for one preset: length-grouped (optionally loss-weighted) batches, the preset's loss,
    validation and a checkpoint every train.eval_steps (default once per epoch), early stopping."""
    train_rows = TokenizedRows(train, labels, tokenizer, max_length)
    eval_steps = settings.eval_steps or steps_per_epoch(len(train_rows), settings, world_size())
    losses = RowLosses(len(train_rows)) if settings.hard_example_sampling else None
    clock = PhaseClock()
    sampler = EpochSampler(
        train_rows.lengths(),
        settings.batch_size * settings.grad_accum,
        seed=settings.seed,
        losses=losses,
        floor=settings.hard_example_floor,
    )
    return FocalTrainer(
        model=model,
        args=training_arguments(settings, checkpoints, eval_steps, compute, report_to),
        train_dataset=train_rows,
        eval_dataset=TokenizedRows(val, labels, tokenizer, max_length).by_length(),
        data_collator=PadToLongest(tokenizer.pad_token_id, multiple=8 if torch.cuda.is_available() else 1),
        compute_loss_func=loss_function(loss),
        compute_metrics=validation_metrics(labels, train_counts),
        callbacks=[
            EarlyStoppingCallback(early_stopping_patience=settings.patience),
            SamplerCallback(sampler),
            EvaluationSummary(),
            StopOnNonFiniteLoss(),
            clock,
        ],
        loss=loss,
        sampler=sampler,
        clock=clock,
        head_lr=settings.head_lr,
    )
