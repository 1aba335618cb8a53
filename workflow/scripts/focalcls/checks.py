"""Configuration checks that the schema cannot express, run when the workflow is loaded (before any job)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from .errors import UserError


def check_checkpoint(path: str | os.PathLike) -> Path:
    """A local model folder with a config and safetensors weights, or a UserError saying what is wrong."""
    folder = Path(path)
    if not folder.is_dir():
        raise UserError(f"model.checkpoint {str(folder)!r} is not a folder; point it at a local model folder")
    if not (folder / "config.json").exists():
        raise UserError(f"model.checkpoint {str(folder)!r} has no config.json; is it a Hugging Face model folder?")
    if not list(folder.glob("*.safetensors")):
        raise UserError(
            f"model.checkpoint {str(folder)!r} has no *.safetensors weights; only safetensors are loaded "
            "(convert .bin weights with save_pretrained(safe_serialization=True))"
        )
    return folder


def check_config(config: Mapping) -> None:
    """Cross-key rules: where the data comes from, and what each preset's alpha can mean."""
    data = config["data"]
    presplit = [k for k in ("train", "val", "test") if data.get(k)]
    if data.get("raw") and presplit:
        raise UserError(f"set either data.raw or data.train/val/test, not both (data.raw and data.{presplit[0]} are set)")
    if not data.get("raw") and len(presplit) != 3:
        missing = [f"data.{k}" for k in ("train", "val", "test") if not data.get(k)]
        raise UserError(f"no input data: set data.raw, or all of data.train, data.val and data.test ({', '.join(missing)} unset)")
    for name, preset in config["presets"].items():
        alpha = preset.get("alpha")
        if preset.get("form") == "sigmoid" and isinstance(alpha, (int, float)) and not 0 < alpha < 1:
            raise UserError(f"presets.{name}.alpha is {alpha}; in the sigmoid form alpha must lie in (0, 1)")
        if preset.get("loss") == "ce" and preset.get("form") == "sigmoid":
            raise UserError(f"presets.{name}: loss ce is the softmax cross-entropy; drop 'form: sigmoid' or use loss: focal with gamma: 0")
    if config["model"]["checkpoint"] != "demo":
        check_checkpoint(config["model"]["checkpoint"])
