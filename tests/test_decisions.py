"""The report's decision procedure end to end on the tiny model, tested like a statistic: over several seeds,
two presets with the same settings are never told apart, and a broken one is reported as worse."""

import copy
import json

import pytest
import yaml

from focalcls.tables import write_xlsx
from helpers import snakemake
from test_workflow import RAW, RETRAIN_PLAN, tiny_config

pytestmark = pytest.mark.slow  # runs Snakemake and trains

SEEDS = [0, 1, 2]
# ce-twin is ce under another name; broken weighs one class a trillion times the others, so it learns to
# predict that class alone.
PRESETS = {
    "ce-twin": {"loss": "ce"},
    "ce": {"loss": "ce"},
    "broken": {"loss": "ce", "alpha": [1.0e6, 1.0e-6, 1.0e-6, 1.0e-6]},
}


@pytest.fixture(scope="module")
def decided(tmp_path_factory, imbalanced_rows, tiny_model_dir):
    work = tmp_path_factory.mktemp("decisions")
    write_xlsx(work / RAW, imbalanced_rows)
    config = tiny_config(tiny_model_dir)
    config.update(presets=copy.deepcopy(PRESETS), baselines=["tfidf"], predict={}, logit_adjustment={"taus": []})
    config["train"].update(seeds=SEEDS, epochs=3)
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake("results/report.html", "--configfile", "config.yaml", "--cores", "2", cwd=work)
    return work


def against_ce(html: str) -> dict[str, list[str]]:
    """The report's 'against ce' table: model -> its decisions on macro-F1 and minority-F1."""
    table = html.split("<h3>Each model against ce")[1].split("</table>")[0]
    rows = {}
    for row in table.split("<tr>")[2:]:
        cells = [c.split("</td>")[0] for c in row.split("<td")[1:]]
        rows[cells[0].split(">")[1]] = [cells[3].split(">")[1], cells[6].split(">")[1]]
    return rows


def test_every_preset_and_seed_is_its_own_run(decided):
    for preset in PRESETS:
        for seed in SEEDS:
            run = preset if seed == SEEDS[0] else f"{preset}/seed-{seed}"
            summary = json.loads((decided / f"results/presets/{run}/train_summary.json").read_text())
            assert summary["preset"] == preset
    assert (decided / "results/logs/train/ce/seed-1.log").is_file()


def test_identical_presets_cannot_be_told_apart_and_a_broken_one_is_worse(decided):
    html = (decided / "results/report.html").read_text(encoding="utf-8")
    decisions = against_ce(html)
    assert decisions["ce-twin"] == ["cannot be told apart", "cannot be told apart"]
    assert decisions["broken"][0] == "worse"
    assert "mean over 3 training seeds" in html and " ± " in html
    headline = html.split('<p class="headline">')[1].split("</ul>")[0]
    assert "helps" not in headline  # ce-twin may be chosen (ties go to the first listed): never a gain


def test_one_seed_is_a_target_that_reruns_alone_and_adding_a_seed_trains_only_it(decided):
    plan = snakemake("results/presets/ce/seed-1/eval/metrics.json", *RETRAIN_PLAN, cwd=decided).stdout
    assert "report" not in plan and any(line.split() == ["train", "1"] for line in plan.splitlines())
    config = yaml.safe_load((decided / "config.yaml").read_text())
    config["train"]["seeds"] = [*SEEDS, 3]
    (decided / "more.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake("results/report.html", "--configfile", "more.yaml", "-n", "--quiet", "rules", cwd=decided).stdout
    assert any(line.split() == ["train", str(len(PRESETS))] for line in plan.splitlines())
