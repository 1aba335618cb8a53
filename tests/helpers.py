"""Run the workflow's scripts and Snakemake the way a user does: as separate processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from conftest import LORA, MODEL, PRESET, REPO, TRAIN
from focalcls.config.loading import complete
from focalcls.train.settings import TrainSettings

SCRIPTS = REPO / "workflow" / "scripts"


def flags(**values) -> list:
    """A command line's --name value pairs, from keyword arguments (out_dir becomes --out-dir)."""
    return [item for name, value in values.items() for item in (f"--{name.replace('_', '-')}", value)]


def train_flags(checkpoint, out_dir, *, data: str | Path = "d", **overrides) -> list:
    """train.py's command line as the train rule writes it, for the stages fixture's files under `data`;
    `overrides` replace any flag (settings= adds train settings to the tiny config's)."""
    values = dict(
        threads=1, train=f"{data}/train.xlsx", val=f"{data}/val.xlsx", labels=f"{data}/labels.json",
        summary=f"{data}/summary.json", checkpoint=checkpoint, preset="balanced", run="balanced",
        preset_settings=PRESET, lora=LORA, train_settings={**one_run(TRAIN), **overrides.pop("settings", {})},
        model=MODEL, out_dir=out_dir,
    )  # fmt: skip
    return flags(**{**values, **overrides})


def one_run(train: dict) -> dict:
    """A train section as the train rule passes it to one run: its seed (the first) in place of train.seeds."""
    return {**{k: v for k, v in train.items() if k != "seeds"}, "seed": train["seeds"][0]}


def evaluate_flags(checkpoint, adapter, out_dir, *, data: str | Path = "d", **overrides) -> list:
    """evaluate.py's command line as the evaluate rule writes it (complete settings), for the files under `data`."""
    values = dict(
        threads=1, checkpoint=checkpoint, adapter=adapter, labels=f"{data}/labels.json",
        summary=f"{data}/summary.json", val=f"{data}/val.xlsx", test=f"{data}/test.xlsx", model=MODEL,
        keep_columns=["id"], batch_size=64, precision="fp32", gpus=0, cpu_processes=1, out_dir=out_dir,
    )  # fmt: skip
    return flags(**{**values, **overrides})


def script_argv(name: str, *args) -> list[str]:
    """A script's command line; dict and list arguments travel as JSON, as the rules pass config sections."""
    argv = [sys.executable, str(SCRIPTS / name)]
    for a in args:
        argv.append(json.dumps(a, ensure_ascii=False) if isinstance(a, (dict, list)) else str(a))
    return argv


