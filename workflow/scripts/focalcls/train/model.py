"""Base checkpoint -> LoRA sequence classifier; save and reload adapters with their label map, verified.

transformers' model classes and peft are imported in the functions that use them: the split and zero-shot
jobs import this module for the tokenizer alone, and those imports are about 2 s of such a job's start."""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer

from focalcls.config.checks import require_tokenizer_files
from focalcls.config.outside_adapters import ADAPTER_META, ADAPTER_WEIGHTS, HEAD_NAMES, PICKLED_WEIGHTS
from focalcls.core.atomic import read_json, write_json
from focalcls.core.errors import UserError
from focalcls.devices.precision import inference_types

if TYPE_CHECKING:
    from peft import PeftModel
    from transformers import PreTrainedModel

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
SAMPLE_TEXT = "Sample text, 样本文本 123"  # any working tokenizer gives it tokens, unknown ones at worst


@contextlib.contextmanager
def refusing_remote_code(checkpoint: str | os.PathLike) -> Iterator[None]:
    """transformers refuses a checkpoint's own code unless trust_remote_code; say so as a config error."""
    try:
        yield
    except ValueError as e:
        if "trust_remote_code" not in str(e):
            raise
        raise UserError(
            f"model.checkpoint {str(checkpoint)!r} ships its own Python code, which was not run; set "
            "model.trust_remote_code: true only if you have read that code and trust it"
        ) from None


def load_tokenizer(checkpoint: str | os.PathLike, *, trust_remote_code: bool = False):
    """The checkpoint's tokenizer, padding on the right; refused when its files are missing or it encodes a
    sample text to nothing (transformers then builds an empty one, and the data stages count 0 tokens)."""
    require_tokenizer_files(Path(checkpoint))
    with refusing_remote_code(checkpoint):
        tokenizer = AutoTokenizer.from_pretrained(str(checkpoint), trust_remote_code=trust_remote_code)
    if not tokenizer(SAMPLE_TEXT, add_special_tokens=False)["input_ids"]:
        raise UserError(
            f"the tokenizer in model.checkpoint {str(checkpoint)!r} encodes {SAMPLE_TEXT!r} to no tokens: its "
            "tokenizer files are broken or belong to another model; copy them again from the model's download"
        )
    if tokenizer.pad_token is None:
        # Without a pad token the classifier cannot find the last real token of a padded row.
        tokenizer.pad_token = tokenizer.eos_token
        log.warning("tokenizer has no pad token; using eos %r", tokenizer.eos_token)
    tokenizer.padding_side = "right"
    return tokenizer


def load_classifier(
    checkpoint: str | os.PathLike,
    labels: Sequence[str],
    *,
    pad_token_id: int,
    dtype: str = "float32",
    trust_remote_code: bool = False,
) -> PreTrainedModel:
    """A sequence-classification model with a fresh head of len(labels) outputs."""
    from transformers import AutoModelForSequenceClassification  # here, not above: see the module's docstring

    with refusing_remote_code(checkpoint):
        model = AutoModelForSequenceClassification.from_pretrained(
            str(checkpoint),
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            dtype=DTYPES[dtype],
            use_safetensors=True,
            trust_remote_code=trust_remote_code,
        )
    model.config.pad_token_id = pad_token_id
    # The head is trained in full: keep it (and so its optimizer state) in float32 whatever the base dtype.
    model.get_submodule(head_name(model)).float()
    return model


def output_layer(model: torch.nn.Module) -> torch.nn.Linear:
    return last_linear(getattr(model, head_name(model)))


def last_linear(head: torch.nn.Module) -> torch.nn.Linear:
    """A head's last Linear: the head itself, or out_proj of a dense + out_proj head."""
    if isinstance(head, torch.nn.Linear):
        return head
    return [m for m in head.modules() if isinstance(m, torch.nn.Linear)][-1]


def head_name(model: torch.nn.Module) -> str:
    for name in HEAD_NAMES:
        if hasattr(model, name):
            return name
    raise UserError(f"{type(model).__name__} has no classification head named {HEAD_NAMES}; this model is unsupported")


def add_lora(model: PreTrainedModel, *, r: int, alpha: int, dropout: float, target_modules) -> PeftModel:
    from peft import LoraConfig, TaskType, get_peft_model  # here, not above: see the module's docstring

    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=target_modules,
        modules_to_save=[head_name(model)],
    )
    return get_peft_model(model, config)


def save_adapter(model: PeftModel, folder: Path, labels: Sequence[str], meta: dict) -> None:
    """peft adapter (safetensors) plus the label map and the loss settings it was trained with."""
    model.save_pretrained(str(folder), safe_serialization=True)
    write_json(folder / ADAPTER_META, {"labels": list(labels), **meta})


def adapter_meta(folder: str | os.PathLike) -> dict:
    path = Path(folder) / ADAPTER_META
    if not path.exists():
        raise UserError(f"{folder}: not an adapter folder of this workflow (no {ADAPTER_META}); rerun the train rule")
    return read_json(path)


