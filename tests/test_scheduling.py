"""How Snakemake runs the GPU jobs side by side, on a simulated four-GPU box: train.gpu_ids names four
fake ids (the pool), the tiny model trains on the CPU, Snakemake's log records when it started and
finished each job, and each job's log says which ids it held."""

import re

import pytest
import yaml

from focalcls.tables import write_xlsx
from helpers import snakemake

pytestmark = pytest.mark.slow
PRESETS = {"ce": {"loss": "ce"}, "weighted": {"loss": "ce", "alpha": "balanced"}, "focal": {"gamma": 2.0}}
PRESETS["focal-1"] = {"gamma": 1.0}
EVENT = re.compile(r"^(localrule train:|Finished jobid: \d+ \(Rule: train\))$", re.M)


def run_trainings(work, tiny_model_dir, imbalanced_rows, presets, gpu_ids, *resources) -> tuple[int, list[str]]:
    """Train `presets` with train.gpus 1; returns the most training jobs Snakemake had running at once, and
    the GPU ids each job held."""
    write_xlsx(work / "rows.xlsx", imbalanced_rows.groupby("label").head(16))  # a few steps per job suffice
    config = {
        "data": {"raw": "rows.xlsx"},
        "model": {"checkpoint": str(tiny_model_dir), "max_length": 16},
        "lora": {"r": 4, "alpha": 8, "target_modules": "all-linear"},
        "train": {"epochs": 1, "batch_size": 16, "gpus": 1, "gpu_ids": gpu_ids, "precision": "fp32"},
        "presets": presets,
        "baselines": [],
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    targets = [f"results/presets/{p}/train_summary.json" for p in presets]
    snakemake(*targets, "--cores", "8", *resources, "--configfile", "config.yaml", cwd=work)
    running = most = 0
    for event in EVENT.findall(next((work / ".snakemake/log").glob("*.snakemake.log")).read_text()):
        running += 1 if event.startswith("localrule") else -1
        most = max(most, running)
    ids = [
        re.search(r"this job's GPU ids: (\S+)", (work / f"results/logs/train/{p}.log").read_text()).group(1)
        for p in presets
    ]
    return most, ids


def test_four_one_gpu_trainings_run_at_once_on_distinct_gpus(tmp_path, tiny_model_dir, imbalanced_rows):
    """--cores 8 --resources gpu=4 with train.gpus 1: each job declares 2 threads, so all four start."""
    most, ids = run_trainings(tmp_path, tiny_model_dir, imbalanced_rows, PRESETS, [0, 1, 2, 3], "--resources", "gpu=4")
    assert most == 4
    assert sorted(ids) == ["0", "1", "2", "3"]


def test_without_resources_gpu_jobs_are_capped_at_the_pool(tmp_path, tiny_model_dir, imbalanced_rows):
    """No --resources gpu=N: a one-id pool caps GPU use at one job at a time; none waits in the lock pool."""
    two = {name: PRESETS[name] for name in ("ce", "focal")}
    most, ids = run_trainings(tmp_path, tiny_model_dir, imbalanced_rows, two, [3])
    assert most == 1
    assert ids == ["3", "3"]
