"""Environments: the conda file every rule uses pins exactly what requirements.txt pins; every rule is timed."""

import re

import yaml

from conftest import REPO
from focalcls.doctor import pinned_versions


def test_conda_environment_pins_match_the_requirements():
    env = yaml.safe_load((REPO / "envs/focalcls.yaml").read_text(encoding="utf-8"))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_pins = dict(line.lower().split("==") for line in pip)
    assert conda_pins == pinned_versions(REPO / "envs/requirements.txt")
    assert "python=3.11" in env["dependencies"]


def test_every_rule_runs_in_the_conda_environment_and_records_its_time():
    for rules in (REPO / "workflow/rules").glob("*.smk"):
        blocks = re.split(r"^rule ", rules.read_text(encoding="utf-8"), flags=re.M)[1:]
        for block in blocks:
            name = block.split(":", 1)[0]
            assert re.search(r"^    conda:\n        ENV$", block, flags=re.M), (
                f"rule {name} in {rules.name} has no conda: ENV"
            )
            if name != "check_env":  # runs on every call: a benchmark file would count as its output
                assert re.search(r"^    benchmark:\n", block, flags=re.M), (
                    f"rule {name} in {rules.name} has no benchmark:"
                )
