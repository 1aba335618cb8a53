"""Configuration checks that the schema cannot express, run when the workflow is loaded (before any job)."""

from __future__ import annotations

import difflib
import json
import os
import re
import string
from collections.abc import Mapping
from pathlib import Path

from focalcls.config.outside_adapters import check_adapter, check_adapter_labels, check_adapter_names
from focalcls.config.runs import ensembles
from focalcls.core.errors import UserError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # organisation/name, as on a model hub


def download_advice(repo_id: str) -> str:
    return (
        f"download it once (hf download {repo_id} --local-dir /models/{repo_id.split('/')[-1]}) "
        "and set model.checkpoint to that folder"
    )


def require_model_folder(path: str | os.PathLike) -> Path:
    """A local model folder with a config, safetensors weights and tokenizer files, or a UserError saying what is
    wrong."""
    folder = Path(path)
    if not folder.is_dir() and HUB_ID.match(str(path)):
        raise UserError(
            f"model.checkpoint {str(path)!r} is not a folder but looks like a hub id; the workflow reads "
            f"local folders only: {download_advice(str(path))}"
        )
    if not folder.is_dir():
        raise UserError(f"model.checkpoint {str(folder)!r} is not a folder; point it at a local model folder")
    if not (folder / "config.json").exists():
        raise UserError(f"model.checkpoint {str(folder)!r} has no config.json; is it a Hugging Face model folder?")
    if not list(folder.glob("*.safetensors")):
        raise UserError(
            f"model.checkpoint {str(folder)!r} has no *.safetensors weights; only safetensors are loaded "
            "(convert .bin weights with save_pretrained(safe_serialization=True))"
        )
    require_tokenizer_files(folder)
    return folder


# What transformers builds a tokenizer from: a fast tokenizer's tokenizer.json, a sentencepiece model
# (tokenizer.model, spiece.model, ...), a vocabulary (vocab.json, vocab.txt) or a tiktoken file. Without any,
# it builds an empty tokenizer that encodes every text to nothing, and only training fails, much later.
TOKENIZER_FILES = ("tokenizer.json", "*.model", "vocab.*", "*.tiktoken")


def tokenizer_files(folder: Path) -> list[str]:
    return sorted({path.name for pattern in TOKENIZER_FILES for path in folder.glob(pattern)})


def require_tokenizer_files(folder: Path) -> None:
    if not tokenizer_files(folder):
        raise UserError(
            f"model.checkpoint {str(folder)!r} has no tokenizer files (tokenizer.json, tokenizer.model or a "
            "vocab file); copy them from the model's download into that folder, beside the weights"
        )


# Names users bring from transformers, peft and other tools, with the key that means the same here.
ALIASES = {
    "learning_rate": "lr",
    "num_train_epochs": "epochs",
    "num_epochs": "epochs",
    "per_device_train_batch_size": "batch_size",
    "per_device_eval_batch_size": "eval_batch_size",
    "gradient_accumulation_steps": "grad_accum",
    "bf16": "precision",
    "fp16": "precision",
    "lora_r": "r",
    "rank": "r",
    "lora_alpha": "alpha",
    "lora_dropout": "dropout",
    "model_name_or_path": "checkpoint",
    "max_seq_length": "max_length",
    "focal_gamma": "gamma",
    "focal_alpha": "alpha",
}


def check_keys(config: Mapping, schema: Mapping, where: str = "") -> None:
    """Unknown keys, with the closest valid one suggested (the schema validator only lists them all)."""
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, value in config.items():
        path = f"{where}{key}"
        if key in properties:
            sub = properties[key]
        elif isinstance(extra, Mapping):
            sub = extra
        elif extra is False:
            alias = ALIASES.get(str(key))
            close = (
                [alias]
                if alias in properties
                else difflib.get_close_matches(str(key), list(properties), n=1, cutoff=0.5)
            )
            hint = f"did you mean {where}{close[0]}? " if close else ""
            raise UserError(f"unknown config key {path!r}: {hint}valid keys here: {', '.join(properties)}")
        else:
            continue
        if isinstance(value, Mapping) and sub.get("type") == "object":
            check_keys(value, sub, f"{path}.")


