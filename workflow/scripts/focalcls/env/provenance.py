"""What produced a run, for the report's last section: the config, package versions, the commit, the machine,
the seeds, and how long each rule took."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

from focalcls.env.check_env import pinned_versions


def provenance(config: Mapping, *, repo: Path, benchmarks: Path) -> dict:
    """`repo`: the workflow's checkout (its envs/requirements.txt and git commit); `benchmarks`: the folder of
    the rules' benchmark files (results/benchmarks)."""
    return {
        # Keys sorted at every level, so the configs of two runs compare line by line.
        "config_yaml": yaml.safe_dump(dict(config), allow_unicode=True, sort_keys=True),
        "versions": installed_versions(repo / "envs" / "requirements.txt"),
        "commit": git_commit(repo) or "unknown (not a git checkout)",
        "python": platform.python_version(),
        "hardware": hardware(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "timings": rule_timings(benchmarks),
        "seeds": {"split": config["split"]["seed"], "train": ", ".join(map(str, config["train"]["seeds"]))},
    }


def installed_versions(requirements: Path) -> dict[str, str]:
    """Every pinned package, as installed here."""
    versions = {}
    for package in pinned_versions(requirements):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def git_commit(repo: Path) -> str:
    """HEAD of the checkout; empty when it is not one or git is missing."""
    try:
        done = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    except OSError:
        return ""
    return done.stdout.strip()


def rule_timings(benchmarks: Path) -> list[dict]:
    """Wall seconds of each rule's latest run, named by its benchmark file (e.g. train/ce)."""
    timings = []
    for tsv in sorted(benchmarks.rglob("*.tsv")):
        frame = pd.read_csv(tsv, sep="\t")
        timings.append(
            {"rule": str(tsv.relative_to(benchmarks).with_suffix("")), "seconds": float(frame["s"].iloc[-1])}
        )
    return timings


def hardware() -> str:
    import torch

    gpus = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    )
    cpu = platform.processor() or platform.machine()
    return f"CPU {cpu}, {os.cpu_count()} cores" + (f"; GPUs: {', '.join(gpus)}" if gpus else "; no GPU")
