"""Resuming a killed training safely: checkpoints are resumed only by the very setup that wrote them."""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import SafetensorError, safe_open
from transformers.trainer_utils import get_last_checkpoint

from focalcls.train.model import ADAPTER_WEIGHTS
from focalcls.train.sampling import STATE_FILE

if TYPE_CHECKING:
    from focalcls.train.trainer import FocalTrainer

log = logging.getLogger(__name__)
FOLDER = "checkpoints"  # under the preset's output folder; removed once the adapter is written


def fingerprint(*parts) -> str:
    """Identifies a training setup, so checkpoints of another setup are never resumed."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def unreadable(checkpoint: Path) -> str | None:
    """Why a resume from `checkpoint` would crash, or None when it can be resumed. Trainer writes
    trainer_state.json last, so a checkpoint without it was cut short by a kill; a full disk leaves it,
    the adapter weights or the row losses half written instead."""
    state = checkpoint / "trainer_state.json"
    if not state.exists():
        return "it was being written when the job stopped"
    try:
        json.loads(state.read_text(encoding="utf-8"))
        with safe_open(str(checkpoint / ADAPTER_WEIGHTS), "pt"):  # reads the header, checks the file's length
            pass
        if (checkpoint / STATE_FILE).exists():
            torch.load(checkpoint / STATE_FILE, weights_only=True)
    except (OSError, ValueError, RuntimeError, EOFError, pickle.UnpicklingError, SafetensorError) as e:
        return f"it cannot be read (a full disk?): {e.__class__.__name__}: {e}"
    return None


def clean_checkpoints(folder: Path, key: str) -> None:
    """Keep only checkpoints this setup can resume from: remove those of another setup (other loss, data
    or settings) and any checkpoint cut short by a kill or a full disk, so the resume goes back to the
    latest readable one, or starts afresh."""
    stamp = folder / "fingerprint.txt"
    if folder.is_dir() and (not stamp.exists() or stamp.read_text() != key):
        if any(folder.glob("checkpoint-*")):
            log.warning("removing checkpoints of a different setup in %s", folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp.write_text(key)
    for path in folder.glob("checkpoint-*"):
        reason = unreadable(path)
        if reason:
            log.warning("removing %s: %s", path, reason)
            shutil.rmtree(path)


def resume_point(trainer: FocalTrainer, folder: Path, key: str) -> str | None:
    """The checkpoint to resume from (the latest one this setup completed), or None to start afresh. The
    first process cleans the folder while the others wait, so no process picks a checkpoint about to go.
    The difficulty-aware sampler's row losses come back with it: they are not part of Trainer's state."""
    if trainer.is_world_process_zero():
        clean_checkpoints(folder, key)
    trainer.accelerator.wait_for_everyone()
    # A node that does not share the output folder has no checkpoints of its own: it starts afresh.
    resume = get_last_checkpoint(str(folder)) if folder.is_dir() else None
    if resume:
        log.info("resuming from %s", resume)
        losses = trainer.sampler.losses
        if losses is not None and (Path(resume) / STATE_FILE).exists():
            losses.load_state_dict(torch.load(Path(resume) / STATE_FILE))
    return resume