def check_values(config: Mapping, schema: Mapping) -> None:
    """Schema violations as one line naming the key, before Snakemake's validator prints the schema."""
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    error = errors[0]
    key = ".".join(map(str, error.absolute_path)) or "(top level)"
    if "propertyNames" in error.schema_path and key == "presets":
        hint = "a preset name becomes a folder name: use letters, digits, '-', '_' and '.' only"
    elif error.validator == "anyOf" and "description" in error.schema:  # "not valid under any of ..." says nothing
        hint = f"it takes {error.schema['description']}"
    elif error.validator == "maxLength":
        hint = f"it takes at most {error.validator_value:,} characters"
    else:
        hint = "config/README.md lists every key and the values it takes"
    raise UserError(f"config key {key}: {shortened(error.message)}; {hint}")


def shortened(message: str, limit: int = 300) -> str:
    """A validator's message quotes the whole value: a 100 KB prompt would fill the console."""
    return message if len(message) <= limit else f"{message[: limit // 2]} ... {message[-limit // 2 :]}"


def check_alpha_range(name: str, preset: Mapping) -> None:
    """In the sigmoid form every alpha is the positive side's share, so it lies in (0, 1)."""
    alpha = preset["alpha"]
    values = alpha if isinstance(alpha, (list, tuple)) else [alpha] if isinstance(alpha, (int, float)) else []
    if preset["form"] == "sigmoid" and any(not 0 < a < 1 for a in values):
        raise UserError(f"presets.{name}.alpha is {alpha}; in the sigmoid form every alpha must lie in (0, 1)")


def check_alpha_length(name: str, alpha, n_labels: int) -> None:
    """A list of alphas needs one weight per label. The labels exist only once extract_labels has run: the
    workflow checks this at load time when it knows them (data.labels, or the last run's labels.json),
    and the train job checks it again against the labels it trains on, which may be new."""
    if isinstance(alpha, (list, tuple)) and len(alpha) != n_labels:
        raise UserError(
            f"presets.{name}.alpha has {len(alpha)} values but there are {n_labels} labels; give one weight per "
            "label in results/data/labels.json order, a single number, 'balanced' or 'effective'"
        )


