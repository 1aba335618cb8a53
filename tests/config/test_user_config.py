"""A user's config stands on its own: run where the demo's config/config.yaml lies (the repository root, as
users do), a --configfile with only data and model plans the schema's defaults, not the demo's settings."""

import json
import re
import shutil

import pytest
import yaml

from conftest import REPO
from focalcls.config.loading import SCHEMA
from focalcls.core.spreadsheets import write_xlsx
from helpers import snakemake

pytestmark = pytest.mark.slow


@pytest.fixture
def beside_the_demo_config(tmp_path, imbalanced_rows):
    """A working folder holding the demo's config/config.yaml, the way a checkout of the workflow does."""
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "config/config.yaml", tmp_path / "config/config.yaml")
    write_xlsx(tmp_path / "mine.xlsx", imbalanced_rows)
    return tmp_path


def planned_trainings(work, configfile: str) -> list[str]:
    plan = snakemake("-n", "--configfile", configfile, cwd=work).stdout
    return sorted(set(re.findall(r"results/presets/([^/]+)/train_summary\.json", plan)))


def test_a_config_with_data_and_model_only_gets_no_simulated_long_tail(beside_the_demo_config, tiny_model_dir):
    work = beside_the_demo_config
    mine = {"data": {"raw": "mine.xlsx"}, "model": {"checkpoint": str(tiny_model_dir), "max_length": 16}}
    (work / "my.yaml").write_text(yaml.safe_dump(mine))
    # The schema's seven presets, not fewer and not the demo's own list by accident.
    assert planned_trainings(work, "my.yaml") == sorted(
        yaml.safe_load(SCHEMA.read_text())["properties"]["presets"]["default"]
    )
    snakemake("results/data/summary.json", "--configfile", "my.yaml", "--cores", "1", cwd=work)
    summary = json.loads((work / "results/data/summary.json").read_text(encoding="utf-8"))
    assert summary["balance"]["strategy"] == "none"  # the demo's config says longtail
    counts = summary["counts"]
    total = sum(sum(split.values()) for split in counts.values())
    assert sum(counts["test"].values()) / total == pytest.approx(0.1, abs=0.03)  # the demo's is 0.06


def test_a_config_listing_two_presets_plans_those_two(beside_the_demo_config, tiny_model_dir):
    work = beside_the_demo_config
    mine = {
        "data": {"raw": "mine.xlsx"},
        "model": {"checkpoint": str(tiny_model_dir)},
        "presets": {"ce": {"loss": "ce"}, "moderate": {"form": "sigmoid", "alpha": 0.25, "gamma": 2.0}},
    }
    (work / "my.yaml").write_text(yaml.safe_dump(mine))
    assert planned_trainings(work, "my.yaml") == ["ce", "moderate"]


def test_the_demo_trains_on_one_thread_each_while_a_users_cpu_training_takes_every_core(
    beside_the_demo_config, tiny_model_dir
):
    # The demo's config sets train.cpu_threads 1 so that two presets train side by side (BENCHMARKS.md);
    # a user's config does not inherit it: with gpus 0 each training takes every core given.
    work = beside_the_demo_config
    mine = {"data": {"raw": "mine.xlsx"}, "model": {"checkpoint": str(tiny_model_dir), "max_length": 16}}
    (work / "my.yaml").write_text(yaml.safe_dump(mine))

    def train_threads(*config) -> set[str]:
        plan = snakemake("-n", "-p", "--cores", "2", *config, cwd=work).stdout
        return set(re.findall(r"scripts/train\.py'? --threads (\d+)", plan))

    assert train_threads() == {"1"}
    assert train_threads("--configfile", "my.yaml") == {"2"}
