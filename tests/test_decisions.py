"""The report's decision procedure end to end on the tiny model: over several seeds, a broken preset is reported
as worse than ce, and the gamma-then-alpha search, planned by Snakemake from its first stage's result, trains
nothing twice. (That two presets with the same settings are never told apart is tested where it is cheaper:
the same config and seed train the same model in test_scripts, a run's seed does not depend on its preset's
name (below), the intervals' false alarms on simulated runs in report/test_differences, ties going to the
first listed preset in report/test_report.)

The run starts from a training file and a validation file alone, with the audit cross-fitted by ce, and its
last test checks that scenario: one tiny run serves both, as each of its jobs is mostly an interpreter's start."""

import copy
import json
import re

import pandas as pd
import pytest
import yaml

from focalcls.core.spreadsheets import write_xlsx
from helpers import snakemake
from test_workflow import RETRAIN_PLAN, tiny_config

pytestmark = pytest.mark.slow  # runs Snakemake and trains

SEEDS = [0, 1, 2]
# broken weighs one class a trillion times the others, so it learns to predict that class alone.
PRESETS = {
    "ce": {"loss": "ce"},
    "broken": {"loss": "ce", "alpha": [1.0e6, 1.0e-6, 1.0e-6, 1.0e-6]},
    # the search's first point, configured as a preset: its runs serve the search, trained once
    "focal-twin": {"loss": "focal", "form": "sigmoid", "alpha": 0.25, "gamma": 0.5},
}
TRAINING_ROWS = 230  # the rest is the validation file
# One gamma, focal-twin's: the first stage trains nothing and is planned all the same; the second chooses
# between that point and one the search trains itself (choosing among several points, and on validation
# alone: train/test_tuning).
TUNE = {"gammas": [0.5], "alpha": 0.25, "alphas": [0.75], "form": "sigmoid", "metric": "macro_f1"}


@pytest.fixture(scope="module")
def decided(tmp_path_factory, imbalanced_rows, tiny_model_dir):
    work = tmp_path_factory.mktemp("decisions")
    write_xlsx(work / "input/train.xlsx", imbalanced_rows.iloc[:TRAINING_ROWS])
    write_xlsx(work / "input/val.xlsx", imbalanced_rows.iloc[TRAINING_ROWS:])
    config = tiny_config(tiny_model_dir)
    config["data"] = {"train": "input/train.xlsx", "val": "input/val.xlsx", "keep_columns": ["id"]}
    config.update(presets=copy.deepcopy(PRESETS), baselines=["tfidf"], predict={}, logit_adjustment={"taus": []})
    # The audit's training rows scored by ce cross-fitted over two folds: two more trainings, the first seed's.
    config["audit"] = {"folds": 2, "model": "ce"}
    config["ensembles"] = {"seeds": False, "tfidf": False}  # decisions between presets (ensembles: test_ensembles)
    config["train"].update(seeds=SEEDS, epochs=3)
    config["tune"] = TUNE
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
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


def test_a_broken_preset_is_worse_over_the_seeds_and_ce_is_chosen(decided):
    html = (decided / "results/report.html").read_text(encoding="utf-8")
    decisions = against_ce(html)
    assert decisions["broken"] == ["worse", "worse"]  # it never predicts the minority classes
    assert "mean over 3 training seeds" in html and " ± " in html
    headline = html.split('<p class="headline">')[1].split("</ul>")[0]
    assert "Use <strong>ce</strong>" in headline
    assert "Plain cross-entropy (ce) is the best on validation" in headline


def test_every_preset_trains_a_seed_with_that_seed_whatever_its_name(decided):
    """The intervals pair presets seed by seed: a run's seed comes from its seed folder, never from its name
    (the commands a retraining of seed 1 would run, read from the dry run)."""
    targets = [f"results/presets/{p}/seed-1/train_summary.json" for p in ("ce", "broken", "focal-twin")]
    plan = snakemake(*targets, "-n", "-p", "--forcerun", "train", "--configfile", "config.yaml", cwd=decided).stdout
    seeds = dict(re.findall(r'--run (\S+) .*?\\?"seed\\?": (\d+)', plan))
    assert seeds == {"ce/seed-1": "1", "broken/seed-1": "1", "focal-twin/seed-1": "1"}