def check_prompt(prompt: str) -> None:
    """The zero-shot prompt is a str.format template with {text} and optionally {labels}."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(prompt) if name is not None}
    except ValueError as e:
        raise UserError(f"direct.prompt cannot be filled in ({e}); write a literal brace as {{{{ or }}}}") from None
    if "text" not in fields or fields - {"text", "labels"}:
        raise UserError(
            f"direct.prompt has the fields {sorted(fields)}; it needs {{text}} and may use {{labels}}, nothing else "
            "(write a literal brace as {{ or }})"
        )


def check_gpu_budget(train_gpus: int, granted: int | None, pool: list[str]) -> None:
    """Snakemake would quietly scale a job's gpu resource down to --resources gpu=N; the job would
    still reserve train.gpus ids, so jobs would overrun N. Stop before any work instead, and likewise
    when the pool of ids (train.gpu_ids, CUDA_VISIBLE_DEVICES or the machine's GPUs) is too small."""
    if pool and train_gpus > len(pool):
        raise UserError(
            f"train.gpus is {train_gpus} but the GPU pool has {len(pool)} id(s) ({', '.join(pool)}: train.gpu_ids, "
            "else CUDA_VISIBLE_DEVICES, else every GPU of the machine); lower train.gpus or widen the pool"
        )
    if granted is not None and train_gpus > granted:
        raise UserError(
            f"train.gpus is {train_gpus} but --resources gpu={granted} lets no job have that many; "
            f"lower train.gpus to {granted} or below, or raise --resources gpu"
        )


# Columns the workflow writes itself: a kept column of the same name would replace one of them.
RESERVED_COLUMNS = ("text", "label", "split", "true_label", "predicted_label", "confidence", "needs_review")


def check_keep_columns(data: Mapping) -> None:
    """data.keep_columns travel beside the workflow's own columns, so none may share a name with one."""
    clash = [c for c in data["keep_columns"] if c in RESERVED_COLUMNS or str(c).startswith(("_", "calibrated_"))]
    if clash:
        raise UserError(
            f"data.keep_columns names {sorted(set(clash))}, which the workflow writes itself (text, label, split, "
            "true_label, predicted_label, confidence, needs_review, calibrated_..., _...); rename those columns in "
            "your file, or leave them out of data.keep_columns"
        )


def check_data_files(data: Mapping) -> None:
    """Where the data comes from: data.raw alone (split three ways), or data.train with data.val and/or
    data.test (a split without a file is cut from the training file, as split.<name>_fraction says)."""
    presplit = [k for k in ("train", "val", "test") if data[k]]
    if data["raw"] and presplit:
        raise UserError(
            f"set either data.raw or data.train/val/test, not both (data.raw and data.{presplit[0]} are set)"
        )
    if data["raw"]:
        return
    if not presplit:
        raise UserError("no input data: set data.raw (one file to split), or data.train with data.val and/or data.test")
    if not data["train"]:
        raise UserError(
            f"{' and '.join(f'data.{k}' for k in presplit)} set without data.train: pre-split data needs a "
            "training file; set data.train (a missing val or test split is cut from it), or give one file to "
            "split as data.raw"
        )
    if presplit == ["train"]:
        raise UserError(
            "data.train is the only file: set data.raw to that file instead to split it into train, val and "
            "test, or give data.val and/or data.test beside it"
        )


def check_preset_form(name: str, preset: Mapping) -> None:
    """What the sigmoid form cannot hold: an alpha outside (0, 1), a softmax cross-entropy, label smoothing."""
    check_alpha_range(name, preset)
    if preset["loss"] in ("ce", "logit-adjusted") and preset["form"] == "sigmoid":
        instead = "" if preset["loss"] == "logit-adjusted" else " or use loss: focal with gamma: 0"
        raise UserError(
            f"presets.{name}: loss {preset['loss']} is a softmax cross-entropy; drop 'form: sigmoid'{instead}"
        )
    if preset["label_smoothing"] and preset["form"] == "sigmoid":
        raise UserError(
            f"presets.{name}: label_smoothing spreads the target over the classes of the softmax form; "
            "set form: softmax or drop label_smoothing"
        )


def check_config(config: Mapping) -> None:
    """Cross-key rules: where the data comes from, and what each preset's alpha can mean."""
    check_keep_columns(config["data"])
    check_data_files(config["data"])
    split = config["split"]
    if split["val_fraction"] + split["test_fraction"] >= 1:
        raise UserError(
            f"split.val_fraction ({split['val_fraction']}) + split.test_fraction ({split['test_fraction']}) "
            "leave no training rows; their sum must be below 1"
        )
    check_names(config)
    for name, preset in config["presets"].items():
        check_preset_form(name, preset)
    if config["model"]["checkpoint"] != "demo":
        require_model_folder(config["model"]["checkpoint"])
    if config["model"]["dtype"] == "bfloat16" and config["train"]["precision"] in ("fp16", "fp32"):
        raise UserError(
            f"model.dtype bfloat16 needs bf16 compute, but train.precision is {config['train']['precision']}; "
            "set it to bf16 or auto, or model.dtype to auto"
        )
    check_prompt(config["direct"]["prompt"])
    check_tune(config)
    check_audit(config)
    check_adapter_names(config["evaluate"]["adapters"], list(config["presets"]))
    for name, entry in config["evaluate"]["adapters"].items():
        check_adapter(name, entry)
    predict, names = config["predict"], [*preset_names(config), *configured_ensembles(config)]
    if predict["preset"] != "best" and predict["preset"] not in names:
        raise UserError(
            f"predict.preset is {predict['preset']!r}, which is not a preset or ensemble ({', '.join(names)}); "
            "name one of them or use 'best'"
        )
    if predict["logit_adjustment"] and predict["preset"] in configured_ensembles(config):
        raise UserError(
            f"predict.preset names the ensemble {predict['preset']!r}, which combines the runs' predictions "
            "before any logit adjustment; set predict.logit_adjustment false or name a preset"
        )
    if predict["logit_adjustment"] and not config["logit_adjustment"]["taus"]:
        raise UserError(
            "predict.logit_adjustment is true but logit_adjustment.taus is empty; give taus or set it false"
        )
    check_input_paths(config)
    for section in ("predict", "evaluate"):
        for name, path in config[section]["files"].items():
            if not Path(path).is_file():
                raise UserError(f"{section}.files.{name}: {path!r} is not a file; fix the path or remove the entry")
    unknown = [name for name in config["evaluate"]["presets"] if name not in names]
    if unknown:
        raise UserError(
            f"evaluate.presets names {unknown}, which are not presets ({', '.join(names)}); "
            "name existing presets, or leave it empty for all of them"
        )


# Preset names the workflow uses itself (compared ignoring case), and why each is taken.
RESERVED_PRESETS = {
    "best": "what predict.preset calls the best preset on validation",
    **{
        baseline: f"also a baseline (baselines), which has the report row {baseline!r} and writes "
        f"results/evaluations/<file>/{baseline}/, whether or not baselines lists it"
        for baseline in ("tfidf", "direct")
    },
}
# Names Windows gives to devices, with any extension (nul.xlsx is the device too): no file can have them.
WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"{port}{i}" for port in ("COM", "LPT") for i in range(1, 10))}


