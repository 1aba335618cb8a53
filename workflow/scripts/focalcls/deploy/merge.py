"""Base model + adapter -> one plain transformers folder that loads without peft or this workflow."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from transformers import AutoConfig

from focalcls.core.atomic import atomic_dir, write_json, write_text
from focalcls.train.model import DTYPES, load_trained_classifier

MERGED_META = "focalcls.json"


def checkpoint_dtype(checkpoint: str | os.PathLike, *, trust_remote_code: bool = False) -> str:
    """The dtype the base checkpoint was published in (bf16 for Qwen3), so a merged folder is no larger."""
    config = AutoConfig.from_pretrained(str(checkpoint), trust_remote_code=trust_remote_code)
    dtype = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    name = str(dtype).replace("torch.", "") if dtype is not None else "float32"
    return name if name in DTYPES else "float32"


def merge_adapter(
    checkpoint: str | os.PathLike,
    adapter: str | os.PathLike,
    labels: Sequence[str],
    out_folder: Path,
    *,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    card: str | None = None,
) -> dict:
    """Fold the LoRA weights into the base weights (in float32), keep the trained head, save safetensors.

    config.id2label carries the label names. A sigmoid-form preset is marked multi_label_classification,
    so transformers' pipeline scores it with a sigmoid as it was trained; the argmax is the same either way.
    `card`, the run's model card, becomes the folder's README.md.
    """
    model, tokenizer, meta = load_trained_classifier(
        checkpoint, adapter, labels, trust_remote_code=trust_remote_code, allow_pickle=allow_pickle
    )
    merged = model.merge_and_unload()
    merged.config.id2label = dict(enumerate(labels))
    merged.config.label2id = {label: i for i, label in enumerate(labels)}
    if meta["loss"]["form"] == "sigmoid":
        merged.config.problem_type = "multi_label_classification"
    dtype = checkpoint_dtype(checkpoint, trust_remote_code=trust_remote_code)
    merged.to(DTYPES[dtype])
    with atomic_dir(out_folder) as tmp:
        merged.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        write_json(tmp / MERGED_META, {**meta, "dtype": dtype, "base": str(checkpoint)})
        if card is not None:
            write_text(tmp / "README.md", card)
    return meta
