"""What a trained preset leaves behind: adapter/, train_log.csv and train_summary.json, each written atomically."""

from __future__ import annotations

import csv
import io
import logging
import resource
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from focalcls.core.atomic import atomic_dir, atomic_path, write_json
from focalcls.train.model import save_adapter
from focalcls.train.presets import LossSpec
from focalcls.train.settings import TrainSettings

if TYPE_CHECKING:
    from focalcls.train.trainer import FocalTrainer

log = logging.getLogger(__name__)
LOG_COLUMNS = ["step", "epoch", "lr", "train_loss", "val_loss", "val_macro_f1", "val_minority_f1"]


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


def training_summary(
    trainer: FocalTrainer,
    *,
    preset: str,
    loss: LossSpec,
    settings: TrainSettings,
    dtype: str,
    resumed_from: str | None,
    started: float,
    set_up: float,
    mlflow_run_id: str | None,
) -> dict:
    """train_summary.json: where training stopped and why, what it cost (in all, and by phase from `started`
    and `set_up`, when the model, its head and the Trainer were ready), what it resumed from, and the MLflow
    run it logged to (the track rule logs the test metrics there)."""
    state, args = trainer.state, trainer.args
    now, clock = time.time(), trainer.clock
    summary = {
        "preset": preset,
        "loss": loss.as_dict(),
        "best_step": _step_of(state.best_model_checkpoint),
        "early_stopping_metric": f"val_{settings.early_stopping_metric}",
        "best_metric": state.best_metric,
        "steps": state.global_step,
        "max_steps": state.max_steps,
        "stop_reason": "early_stopping" if state.global_step < state.max_steps else "max_epochs",
        "train_rows": len(trainer.train_dataset),
        "hard_example_sampling": settings.hard_example_sampling,
        "seconds": round(now - started, 2),
        "phase_seconds": {
            "model load, head init, LoRA, Trainer": round(set_up - started, 2),
            "optimizer steps": round(now - set_up - clock.validation - clock.checkpoints, 2),
            "validation passes": round(clock.validation, 2),
            "checkpoint writes": round(clock.checkpoints, 2),
        },
        "peak_memory_mb": peak_memory_mb(),
        "dtype": dtype,
        "bf16": args.bf16,
        "fp16": args.fp16,
        "world_size": args.world_size,
        "resumed_from": resumed_from,
        "mlflow_run_id": mlflow_run_id,
    }
    log.info(
        "process %d of %d trained %d steps (%s)",
        args.process_index,
        args.world_size,
        state.global_step,
        summary["stop_reason"],
    )
    return summary


def write_outputs(
    trainer: FocalTrainer, out_dir: Path, summary: dict, labels: Sequence[str], max_length: int, checkpoints: Path
) -> None:
    """The first process writes the adapter (with the label map), the log and the summary, then drops the
    checkpoints: a finished preset is never resumed. The others write nothing."""
    if not trainer.is_world_process_zero():
        return
    meta = {"preset": summary["preset"], "loss": summary["loss"], "max_length": max_length}
    with atomic_dir(out_dir / "adapter") as tmp:
        save_adapter(trainer.model, tmp, labels, meta)
    with atomic_path(out_dir / "train_log.csv") as tmp:
        tmp.write_text(log_table(trainer.state.log_history), encoding="utf-8")
    write_json(out_dir / "train_summary.json", summary)
    shutil.rmtree(checkpoints, ignore_errors=True)
    log.info("process %d wrote %s", trainer.args.process_index, out_dir)


def _step_of(checkpoint: str | None) -> int | None:
    return int(checkpoint.rsplit("-", 1)[1]) if checkpoint else None


def peak_memory_mb() -> float:
    """Peak accelerator memory when on a GPU, else the process's peak resident memory."""
    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