def check_names(config: Mapping) -> None:
    """Preset, predict.files and evaluate.files names become folder and file names (results/presets/<name>/,
    results/predictions/<name>.xlsx, results/evaluations/<name>/) and report rows: none may be a name the
    workflow uses itself, a Windows device name, or differ from another only by case, which a
    case-insensitive disk (Windows, macOS) would store in one place."""
    for name in config["presets"]:
        if name.casefold() in RESERVED_PRESETS:
            raise UserError(f"presets.{name}: {name!r} is {RESERVED_PRESETS[name.casefold()]}; rename the preset")
    search = ["tune", "tuned"] if config["tune"]["gammas"] else []  # check_tune refuses these names exactly
    # Each group shares one folder: an adapter trained elsewhere lies in results/presets/<name>/ too.
    groups = [
        [
            *(("presets", n) for n in [*config["presets"], *search]),
            *(("evaluate.adapters", n) for n in config["evaluate"]["adapters"]),
        ],
        [("predict.files", n) for n in config["predict"]["files"]],
        [("evaluate.files", n) for n in config["evaluate"]["files"]],
    ]
    for names in groups:
        seen: dict[str, str] = {}
        for section, name in names:
            check_portable_name(section, name)
            other = seen.setdefault(name.casefold(), name)
            if other != name:
                raise UserError(
                    f"{section} names {other!r} and {name!r}, which differ only by case: a case-insensitive disk "
                    "(Windows, macOS) stores both in one file or folder; rename one of them"
                )


def check_portable_name(section: str, name: str) -> None:
    if name.split(".")[0].upper() in WINDOWS_DEVICES or name.endswith("."):
        raise UserError(
            f"{section}.{name}: Windows cannot store a file or folder named {name!r} (CON, PRN, AUX, NUL, COM1-9 "
            "and LPT1-9 are devices there, with any extension, and a final '.' is dropped); rename it"
        )


def check_input_paths(config: Mapping) -> None:
    """The files a rule reads are its inputs, and Snakemake reads braces in an input's path as a wildcard,
    with no way to write a literal one: such a path stops the run with a WildcardError naming no key."""
    paths = {f"data.{key}": config["data"][key] for key in ("raw", "train", "val", "test")}
    paths.update(
        {
            f"{section}.files.{name}": path
            for section in ("predict", "evaluate")
            for name, path in config[section]["files"].items()
        }
    )
    for key, path in paths.items():
        if path and ("{" in path or "}" in path):
            raise UserError(
                f"{key}: {path!r} has braces, which Snakemake reads as a wildcard in the path of a file a job "
                "reads; rename the file (or copy it) to a name without {{ and }}"
            )


def preset_names(config: Mapping) -> list[str]:
    """The presets a run reports on: the config's, `tuned` when tune.gammas starts a search, and the
    adapters trained elsewhere (evaluate.adapters)."""
    return [*config["presets"], *(["tuned"] if config["tune"]["gammas"] else []), *config["evaluate"]["adapters"]]


