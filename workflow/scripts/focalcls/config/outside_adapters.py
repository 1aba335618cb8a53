"""Adapters trained elsewhere (evaluate.adapters): a PEFT sequence-classification folder, as peft's
save_pretrained writes it, checked when the workflow loads and imported into results/presets/<name>/adapter
with a label map, so evaluation, the report, predict and merge use it as they use a preset's own adapter.

Only the files' headers are read here (no torch, no pickle), so the checks run at load time, before any job."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from focalcls.core.atomic import atomic_dir, write_json
from focalcls.core.errors import UserError

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_META = "labels.json"  # beside the peft files: the label map and the loss settings
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PICKLED_WEIGHTS = "adapter_model.bin"  # older peft's format: a pickle, which can run code when it is loaded
MODEL_CONFIG = "config.json"  # the classifier's transformers config, when the folder carries one: its id2label
HEAD_NAMES = ("score", "classifier")
# The head's output layer in a saved state dict: the head itself (a Linear) or the out_proj of a dense + out_proj head.
OUTPUT_LAYER = re.compile(rf"\.({'|'.join(HEAD_NAMES)})(\.out_proj)?\.weight$")
DEFAULT_NAME = re.compile(r"^LABEL_\d+$")  # transformers' id2label when none was given: no names at all
# Names the report, predict and the results folder already use for something else (audit: the audit's fold runs).
TAKEN = ("tfidf", "direct", "best", "tuned", "tune", "audit")


def adapter_folder(entry: str | Mapping) -> Path:
    """An evaluate.adapters entry is a folder, or {folder:, labels:}."""
    return Path(entry if isinstance(entry, str) else entry["folder"])


def adapter_files(entry: str | Mapping) -> list[str]:
    """The files of a checked folder that the import reads: replacing one of them imports it again."""
    folder = adapter_folder(entry)
    return [str(folder / name) for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS, MODEL_CONFIG) if (folder / name).is_file()]


def check_adapter(name: str, entry: str | Mapping) -> list[str]:
    """The labels of the head's outputs, in their order, once the folder is known to hold a PEFT
    sequence-classification adapter with its head; else a UserError naming the key, the folder and the fix."""
    folder, where = adapter_folder(entry), key_and_folder(name, entry)
    if not folder.is_dir():
        raise UserError(f"{where} is not a folder; point it at the folder peft's save_pretrained wrote")
    if not (folder / ADAPTER_CONFIG).is_file():
        raise UserError(
            f"{where} has no {ADAPTER_CONFIG}, so it is not a PEFT adapter; point it at the folder that holds "
            f"{ADAPTER_CONFIG} and {ADAPTER_WEIGHTS} (the original tool's --lora_model folder)"
        )
    task = read_config(folder / ADAPTER_CONFIG, where).get("task_type")
    if task != "SEQ_CLS":
        raise UserError(
            f"{where} is a {task} adapter, not a sequence classifier; only adapters trained with "
            "AutoModelForSequenceClassification and task_type SEQ_CLS (their head saved beside them) can be scored"
        )
    head = head_outputs(weight_shapes(folder, where), where)
    labels = adapter_labels(name, entry, where)
    if head != len(labels):
        raise UserError(
            f"{where}: the head has {head} outputs but the adapter names {len(labels)} labels ({labels}); "
            "give the labels the head was trained with, one per output, in its order"
        )
    return labels


def key_and_folder(name: str, entry: str | Mapping) -> str:
    """How every message names an adapter: its key and its folder."""
    return f"evaluate.adapters.{name} ({str(adapter_folder(entry))!r})"


def read_config(path: Path, where: str) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{where}: {path.name} is not valid JSON ({e}); save the adapter again") from None


def weight_shapes(folder: Path, where: str) -> dict[str, list[int]]:
    """{tensor name: shape} from the safetensors header; a pickled file is refused, never opened."""
    from safetensors import safe_open

    path = folder / ADAPTER_WEIGHTS
    if not path.is_file():
        pickled = (folder / PICKLED_WEIGHTS).is_file()
        fix = (
            f"its {PICKLED_WEIGHTS} is a pickle, which can run code when loaded: load it with peft and save it "
            "again with save_pretrained(folder, safe_serialization=True)"
            if pickled
            else "save the adapter with peft's save_pretrained"
        )
        raise UserError(f"{where} has no {ADAPTER_WEIGHTS}; {fix}")
    try:
        with safe_open(str(path), framework="np") as f:
            return {key: list(f.get_slice(key).get_shape()) for key in f.keys()}
    except Exception as e:  # safetensors raises its own error type for a damaged header
        raise UserError(f"{where}: {ADAPTER_WEIGHTS} cannot be read ({e}); save the adapter again") from None


def head_outputs(shapes: Mapping[str, Sequence[int]], where: str) -> int:
    """How many outputs the saved classification head has; peft saves it only when it is in modules_to_save."""
    found = [shape[0] for key, shape in shapes.items() if OUTPUT_LAYER.search(key)]
    if not found:
        raise UserError(
            f"{where}: {ADAPTER_WEIGHTS} holds no classification head ({' or '.join(HEAD_NAMES)}), so its trained "
            "head would be replaced by a random one; save the adapter with the head in modules_to_save "
            "(get_peft_model with task_type SEQ_CLS does so)"
        )
    return found[0]


def adapter_labels(name: str, entry: str | Mapping, where: str) -> list[str]:
    """The head's labels in output order: the folder's config.json id2label, else the entry's labels list."""
    named = config_labels(adapter_folder(entry) / MODEL_CONFIG, where)
    given = None if isinstance(entry, str) else entry.get("labels")
    if named and given and list(given) != named:
        raise UserError(
            f"evaluate.adapters.{name}.labels is {list(given)} but {where}/{MODEL_CONFIG} names the head's outputs "
            f"{named}; remove labels: (the folder's own order is used) or fix it"
        )
    labels = named or given
    if not labels:
        raise UserError(
            f"{where} does not name its labels (no {MODEL_CONFIG} with an id2label); write the entry as "
            f"evaluate.adapters.{name}: {{folder: ..., labels: [...]}}, the labels in the order of the head's outputs"
        )
    if len(set(labels)) < len(labels):
        raise UserError(f"{where}: the labels {list(labels)} repeat a name; each of the head's outputs is one label")
    return list(labels)