def load_trained_classifier(
    checkpoint: str | os.PathLike,
    adapter: str | os.PathLike,
    labels: Sequence[str],
    *,
    dtype: str = "float32",
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
):
    """Base model + adapter, in eval mode, with the head checked against the saved weights. The head's
    outputs follow `labels`: an adapter that saved the same labels in another order (one trained elsewhere)
    is mapped by name; the meta returned gives the labels in that order."""
    adapter = Path(adapter)
    meta = adapter_meta(adapter)
    saved = list(meta["labels"])
    if sorted(saved) != sorted(labels):
        raise UserError(
            f"{adapter}/{ADAPTER_META} has labels {saved} but results/data/labels.json has "
            f"{list(labels)}; retrain this preset (delete {adapter}) so both agree"
        )
    adapter_weights(adapter, allow_pickle)  # which file, or a clear refusal, before any model is loaded
    tokenizer = load_tokenizer(checkpoint, trust_remote_code=trust_remote_code)
    base = load_classifier(
        checkpoint, labels, pad_token_id=tokenizer.pad_token_id, dtype=dtype, trust_remote_code=trust_remote_code
    )
    saved_head(adapter, head_name(base))  # a clear error before peft's KeyError
    from peft import PeftModel  # here, not above: see the module's docstring

    model = PeftModel.from_pretrained(base, str(adapter), is_trainable=False)
    verify_head(model, adapter)
    if saved != list(labels):
        order_outputs(model, [saved.index(label) for label in labels])
    model.eval()
    return model, tokenizer, {**meta, "labels": list(labels)}


def order_outputs(model: PeftModel, order: Sequence[int]) -> None:
    """Output i of the trained head becomes its saved output order[i]: its output layer's rows permuted, so
    every caller (evaluation, predict, merge) reads the outputs in the data's label order."""
    base = model.base_model.model
    wrapper = base.get_submodule(head_name(base))
    layer = last_linear(wrapper.modules_to_save[model.active_adapter])
    with torch.no_grad():
        layer.weight.copy_(layer.weight[list(order)])
        if layer.bias is not None:
            layer.bias.copy_(layer.bias[list(order)])


def adapter_weights(adapter: Path, allow_pickle: bool = False) -> Path:
    """The adapter's weights file: safetensors, or a pickle only when model.allow_pickle says so."""
    if (adapter / ADAPTER_WEIGHTS).exists():
        return adapter / ADAPTER_WEIGHTS
    if (adapter / PICKLED_WEIGHTS).exists():
        if not allow_pickle:
            raise UserError(
                f"{adapter}: {PICKLED_WEIGHTS} is a pickle, which can run code when loaded; convert it to "
                f"{ADAPTER_WEIGHTS}, or set model.allow_pickle: true only if you trust where it came from"
            )
        return adapter / PICKLED_WEIGHTS
    raise UserError(f"{adapter}: no {ADAPTER_WEIGHTS}; rerun the train rule for this preset")


def saved_head(adapter: Path, head: str) -> dict[str, torch.Tensor]:
    """The classification head's tensors in an adapter file; without them peft cannot restore the head."""
    path = adapter_weights(adapter, allow_pickle=True)  # the caller already refused a pickle it may not read
    # weights_only: tensors are read, no other object is built from the pickle.
    try:
        saved = load_file(str(path)) if path.suffix == ".safetensors" else torch.load(path, weights_only=True)
    except pickle.UnpicklingError as e:
        reason = str(e).strip().splitlines()[0]
        raise UserError(
            f"{path}: refused: the pickle holds more than tensors ({reason}); it may be hostile. "
            "Retrain the preset with this workflow, which writes safetensors"
        ) from None
    weights = {k: v for k, v in saved.items() if f".{head}." in f".{k}"}
    if not weights:
        raise UserError(f"{adapter}: the adapter holds no classification head ({head}); retrain with this workflow")
    return weights


def verify_head(model: PeftModel, adapter: Path) -> None:
    """The head peft put in use must hold the saved weights, not a fresh random initialisation."""
    head = head_name(model.base_model.model)
    live = dict(model.named_parameters())
    for key, value in saved_head(adapter, head).items():
        suffix = key.split(f"{head}.", 1)[1]
        matches = [v for k, v in live.items() if f"{head}.modules_to_save." in k and k.endswith(suffix)]
        if not matches or not torch.equal(matches[0].detach().cpu(), value.to(matches[0].dtype)):
            raise UserError(
                f"{adapter}: the classification head did not load (weights differ from the saved ones); "
                "the adapter or peft version is incompatible: retrain this preset"
            )


def load_for_inference(
    checkpoint: str | os.PathLike,
    adapter: str | os.PathLike,
    labels: Sequence[str],
    *,
    model_config: dict,
    precision: str,
    device: torch.device | str | None = None,
):
    """Base + adapter, verified, on `device` (default: the job's GPU if any); returns (model, tokenizer, meta, bf16)."""
    bf16, dtype = inference_types(precision, model_config["dtype"])
    model, tokenizer, meta = load_trained_classifier(
        checkpoint,
        adapter,
        labels,
        dtype=dtype,
        trust_remote_code=model_config["trust_remote_code"],
        allow_pickle=model_config["allow_pickle"],
    )
    model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return model, tokenizer, meta, bf16