def configured_ensembles(config: Mapping) -> dict[str, dict]:
    """The report's ensembles of this config's presets (focalcls.config.runs.ensembles), by name."""
    return ensembles(
        preset_names(config),
        config["train"]["seeds"],
        config["evaluate"]["adapters"],
        config["ensembles"],
        "tfidf" in config["baselines"],
    )


def check_tune(config: Mapping) -> None:
    """The search's names must not clash with a preset's folder, and its alphas must mean something."""
    tune = config["tune"]
    if not tune["gammas"]:
        return
    clash = [name for name in ("tune", "tuned") if name in config["presets"]]
    if clash:
        raise UserError(
            f"presets.{clash[0]}: with tune.gammas set, the search writes results/presets/tune/ and the preset "
            f"tuned; rename preset {clash[0]!r}"
        )
    for key in ("gammas", "alphas"):
        names = [f"{v:g}" for v in tune[key]]
        if len(set(names)) < len(names):
            raise UserError(f"tune.{key} is {tune[key]}: values that print the same ({names}) would share a run folder")
    if tune["form"] == "softmax" and tune["alphas"]:
        raise UserError(
            "tune.form is softmax, where a single alpha only rescales the loss; set tune.alphas: [] "
            "(the search is then over gamma alone) or tune.form: sigmoid"
        )
    for key, values in (("tune.alpha", [tune["alpha"]]), ("tune.alphas", tune["alphas"])):
        if tune["form"] == "sigmoid" and any(not 0 < a < 1 for a in values):
            raise UserError(f"{key} is {tune[key[5:]]}; in the sigmoid form every alpha must lie in (0, 1)")


def check_audit(config: Mapping) -> None:
    """audit.model names what scores the training rows: TF-IDF, or a preset trained here (its fold runs are
    trained as it is; an adapter trained elsewhere or `tuned` has no settings to train again)."""
    model, presets = config["audit"]["model"], list(config["presets"])
    if model != "tfidf" and model not in presets:
        raise UserError(
            f"audit.model is {model!r}, which is neither tfidf nor a preset this workflow trains "
            f"({', '.join(presets) or 'none'}); name one of them"
        )
    if model != "tfidf" and "audit" in presets and config["audit"]["folds"]:
        raise UserError(
            "presets.audit: with audit.model a preset, its fold runs write results/presets/audit/; "
            "rename preset 'audit'"
        )


def check_against_labels(config: Mapping, labels: list[str], source: str) -> None:
    """What needs the label list: binary.positive names and per-class alpha lists. Run at load time when
    the labels are known (data.labels, or labels.json of an earlier run), so a typo stops the run before
    any training rather than when binary_test or train reaches it."""
    positive = config["binary"]["positive"]
    unknown = [x for x in ([positive] if isinstance(positive, str) else positive) if x not in labels]
    if unknown:
        raise UserError(
            f"binary.positive names {unknown}, which are not labels ({source}: {labels}); fix binary.positive"
        )
    for name, preset in config["presets"].items():
        check_alpha_length(name, preset["alpha"], len(labels))
    for name, entry in config["evaluate"]["adapters"].items():
        check_adapter_labels(name, entry, labels, source)
    probabilities = [c for c in config["data"]["keep_columns"] if c in {f"p_{x}" for x in labels}]
    if probabilities:
        raise UserError(
            f"data.keep_columns names {probabilities}, the columns of the predicted probabilities ({source}: "
            f"{labels}); rename those columns in your file, or leave them out of data.keep_columns"
        )


def read_last_run(path: str | os.PathLike):
    """A JSON file an earlier run left under results/, or a UserError saying how to have it made anew."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:  # a run cut short, a full disk, an edit by hand
        raise UserError(
            f"{path} is not valid JSON ({e}); delete it (rm {path}) and run again: the rule that wrote it "
            "writes it anew"
        ) from None


def check_writable(folder: str | os.PathLike) -> None:
    """Every job writes under results/: a folder there that cannot be written would stop the run with a
    PermissionError traceback, perhaps after hours of training."""
    for root, _, _ in os.walk(folder):
        if not os.access(root, os.W_OK):
            raise UserError(
                f"{root}: this folder is read-only and the run writes there; make it writable "
                f"(chmod -R u+w {folder}) or run in a folder of your own (snakemake --directory DIR)"
            )
