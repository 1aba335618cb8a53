"""LoRA fine-tuning of a sequence classifier with a focal (or cross-entropy) loss, on transformers.Trainer.

train_preset ties the steps together; the settings are in settings, the Trainer's parts in trainer, resuming
in checkpoints, and what a preset leaves behind in outputs."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pandas as pd
import torch
from transformers import PreTrainedTokenizerBase, TrainerCallback, set_seed

from focalcls.core.errors import UserError
from focalcls.data.cleaning import LABEL, TEXT, class_counts
from focalcls.devices.precision import compute_precision, resolve_dtype
from focalcls.train.checkpoints import FOLDER, fingerprint, resume_point
from focalcls.train.fast_dropout import use_fast_lora_dropout
from focalcls.train.head_init import init_head
from focalcls.train.model import add_lora, load_classifier, load_tokenizer
from focalcls.train.outputs import training_summary, write_outputs
from focalcls.train.presets import LossSpec
from focalcls.train.settings import TrainSettings
from focalcls.train.tracking import NOT_TRACKED, tensorboard_folder, tracked_training
from focalcls.train.trainer import LossNotFinite, build_trainer, world_size


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
    dtype: str,
    trust_remote_code: bool,
    run_name: str | None = None,
    tracking: Mapping | None = None,
    callbacks: Sequence[TrainerCallback] = (),
) -> dict:
    """Train one adapter; writes out_dir/{adapter/, train_log.csv, train_summary.json}; returns the summary.
    A rerun of the same setup resumes from its last checkpoint under out_dir/checkpoints. `tracking`
    (focalcls.train.tracking.tracking_settings; None: nowhere) says where the curves of the run `run_name` (the
    preset's name unless given) also go. `callbacks` join the Trainer's own (a benchmark watching each
    validation pass; the workflow adds none)."""
    tracking = tracking or NOT_TRACKED
    started = time.time()
    set_seed(settings.seed)
    compute, dtype = compute_and_weight_types(settings.precision, dtype)
    counts = class_counts(train, labels)
    preset = {"loss": loss, "settings": settings, "max_length": max_length}  # what both steps need to know
    model, tokenizer = prepared_model(
        checkpoint, train, labels, counts, lora=lora, dtype=dtype, bf16=compute == "bf16",
        trust_remote_code=trust_remote_code, preset_name=preset_name, **preset,
    )  # fmt: skip
    checkpoints = out_dir / FOLDER
    if "tensorboard" in tracking["report_to"]:
        tensorboard_folder(out_dir)
    trainer = build_trainer(
        model, tokenizer, train=train, val=val, labels=labels, train_counts=counts, checkpoints=checkpoints,
        compute=compute, report_to=tracking["report_to"], **preset,
    )  # fmt: skip
    for callback in callbacks:
        trainer.add_callback(callback)
    # Anything that changes what training would do is in the key, so no other setup's checkpoint is resumed.
    key = settings.resume_key()
    setup = (loss.as_dict(), dict(lora), key, max_length, str(checkpoint), labels, world_size(), dtype)
    data = (list(train[TEXT]), list(train[LABEL]), list(val[TEXT]))
    resume = resume_point(trainer, checkpoints, fingerprint(*setup, *data))
    set_up = time.time()
    mlflow_run = train_tracked(
        trainer, resume, tracking, out_dir=out_dir, run=run_name or preset_name, preset_name=preset_name,
        settings=settings, max_length=max_length,
    )  # fmt: skip
    summary = training_summary(
        trainer, preset=preset_name, loss=loss, settings=settings, dtype=dtype, resumed_from=resume,
        started=started, set_up=set_up, mlflow_run_id=mlflow_run,
    )  # fmt: skip
    write_outputs(trainer, out_dir, summary, labels, max_length, checkpoints)
    return summary


def train_tracked(
    trainer,
    resume: str | None,
    tracking: Mapping,
    *,
    out_dir: Path,
    run: str,
    preset_name: str,
    settings: TrainSettings,
    max_length: int,
) -> str | None:
    """trainer.train, resumed from `resume`, inside the run's tracking (its MLflow run id, None where MLflow is
    off); a diverged loss or a GPU out of memory becomes one message naming the preset."""
    tracked = tracked_training(
        tracking,
        out_dir=out_dir,
        checkpoints=out_dir / FOLDER,
        run=run,
        resumed=resume is not None,
        main=trainer.is_world_process_zero(),
    )
    with tracked as mlflow_run:
        try:
            with out_of_memory_advice(preset_name, settings, max_length):
                trainer.train(resume_from_checkpoint=resume)
        except LossNotFinite as e:
            raise UserError(f"preset {preset_name!r}: {e}") from None
    return mlflow_run


def compute_and_weight_types(precision: str, dtype: str) -> tuple[str, str]:
    """The compute precision (bf16, fp16 or fp32) and the weights' dtype, from train.precision and model.dtype
    (auto resolved); bfloat16 weights under other compute are refused early, before any model loads."""
    compute = compute_precision(precision)
    dtype = resolve_dtype(dtype, compute)
    if dtype == "bfloat16" and compute != "bf16":
        raise UserError(
            "model.dtype bfloat16 needs bf16 compute: set train.precision to bf16 (or auto where the GPU or CPU "
            "computes bf16)"
        )
    return compute, dtype


def prepared_model(
    checkpoint: str,
    train: pd.DataFrame,
    labels: Sequence[str],
    counts: Mapping[str, int],
    *,
    loss: LossSpec,
    lora: Mapping,
    settings: TrainSettings,
    max_length: int,
    dtype: str,
    bf16: bool,
    trust_remote_code: bool,
    preset_name: str,
) -> tuple[torch.nn.Module, PreTrainedTokenizerBase]:
    """The base model as a classifier, its head set to the training classes' prior (read in the compute
    precision, `bf16` or not, that training will use), LoRA adapters added; and its tokenizer."""
    tokenizer = load_tokenizer(checkpoint, trust_remote_code=trust_remote_code)
    model = load_classifier(
        checkpoint, labels, pad_token_id=tokenizer.pad_token_id, dtype=dtype, trust_remote_code=trust_remote_code
    )
    if torch.cuda.is_available():  # the head's forward pass on the GPU this process trains on, not the CPU
        model.to(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}")
    sample = list(train[TEXT].sample(frac=1.0, random_state=settings.seed))
    with out_of_memory_advice(preset_name, settings, max_length):
        init_head(model, tokenizer, sample, [counts[x] for x in labels], loss.form, max_length, loss.logit_offset, bf16)
    model = add_lora(
        model, r=lora["r"], alpha=lora["alpha"], dropout=lora["dropout"], target_modules=lora["target_modules"]
    )
    if not torch.cuda.is_available():  # torch's CPU dropout draws a float per element: up to a quarter of a step
        use_fast_lora_dropout(model)
    if settings.gradient_checkpointing:
        model.enable_input_require_grads()  # else LoRA weights behind checkpointed blocks get no gradient
    return model, tokenizer


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
            "model.max_length (results/data/summary.json says how many rows are longer). A rerun with the same "
            "settings resumes from the last checkpoint; changing any of these starts the preset afresh."
        ) from None
