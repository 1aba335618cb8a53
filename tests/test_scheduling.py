"""How Snakemake runs the GPU jobs side by side, on a simulated four-GPU box: a fake nvidia-smi lists four
GPUs (the pool), or train.gpu_ids names fake ids; the tiny model trains on the CPU, Snakemake's log records
when it started and finished each job, and each job's log says which ids it held. Dry runs check the plan
(threads and GPUs a job) for the other ways to name the pool."""

import os
import re
from pathlib import Path

import pytest
import yaml

from focalcls.core.spreadsheets import write_xlsx
from helpers import four_gpu_box, snakemake

pytestmark = pytest.mark.slow
PRESETS = {"ce": {"loss": "ce"}, "weighted": {"loss": "ce", "alpha": "balanced"}, "focal": {"gamma": 2.0}}
PRESETS["focal-1"] = {"gamma": 1.0}
EVENT = re.compile(r"^(localrule train:|Finished jobid: \d+ \(Rule: train\))$", re.M)


def run_trainings(work, tiny_model_dir, imbalanced_rows, presets, train, *resources, env=None) -> tuple[int, list[str]]:
    """Train `presets` with the `train` section given; returns the most training jobs Snakemake had running at
    once, and the GPU ids each job held."""
    write_xlsx(work / "rows.xlsx", imbalanced_rows.groupby("label").head(16))  # a few steps per job suffice
    config = {
        "data": {"raw": "rows.xlsx"},
        "model": {"checkpoint": str(tiny_model_dir), "max_length": 16},
        "lora": {"r": 4, "alpha": 8, "target_modules": "all-linear"},
        "train": {"epochs": 1, "batch_size": 16, "precision": "fp32", **train},
        "presets": presets,
        "baselines": [],
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    targets = [f"results/presets/{p}/train_summary.json" for p in presets]
    snakemake(*targets, "--cores", "8", *resources, "--configfile", "config.yaml", cwd=work, env=env)
    running = most = 0
    for event in EVENT.findall(next((work / ".snakemake/log").glob("*.snakemake.log")).read_text()):
        running += 1 if event.startswith("localrule") else -1
        most = max(most, running)
    ids = [
        re.search(r"this job's GPU ids: (\S+)", (work / f"results/logs/train/{p}.log").read_text()).group(1)
        for p in presets
    ]
    return most, ids


def test_without_resources_gpu_jobs_are_capped_at_the_pool(tmp_path, tiny_model_dir, imbalanced_rows):
    """No --resources gpu=N: a one-id pool caps GPU use at one job at a time; none waits in the lock pool."""
    two = {name: PRESETS[name] for name in ("ce", "focal")}
    most, ids = run_trainings(tmp_path, tiny_model_dir, imbalanced_rows, two, {"gpus": 1, "gpu_ids": [3]})
    assert most == 1
    assert ids == ["3", "3"]


def test_on_a_four_gpu_box_the_defaults_train_four_presets_at_once(tmp_path, tiny_model_dir, imbalanced_rows):
    """No train.gpus, no gpu_ids: the GPUs nvidia-smi lists are the pool, and each training takes one."""
    env = four_gpu_box(tmp_path / "bin")
    most, ids = run_trainings(tmp_path, tiny_model_dir, imbalanced_rows, PRESETS, {}, "--resources", "gpu=4", env=env)
    assert most == 4
    assert sorted(ids) == ["0", "1", "2", "3"]


JOB = re.compile(r"^rule (\w+):\n(?:    .*\n)*?    threads: (\d+)\n    resources: (.*)$", re.M)


def planned_trainings(work, tiny_model_dir, imbalanced_rows, env, train=None) -> tuple[list[tuple[int, str]], str]:
    """A dry run of the whole workflow with a two-key config (and `train`, when given): (threads, gpu) of each
    train job, and stderr."""
    write_xlsx(work / "rows.xlsx", imbalanced_rows)
    config = {"data": {"raw": "rows.xlsx"}, "model": {"checkpoint": str(tiny_model_dir)}}
    if train:
        config["train"] = train
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    done = snakemake("-n", "--cores", "8", "--resources", "gpu=4", "--configfile", "config.yaml", cwd=work, env=env)
    jobs = [
        (int(threads), re.search(r"\bgpu=(\d+)", resources).group(1))
        for rule, threads, resources in JOB.findall(done.stdout)
        if rule == "train"
    ]
    return jobs, done.stderr


def test_a_two_key_config_plans_one_gpu_and_two_threads_a_training_on_a_four_gpu_box(
    tmp_path, tiny_model_dir, imbalanced_rows
):
    jobs, console = planned_trainings(tmp_path, tiny_model_dir, imbalanced_rows, four_gpu_box(tmp_path / "bin"))
    assert len(jobs) == 7  # the schema's seven presets, once each
    assert set(jobs) == {(2, "1")}
    plan = [line for line in console.splitlines() if line.startswith("GPUs:")]
    assert plan == [
        "GPUs: 4 in the pool (0,1,2,3); train.gpus auto: 1 GPU a job, up to 4 GPU jobs side by side, 2 CPU threads each"
    ]


def test_four_named_gpu_ids_plan_four_one_gpu_trainings_of_two_threads(tmp_path, tiny_model_dir, imbalanced_rows):
    """--cores 8 --resources gpu=4 with train.gpus 1 and four train.gpu_ids: each job declares 2 threads and one
    GPU, so all four can start (the defaults' run above starts them; its pool comes from nvidia-smi, this one
    from gpu_ids, whose real run test_without_resources_gpu_jobs_are_capped_at_the_pool makes)."""
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    train = {"gpus": 1, "gpu_ids": [0, 1, 2, 3]}
    jobs, console = planned_trainings(tmp_path, tiny_model_dir, imbalanced_rows, env, train)
    assert len(jobs) == 7 and set(jobs) == {(2, "1")}
    assert [line for line in console.splitlines() if line.startswith("GPUs:")] == [
        "GPUs: 4 in the pool (0,1,2,3); train.gpus 1: 1 GPU a job, up to 4 GPU jobs side by side, 2 CPU threads each"
    ]


def test_without_gpus_the_same_dry_run_plans_cpu_trainings(tmp_path, tiny_model_dir, imbalanced_rows):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not (Path(p) / "nvidia-smi").exists())
    jobs, console = planned_trainings(tmp_path, tiny_model_dir, imbalanced_rows, env)
    assert len(jobs) == 7
    assert set(jobs) == {(8, "0")}  # one at a time, every core
    assert "GPUs: no GPU found" in console
