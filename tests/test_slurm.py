"""The tiny workflow through the shipped Slurm profile on a real one-node Slurm (tests/slurm/start.sh): each
job run once, as a Slurm job asking for the CPUs the docs promise or, for the short rules, on the submitting
host; a training cancelled mid-way resumed; outputs equal to a local run's."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import test_workflow
from conftest import REPO
from test_workflow import shared_config, write_workspace

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

workflow_run = test_workflow.workflow_run  # the shared local run, a fixture of this module too

SLURM_TOOLS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scancel")
# The rules whose jobs ask for train.cpu_threads, else CLUSTER_JOB_THREADS under a cluster executor
# (config/README.md, train.cpu_threads); every other rule asks for the threads it declares.
GPU_JOB_RULES = {"train", "evaluate", "evaluate_file", "evaluate_file_direct", "baseline_direct", "predict"}
# The rules of seconds that run on the submitting host, not as Slurm jobs (the Snakefile's localrules).
HOST_RULES = {"calibrate", "binary_test", "logit_adjustment", "ensemble", "model_card", "report", "track"}
HOST_RULES |= {"tune_gamma", "tune_alpha", "tuned"}
PROMISED_CPUS = 8
KILLED = "moderate"  # the preset whose training is cancelled once it has written a checkpoint


def missing_slurm() -> str | None:
    """Why this box cannot run the Slurm test, or None."""
    absent = [tool for tool in SLURM_TOOLS if shutil.which(tool) is None]
    if absent:
        return f"{', '.join(absent)} not installed (apt-get install slurm-wlm munge, as .ci/run does)"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "the executor plugin is not installed: pip install -r envs/requirements-slurm.txt"
    return None


@pytest.fixture(scope="module")
def slurm(tmp_path_factory) -> dict:
    """The environment of a run on a one-node Slurm started for this module, stopped after it: its
    partitions (small, accel) reach the profile through the variables the profile documents."""
    reason = missing_slurm()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("slurm")
    started = subprocess.run([REPO / "tests/slurm/start.sh", folder], capture_output=True, text=True)
    if started.returncode == 2:  # a Slurm of the machine's own, which the test must not reconfigure
        pytest.skip(started.stderr.strip())
    if started.returncode != 0:
        subprocess.run([REPO / "tests/slurm/stop.sh", folder])
        raise AssertionError(f"tests/slurm/start.sh failed:\n{started.stdout}\n{started.stderr}")
    env = {
        **os.environ,
        "FOCALCLS_SLURM_PARTITION": "small",
        "FOCALCLS_SLURM_GPU_PARTITION": "accel",
    }
    yield env
    subprocess.run([REPO / "tests/slurm/stop.sh", folder])


def slurm_config(model_dir) -> dict:
    """The shared run's config with train.cpu_threads unset, so each job asks for what the docs promise."""
    config = shared_config(model_dir)
    config["train"]["cpu_threads"] = None
    return config


def slurm_jobs(env: dict) -> list[dict]:
    """Every job slurmctld still holds (MinJobAge keeps a whole run's): id, state, CPUs, and the comment
    the executor plugin sets (rule_<rule>[_wildcards_<values>])."""
    listed = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%T|%C|%k"], env=env, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    fields = ("id", "state", "cpus", "comment")
    return [dict(zip(fields, line.split("|", 3))) for line in listed.stdout.splitlines()]


def cancel_training_once_checkpointed(run: subprocess.Popen, work: Path, env: dict) -> str:
    """Waits for the first checkpoint of KILLED's training, scancels its Slurm job and returns the job id."""
    checkpoints = work / f"results/presets/{KILLED}/checkpoints"
    deadline = time.time() + 1800
    while not list(checkpoints.glob("checkpoint-*/trainer_state.json")):
        assert run.poll() is None and time.time() < deadline, "the run ended before the training checkpointed"
        time.sleep(0.1)
    running = [
        job
        for job in slurm_jobs(env)
        if job["comment"] == f"rule_train_wildcards_{KILLED}" and job["state"] == "RUNNING"
    ]
    assert len(running) == 1, f"one running training of {KILLED} expected: {slurm_jobs(env)}"
    subprocess.run(["scancel", running[0]["id"]], env=env, check=True)
    return running[0]["id"]