def config_labels(path: Path, where: str) -> list[str] | None:
    """id2label of a transformers config.json in output order; None without one, or with transformers'
    placeholder names (LABEL_0, ...), which say nothing about the order."""
    if not path.is_file():
        return None
    id2label = read_config(path, where).get("id2label") or {}
    labels = [id2label[key] for key in sorted(id2label, key=int)]
    return None if all(DEFAULT_NAME.match(str(x)) for x in labels) else labels


def check_adapter_labels(name: str, entry: str | Mapping, data_labels: Sequence[str], source: str) -> list[str]:
    """check_adapter, and its labels must be the data's, in any order: its outputs are mapped onto the data's
    by name. Returns the adapter's labels in the head's order."""
    labels = check_adapter(name, entry)
    missing = [x for x in data_labels if x not in labels]
    extra = [x for x in labels if x not in data_labels]
    if missing or extra:
        parts = [f"lacks {missing}" if missing else "", f"has {extra}, which the data does not" if extra else ""]
        raise UserError(
            f"{key_and_folder(name, entry)}: the adapter {' and '.join(p for p in parts if p)} ({source}: "
            f"{list(data_labels)}); score it on data with its labels (data.labels, data.rename), or fix its labels"
        )
    return labels


def check_adapter_names(adapters: Mapping, presets: Sequence[str]) -> None:
    """An outside adapter is reported, chosen and stored under its name, which nothing else may use."""
    for name in adapters:
        if name in presets or name in TAKEN:
            what = "a preset" if name in presets else "a name the workflow uses itself"
            raise UserError(
                f"evaluate.adapters.{name}: {name!r} is {what} ({', '.join([*presets, *TAKEN])}); rename the adapter"
            )


def import_adapter(name: str, entry: str | Mapping, data_labels: Sequence[str], out: str | os.PathLike) -> list[str]:
    """The checked adapter copied to `out` with its label map: the outputs' labels in the head's order, which
    loading maps onto the data's by name. It was trained with a softmax over its outputs, as
    AutoModelForSequenceClassification trains. Returns the labels."""
    labels = check_adapter_labels(name, entry, data_labels, "results/data/labels.json")
    folder = adapter_folder(entry)
    with atomic_dir(out) as tmp:
        for file in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
            shutil.copyfile(folder / file, tmp / file)
        meta = {"labels": labels, "loss": {"form": "softmax"}, "preset": name, "trained_elsewhere": str(folder)}
        write_json(tmp / ADAPTER_META, meta)
    return labels