def test_one_seed_is_a_target_that_reruns_alone_and_adding_a_seed_trains_only_it(decided):
    plan = snakemake("results/presets/ce/seed-1/eval/metrics.json", *RETRAIN_PLAN, cwd=decided).stdout
    assert "report" not in plan and any(line.split() == ["train", "1"] for line in plan.splitlines())
    config = yaml.safe_load((decided / "config.yaml").read_text())
    config["train"]["seeds"] = [*SEEDS, 3]
    (decided / "more.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake("results/report.html", "--configfile", "more.yaml", "-n", "--quiet", "rules", cwd=decided).stdout
    # the new seed's run of each preset, and none of the search's first stage, whose one point is focal-twin's
    # (its second stage is planned once the first stage has chosen again)
    assert any(line.split() == ["train", str(len(PRESETS) + len(TUNE["gammas"]) - 1)] for line in plan.splitlines())


def test_the_search_chooses_gamma_then_alpha_on_validation_and_trains_nothing_twice(decided):
    gamma = json.loads((decided / "results/tune/gamma.json").read_text())
    alpha = json.loads((decided / "results/tune/alpha.json").read_text())
    assert [p["value"] for p in gamma["points"]] == TUNE["gammas"] and gamma["fixed"] == {"alpha": 0.25}
    for stage in (gamma, alpha):
        means = [p["mean"] for p in stage["points"]]
        assert all(len(p["seeds"]) == len(SEEDS) and p["sd"] is not None for p in stage["points"])
        assert stage["chosen"] == stage["points"][means.index(max(means))]["value"]
    assert alpha["fixed"] == {"gamma": gamma["chosen"]} and [p["value"] for p in alpha["points"]] == [0.25, 0.75]
    # gamma 0.5 at alpha 0.25 is the preset focal-twin: its runs, named under both names
    assert [(p["run"], p["preset"]) for p in gamma["points"]] == [("focal-twin", "focal-twin")]
    assert [(p["run"], p["preset"]) for p in alpha["points"]] == [
        ("focal-twin", "focal-twin"),
        ("tune/gamma-0.5-alpha-0.75", None),
    ]
    trained = sorted(p.parent.name + "/" + p.name for p in (decided / "results/benchmarks/train/tune").rglob("*.tsv"))
    # one new alpha, each seed once: the first stage's point (focal-twin's) is not trained again
    assert len(trained) == len(SEEDS)
    (best,) = [p for p in alpha["points"] if p["value"] == alpha["chosen"]]
    winner = f"results/presets/{best['run']}"
    for seed_folder in ("", "/seed-1"):
        tuned = json.loads((decided / f"results/presets/tuned{seed_folder}/eval/metrics.json").read_text())
        assert tuned == json.loads((decided / f"{winner}{seed_folder}/eval/metrics.json").read_text())
    html = (decided / "results/report.html").read_text(encoding="utf-8")
    assert "How tuned was found" in html and '<tr><td class="text">tuned</td>' in html
    assert "0.5 (the preset focal-twin, not trained again) → " in html
    assert (
        "Nothing to be done"
        in snakemake("results/report.html", "--configfile", "config.yaml", "-n", cwd=decided).stdout
    )


def test_the_quality_bench_prints_what_a_run_of_seeds_and_the_search_holds(decided):
    """bench/quality/full_lora.py reads the workflow's folder as the report does: means over seeds, the path,
    the verdicts."""
    from helpers import run_bench

    out = run_bench("quality.full_lora", "--work", decided, "--print-only", cwd=decided).stdout
    assert re.search(r"^ce\s+\d\.\d{3} ± \d\.\d{3}\s+\d\.\d{3} ± ", out, flags=re.M)  # mean ± sd over the seeds
    assert re.search(r"^tuned\s+\d\.\d{3} ± ", out, flags=re.M) and "search, alpha at gamma" in out
    assert re.search(r"^broken \| -\d\.\d{3} \| -\d\.\d{3} to -\d\.\d{3} \| worse", out, flags=re.M) and "Use ce" in out


def test_train_and_val_files_alone_run_through_and_the_report_says_where_test_came_from(decided, imbalanced_rows):
    test = pd.read_excel(decided / "results/data/test.xlsx", dtype=str)
    training_ids = set(imbalanced_rows.id.iloc[:TRAINING_ROWS])
    assert set(test.id) <= training_ids and len(test) == pytest.approx(0.2 * TRAINING_ROWS, abs=4)
    html = (decided / "results/report.html").read_text(encoding="utf-8")
    assert (
        "val: the file input/val.xlsx; test: 20% of the training file input/train.xlsx, stratified by label (seed 1); "
        "no test file was given." in html
    )
    audit = json.loads((decided / "results/audit/summary.json").read_text())
    assert audit["model"]["train"] == "ce, 2-fold: 2 trainings" and "ce, 2-fold: 2 trainings" in html
    texts = set(pd.read_excel(decided / "results/data/train.xlsx", dtype=str).text)
    held = [pd.read_excel(decided / f"results/presets/audit/fold-{i}/held/predictions.xlsx", dtype=str) for i in (1, 2)]
    assert audit["train"]["rows"] == len(texts) == sum(map(len, held)) and set().union(*(h.text for h in held)) == texts
    fold = pd.read_excel(decided / "results/audit/folds/fold-1/train.xlsx", dtype=str)
    assert not set(fold.text) & set(held[0].text)  # the held-out fold never seen in training
