"""Environments: the conda file every rule uses pins exactly what requirements.txt pins; every rule is timed."""

from contextlib import chdir
from pathlib import Path

import yaml

from conftest import REPO
from focalcls.env.check_env import pinned_versions


def test_conda_environment_pins_match_the_requirements():
    env = yaml.safe_load((REPO / "envs/focalcls.yaml").read_text(encoding="utf-8"))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_pins = dict(line.lower().split("==") for line in pip)
    assert conda_pins == pinned_versions(REPO / "envs/requirements.txt")
    assert "python=3.11" in env["dependencies"]


def workflow_rules() -> list:
    """The rules as Snakemake itself reads the Snakefile (no job is planned or run)."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import OutputSettings, ResourceSettings

    with chdir(REPO), SnakemakeApi(OutputSettings(quiet=True)) as api:
        return list(api.workflow(resource_settings=ResourceSettings(), snakefile=Path("Snakefile"))._workflow.rules)


def test_every_rule_runs_in_the_conda_environment_and_records_its_time():
    rules = [rule for rule in workflow_rules() if rule.name != "all"]  # all only gathers targets
    assert len(rules) >= 12
    for rule in rules:
        env = (Path(str(rule.snakefile)).parent / str(rule.conda_env)).resolve()
        assert env == REPO / "envs/focalcls.yaml", f"rule {rule.name} runs in {rule.conda_env}"
        if rule.name != "check_env":  # runs on every call: a benchmark file would count as its output
            assert str(rule.benchmark).startswith("results/benchmarks/"), f"rule {rule.name} has no benchmark:"