def run_script(name: str, *args, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(script_argv(name, *args), cwd=cwd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{name} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return done


def run_bench(module: str, *args, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """A bench script as BENCHMARKS.md runs it (python -m bench.speed.<name> or bench.quality.<name>), from any
    folder: the repository on PYTHONPATH stands in for running it from the root."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *map(str, args)],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"bench.{module} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def run_rule_script(name: str, *, cwd: Path, check: bool = True, **rule) -> subprocess.CompletedProcess:
    """A `script:` rule's script with the rule's input, output, params, log, threads (dicts of name -> value),
    run in its own process as Snakemake runs it. Without a log, its messages come back on stderr."""
    # A file of its own: tests in other processes run the same script in the same folder (conftest.stages).
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", prefix=f"{name}.", suffix=".rule.json") as spec:
        spec.write(json.dumps(rule, ensure_ascii=False, default=str))
        spec.flush()
        argv = [sys.executable, str(REPO / "tests" / "rule_runner.py"), str(SCRIPTS / name), spec.name]
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{name} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return done


def section(name: str, values: dict | None = None):
    """One config section as the workflow hands it to a rule: checked, with every default from the schema."""
    return complete({name: values or {}})[name]


def extract_and_split(
    cwd: Path, data: dict, *, checkpoint, split: dict, balance: dict, model: dict, folder: str = "d"
) -> None:
    """The rules extract_labels and split_and_balance, chained, their outputs under `folder` named as the workflow
    names them (extracted.xlsx, labels.json, extract_report.json, dropped_rows.xlsx, the splits, summary.json).
    The config sections are completed from the schema."""
    extracted = {
        "rows": f"{folder}/extracted.xlsx",
        "labels": f"{folder}/labels.json",
        "report": f"{folder}/extract_report.json",
    }
    run_rule_script(
        "extract_labels.py",
        cwd=cwd,
        output={**extracted, "dropped": f"{folder}/dropped_rows.xlsx"},
        params={"data": section("data", data)},
    )
    run_rule_script(
        "split_and_balance.py",
        cwd=cwd,
        input=extracted,
        output={name: f"{folder}/{name}.xlsx" for name in ("train", "val", "test")}
        | {"summary": f"{folder}/summary.json"},
        params={
            "split": section("split", split),
            "balance": section("balance", balance),
            "model": section("model", model),
            "files": {key: data.get(key) for key in ("raw", "train", "val", "test")},
            "checkpoint": str(checkpoint),
        },
    )


def binary_and_tfidf(
    cwd: Path, preset: str, *, keep_columns: list, data: str = "d", presets: str = "p", baselines: str = "b"
) -> None:
    """The rules binary_test (of one preset's eval/ predictions) and baseline_tfidf, on the splits in `data`."""
    common = {"labels": f"{data}/labels.json", "summary": f"{data}/summary.json"}
    eval_dir = f"{presets}/{preset}/eval"
    run_rule_script(
        "binary_test.py",
        cwd=cwd,
        input={"val": f"{eval_dir}/val_predictions.xlsx", "test": f"{eval_dir}/predictions.xlsx", **common},
        output={"metrics": f"{presets}/{preset}/binary/metrics.json"},
        params={"binary": section("binary")},
    )
    names = ("metrics.json", "predictions.xlsx", "val_predictions.xlsx", "confusion.csv")
    run_rule_script(
        "baseline_tfidf.py",
        cwd=cwd,
        input={split: f"{data}/{split}.xlsx" for split in ("train", "val", "test")} | common,
        output={name.split(".")[0]: f"{baselines}/tfidf/{name}" for name in names},
        params={"keep": keep_columns, "seed": section("train")["seeds"][0]},
    )


def calibrate(cwd: Path, folder: str, review: dict | None, labels: str = "d/labels.json") -> dict:
    """The calibrate rule on the predictions in `folder` (an eval/ or adjusted/ folder, or a baseline's); its
    outputs, by name, in `folder`/calibrated."""
    names = ("calibration.json", "predictions.xlsx", "val_predictions.xlsx")
    output = {name.split(".")[0]: f"{folder}/calibrated/{name}" for name in names}
    run_rule_script(
        "calibrate.py",
        cwd=cwd,
        input={"val": f"{folder}/val_predictions.xlsx", "test": f"{folder}/predictions.xlsx", "labels": labels},
        output=output,
        params={"review": review},
    )
    return output


def snakemake(*args, cwd: Path, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Snakemake on the workflow, run in `cwd` (with `env` as its whole environment, when given)."""
    argv = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(cwd), *map(str, args)]
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env)
    if check and done.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
        )
    return done


def adjusted_outputs(folder) -> dict:
    """The logit_adjustment rule's outputs, by name, in `folder`."""
    names = {"metrics": "metrics.json", "predictions": "predictions.xlsx"}
    names.update(val_predictions="val_predictions.xlsx", confusion="confusion.csv")
    return {key: f"{folder}/{name}" for key, name in names.items()}


def ensemble(cwd: Path, folder: str, runs: dict[str, str], *, tfidf: str | None, weights=(0.5, 0.8)) -> dict:
    """The ensemble rule on `runs` ({run: its eval/ folder}) and, for a blend, the TF-IDF baseline's folder
    `tfidf`, then calibrate on its outputs; every file, by kind (focalcls.config.runs.ENSEMBLE_FILES), in `folder`."""
    from focalcls.config.runs import ENSEMBLE_FILES

    kinds = {"val_predictions": "val_predictions.xlsx", "predictions": "predictions.xlsx"}
    members = {run: {kind: f"{path}/{name}" for kind, name in kinds.items()} for run, path in runs.items()}
    for run, path in runs.items():
        members[run]["metrics"] = f"{path}/metrics.json"
    sources = {
        **{"name": Path(folder).name, "kind": "tfidf" if tfidf else "seeds", "preset": next(iter(runs))},
        "members": members,
        "tfidf": {kind: f"{tfidf}/{name}" for kind, name in kinds.items()} if tfidf else {},
    }
    files = {kind: f"{folder}/{name}" for kind, name in ENSEMBLE_FILES.items()}
    run_rule_script(
        "ensemble.py",
        cwd=cwd,
        input={split: f"d/{split}.xlsx" for split in ("val", "test")}
        | {"labels": "d/labels.json"}
        | {"summary": "d/summary.json"},
        output={kind: files[kind] for kind in ("metrics", "predictions", "val_predictions", "confusion")},
        params={"sources": sources, "weights": list(weights), "metric": "macro_f1", "keep": ["id"]},
    )
    calibrate(cwd, folder, {"share": 0.25})  # the review queue the stages' preset has
    return files


def four_gpu_box(folder) -> dict:
    """An environment whose nvidia-smi lists four GPUs, as on a 4-GPU box, with no CUDA_VISIBLE_DEVICES."""
    folder.mkdir()
    listing = "".join(f"echo 'GPU {i}: NVIDIA H100 80GB HBM3 (UUID: GPU-{i})'\n" for i in range(4))
    (folder / "nvidia-smi").write_text(f"#!/bin/sh\n{listing}")
    (folder / "nvidia-smi").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    return {**env, "PATH": f"{folder}{os.pathsep}{env['PATH']}"}


def adapter_trained_elsewhere(checkpoint, folder: Path, labels: list[str], *, with_config: bool = True) -> Path:
    """An adapter as a script of its own writes it: AutoModelForSequenceClassification, get_peft_model with
    task_type SEQ_CLS (the head in modules_to_save) and save_pretrained, with `labels` as its head's output
    order; the weights are random but far from zero, so every output and the LoRA weights count. With
    `with_config`, the model's config.json (its id2label) is saved beside the adapter, as some tools do."""
    import torch
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(
        str(checkpoint),
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    peft = get_peft_model(
        model,
        LoraConfig(
            task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]
        ),
    )
    torch.manual_seed(7)
    with torch.no_grad():
        for name, param in peft.named_parameters():
            if "lora_B" in name or "modules_to_save" in name:
                param.normal_(std=1.0)
    peft.save_pretrained(str(folder))
    if with_config:
        model.config.save_pretrained(str(folder))
    return folder


def train_settings(**overrides) -> TrainSettings:
    """Settings as a complete config gives them: the schema's defaults, then the test's own values."""
    seed = overrides.pop("seed", 42)
    return TrainSettings.from_config({**complete({})["train"], **overrides}, seed=seed)