@pytest.fixture(scope="module")
def runs(slurm, request, tmp_path_factory, imbalanced_rows, tiny_model_dir) -> dict:
    """The workflow through the Slurm profile with one training cancelled mid-way, and the same run made
    locally (test_workflow's, shared: asked for once the Slurm run is over, so the two can overlap)."""
    work = tmp_path_factory.mktemp("on-slurm")
    write_workspace(work, imbalanced_rows, slurm_config(tiny_model_dir))
    argv = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(work)]
    # The plugin's first status query comes 40 s after a submission, and each query that finds no job done
    # waits 10 s more; starting at 1 s keeps the tiny jobs' waits short.
    argv += ["--profile", str(REPO / "workflow/profiles/slurm"), "--configfile", "config.yaml"]
    argv += ["--slurm-init-seconds-before-status-checks", "1"]
    started = time.time()
    log = work / "snakemake.log"
    with log.open("w") as out:
        run = subprocess.Popen(argv, cwd=work, env=slurm, stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            cancelled = cancel_training_once_checkpointed(run, work, slurm)
            run.wait(timeout=3600)
        finally:
            if run.poll() is None:
                run.terminate()
                run.wait()
    output = log.read_text()
    assert run.returncode == 0, f"the run through Slurm failed:\n{output[-6000:]}"
    print(f"the workflow through Slurm took {time.time() - started:.0f} s")  # the docs quote it (pytest -s)
    local = request.getfixturevalue("workflow_run")
    return {
        "local": local,
        "work": work,
        "local_log": (local / "run.log").read_text(),
        "log": output,
        "cancelled": cancelled,
    }


def job_counts(log: str) -> dict[str, int]:
    """Snakemake's 'Job stats' table (rule: count), without the local target rule and the total."""
    table = log.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    rows = (line.split() for line in table.splitlines()[3:])
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[0] not in ("all", "total")}


def planned_cpus(log: str) -> dict[str, int]:
    """The threads Snakemake gave each job it submitted, by Slurm job id (1 where it prints none): each job's
    block names its jobid, and its submission line ties that to the Slurm job."""
    threads, planned, jobid = {}, {}, None
    for line in log.splitlines():
        if re.match(r"rule \w+:$", line):
            jobid = None
        elif match := re.match(r"    jobid: (\d+)$", line):
            jobid = match.group(1)
            threads[jobid] = 1
        elif (match := re.match(r"    threads: (\d+)$", line)) and jobid:
            threads[jobid] = int(match.group(1))
        elif match := re.match(r"Job (\d+) has been submitted with SLURM jobid (\d+)", line):
            planned[match.group(2)] = threads[match.group(1)]
    return planned


def own_lines(log: str) -> str:
    """The submitting Snakemake's log without the job logs it prints for a failed job (show-failed-logs): a
    Slurm job's log holds the Snakemake inside it, which runs its one job as a local rule."""
    return re.sub(r"^Logfile .*:\n(=+)\n.*?^\1$\n", "", log, flags=re.M | re.S)  # ruled as wide as its lines


def rule_of(job: dict) -> str:
    return re.match(r"rule_(\w+?)(?:_wildcards_.*)?$", job["comment"]).group(1)


def test_each_job_ran_once_on_slurm_asking_for_the_promised_cpus_or_on_the_host(runs, slurm):
    completed = [job for job in slurm_jobs(slurm) if job["state"] == "COMPLETED"]
    on_slurm = Counter(rule_of(job) for job in completed)
    on_host = Counter(re.findall(r"^localrule (\w+):$", own_lines(runs["log"]), flags=re.M))
    del on_host["all"]
    # Each job of the local run ran once (the cancelled training once more), on Slurm or, for the rules of
    # seconds, on the submitting host; nothing else ran.
    assert on_slurm + on_host == Counter(job_counts(runs["local_log"])) == Counter(job_counts(runs["log"]))
    assert set(on_host) == HOST_RULES & set(job_counts(runs["log"])) and "train" in on_slurm
    planned = planned_cpus(runs["log"])
    for job in completed:
        assert int(job["cpus"]) == planned[job["id"]], (
            f"{job} asked for other CPUs than the {planned[job['id']]} planned"
        )
        if rule_of(job) in GPU_JOB_RULES:
            assert int(job["cpus"]) == PROMISED_CPUS, job


def test_a_training_cancelled_with_scancel_is_retried_and_resumes_from_its_checkpoint(runs, slurm):
    states = {job["id"]: job["state"] for job in slurm_jobs(slurm)}
    assert states[runs["cancelled"]] == "CANCELLED"
    summary = json.loads((runs["work"] / f"results/presets/{KILLED}/train_summary.json").read_text())
    assert summary["resumed_from"], "the retried training started afresh instead of resuming"


def numbers(value, path="") -> dict[str, float]:
    """Every number in a JSON document, by its path."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in numbers(item, f"{path}/{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in numbers(item, f"{path}/{i}").items()}
    return {path: float(value)} if isinstance(value, (int, float)) and not isinstance(value, bool) else {}


def test_outputs_equal_a_local_runs(runs):
    local, work = runs["local"], runs["work"]
    metrics = sorted(path.relative_to(local) for path in (local / "results").rglob("metrics.json"))
    assert metrics and metrics == sorted(path.relative_to(work) for path in (work / "results").rglob("metrics.json"))
    for path in metrics:
        expected, found = (numbers(json.loads((root / path).read_text())) for root in (local, work))
        assert found.keys() == expected.keys(), path
        for key, value in expected.items():
            assert found[key] == pytest.approx(value, abs=1e-3), f"{path}{key}"
    predictions = sorted(path.relative_to(local) for path in (local / "results").rglob("predictions.xlsx"))
    assert predictions
    for path in predictions:
        labels = [pd.read_excel(root / path)["predicted_label"].tolist() for root in (local, work)]
        assert labels[0] == labels[1], path
