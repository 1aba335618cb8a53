"""The report: its headline in words (signed differences, the verdict on the rare classes), the preset it
picks, and its script reading only the files its rule declares."""

import json
from pathlib import Path

import pytest

from conftest import REPO
from focalcls.config.loading import complete
from focalcls.config.runs import BASELINE_FILES, run_files, run_name
from focalcls.core.errors import UserError
from focalcls.evaluate.selection import pick_best
from focalcls.report.headline import TIE_TOLERANCE, comparison_sentence, headline
from focalcls.report.runs import declared_paths, read_runs
from focalcls.report.tables import TABLE_COLUMNS
from helpers import adjusted_outputs, calibrate, ensemble, run_rule_script

# What the report reads of an ensemble run (the report_files function of workflow/rules/common/runs.smk).
REPORTED_ENSEMBLE_FILES = ("metrics", "predictions", "calibration", "calibrated")


def run(macro, minority, val=0.5):
    return {
        "kind": "preset",
        "metrics": {"macro_f1": macro, "minority_f1": minority, "minority_labels": ["x"], "val": {"macro_f1": val}},
    }


def test_sentence_gives_signs_values_and_relative_minority_change():
    runs = {"ce": run(0.788, 0.650), "balanced": run(0.806, 0.694)}
    assert comparison_sentence("balanced", "ce", runs) == (
        "Against ce, balanced is higher on macro-F1 by +0.018 (0.788 to 0.806) and higher on minority-class F1"
        " by +0.044 (0.650 to 0.694, +6.8% relative)."
    )
    runs["tfidf"] = run(0.810, 0.694)
    assert comparison_sentence("balanced", "tfidf", runs) == (
        "Against tfidf, balanced is lower on macro-F1 by -0.004 (0.810 to 0.806) "
        "and level on minority-class F1 (0.694)."
    )


def test_verdict_says_whether_the_rare_classes_gain():
    runs = {"ce": run(0.79, 0.65, val=0.80), "moderate": run(0.78, 0.62, val=0.81), "tfidf": run(0.5, 0.4)}
    answer = headline(runs, "moderate", "macro_f1", ["tfidf"])
    assert (
        answer["verdict"]
        == "For the rare classes, moderate does not help: minority-class F1 -0.030 against ce on test."
    )
    assert [s.split(",")[0] for s in answer["sentences"]] == ["Against ce", "Against tfidf"]
    assert "no focal-loss preset beat it" in headline(runs, "ce", "macro_f1", ["tfidf"])["verdict"]
    assert "no ce preset" in headline({"moderate": runs["moderate"]}, "moderate", "macro_f1", [])["verdict"]


def test_an_ensemble_of_ce_is_not_credited_as_a_loss_that_helps():
    blend = {**run(0.80, 0.70, val=0.9), "kind": "ensemble", "ensemble": {"kind": "tfidf", "preset": "ce"}}
    runs = {"ce": run(0.79, 0.65, val=0.80), "ce+tfidf": blend, "moderate": run(0.78, 0.62, val=0.81)}
    verdict = headline(runs, "ce+tfidf", "macro_f1", [])["verdict"]
    assert verdict == (
        "ce+tfidf is an ensemble of plain cross-entropy (ce): no focal-loss preset beat it on this data; "
        "the ensemble against ce alone: minority-class F1 +0.050 against ce on test."
    )
    moderate = {**blend, "ensemble": {"kind": "seeds", "preset": "moderate"}}
    assert "helps" in headline({**runs, "ce+tfidf": moderate}, "ce+tfidf", "macro_f1", [])["verdict"]


def test_no_binary_curves_gives_no_figure_and_a_tie_is_no_gain():
    from focalcls.report.plots import binary_curves

    assert binary_curves({"ce": {"curves": None, "roc_auc": None}, "moderate": {"curves": None}}) is None
    runs = {"ce": run(0.79, 0.6502, val=0.80), "moderate": run(0.80, 0.6504, val=0.81)}
    answer = headline(runs, "moderate", "macro_f1", [])
    assert "level on minority-class F1 (0.650)" in answer["sentences"][0]
    assert answer["verdict"].startswith("For the rare classes, moderate makes no difference")


def test_with_intervals_a_gain_counts_only_when_its_interval_is_above_zero():
    runs = {"ce": run(0.788, 0.650), "balanced": run(0.806, 0.694, val=0.9), "tfidf": run(0.5, 0.4)}
    wide = {"ce": {"macro_f1": (-0.01, 0.05), "minority_f1": (-0.03, 0.11)}}
    answer = headline(runs, "balanced", "macro_f1", ["tfidf"], wide)
    assert "(0.650 to 0.694, +6.8% relative; 95% interval -0.030 to +0.110)" in answer["sentences"][0]
    assert "cannot be told apart" in answer["verdict"] and "includes zero" in answer["verdict"]
    assert "interval" not in answer["sentences"][1]  # no paired predictions for tfidf given
    clear = {"ce": {"macro_f1": (0.01, 0.03), "minority_f1": (0.02, 0.07)}}
    assert headline(runs, "balanced", "macro_f1", [], clear)["verdict"].startswith(
        "For the rare classes, balanced helps"
    )
    worse = {"ce": {"macro_f1": (-0.03, -0.01), "minority_f1": (-0.07, -0.02)}}
    assert "does worse than ce" in headline(runs, "balanced", "macro_f1", [], worse)["verdict"]


def test_the_headline_advises_the_cheap_model_only_when_tfidf_is_not_clearly_worse():
    """The interval of the chosen model minus TF-IDF on macro-F1: above zero, no advice; including zero or below
    it, the sentence with the honest advice."""
    runs = {"ce": run(0.70, 0.60), "balanced": run(0.80, 0.70, val=0.9), "tfidf": run(0.78, 0.66)}
    clear = {"tfidf": {"macro_f1": (0.005, 0.04), "minority_f1": (-0.01, 0.09)}}
    assert headline(runs, "balanced", "macro_f1", ["tfidf"], clear)["advice"] is None
    within = {"tfidf": {"macro_f1": (-0.01, 0.05), "minority_f1": (0.01, 0.09)}}
    advice = headline(runs, "balanced", "macro_f1", ["tfidf"], within)["advice"]
    assert advice.startswith("balanced is not clearly better than TF-IDF: its macro-F1 minus TF-IDF's has a 95% ")
    assert "-0.010 to +0.050, which includes zero" in advice and "use the TF-IDF model" in advice
    below = {"tfidf": {"macro_f1": (-0.05, -0.01), "minority_f1": (-0.09, 0.01)}}
    assert "lies below zero" in headline(runs, "balanced", "macro_f1", ["tfidf"], below)["advice"]
    assert headline(runs, "balanced", "macro_f1", ["tfidf"])["advice"] is None  # no interval: nothing claimed


def test_an_ensemble_is_a_row_chosen_only_when_validation_prefers_it(tmp_path):
    """An ensemble's runs are read as a preset's (kind ensemble, its weights noted); a blend that kept weight 1
    everywhere is no row, said beside its preset."""
    files = {}
    for name, weight in (("balanced", None), ("balanced+tfidf", 0.8), ("ce+tfidf", 1.0), ("ce", None)):
        folder = tmp_path / name
        folder.mkdir()
        metrics = {"macro_f1": 0.5, "val": {"macro_f1": 0.9 if weight == 0.8 else 0.5}}
        if "+" in name:
            metrics["ensemble"] = {"kind": "tfidf", "preset": name.split("+")[0], "runs": [name], "weight": weight}
        (folder / "metrics.json").write_text(json.dumps(metrics))
        (folder / "calibration.json").write_text(json.dumps({"temperature": 1.0, "test": {"ece_after": 0.1}}))
        files[name] = [{kind: folder / f"{kind}.json" for kind in ("metrics", "calibration")}]
        files[name][0].update(predictions=folder / "p.xlsx", calibrated=folder / "c.xlsx")
    presets = {name: files[name] for name in ("balanced", "ce")}
    ensembles = {name: files[name] for name in ("balanced+tfidf", "ce+tfidf")}
    runs = read_ensembles_only(presets, ensembles)
    assert runs["balanced+tfidf"]["kind"] == "ensemble" and "ce+tfidf" not in runs
    assert runs["balanced+tfidf"]["adjustment"] == "blended with tfidf, LLM weight 0.8 (chosen on validation)"
    assert runs["ce"]["blend"] == "TF-IDF blend: weight 1, unchanged"
    assert pick_best({name: runs[name]["metrics"] for name in runs}, "macro_f1") == "balanced+tfidf"


def read_ensembles_only(presets, ensembles):
    """read_runs' preset and ensemble rows, with the presets' own files left out (binary, confusion, training)."""
    from focalcls.report.runs import over_seeds, read_ensembles

    runs = {
        name: {"kind": "preset", **over_seeds([json.loads(f[0]["metrics"].read_text())], f)}
        for name, f in presets.items()
    }
    return {**runs, **read_ensembles(ensembles, runs)}


def test_a_difference_below_the_tie_tolerance_is_level_on_both_sides():
    runs = {"ce": run(0.5, 0.5), "up": run(0.5 + TIE_TOLERANCE * 0.9, 0.5 - TIE_TOLERANCE * 0.9)}
    assert comparison_sentence("up", "ce", runs) == (
        "Against ce, up is level on macro-F1 (0.500) and level on minority-class F1 (0.500)."
    )


def test_best_preset_is_chosen_on_validation_and_ties_go_to_the_first_listed():
    metrics = {name: run(0.1, 0.1, val=v)["metrics"] for name, v in [("ce", 0.7), ("mild", 0.8), ("severe", 0.8)]}
    assert pick_best(metrics, "macro_f1") == "mild"
    assert pick_best({"severe": metrics["severe"], "mild": metrics["mild"]}, "macro_f1") == "severe"


def test_the_report_reads_only_paths_its_rule_declares():
    files = {"presets": {"ce": [{"metrics": "a/m.json"}]}, "baselines": {"tfidf": {"metrics": "t/m.json"}}}
    found = declared_paths(files, ["a/m.json", "t/m.json", "x.xlsx"])
    assert found == {
        "presets": {"ce": [{"metrics": Path("a/m.json")}]},
        "baselines": {"tfidf": {"metrics": Path("t/m.json")}},
    }
    with pytest.raises(ValueError, match="t/m.json is not among the report rule's inputs"):
        declared_paths(files, ["a/m.json"])


def test_a_runs_files_are_named_by_preset_and_seed_not_by_position():
    files = run_files({"ce": ["ce", "ce/seed-1"], "old": ["old"]}, {"metrics": "metrics", "log": "train_log"})
    assert files == {
        "ce": [
            {"metrics": "results/presets/ce/eval/metrics.json", "log": "results/presets/ce/train_log.csv"},
            {
                "metrics": "results/presets/ce/seed-1/eval/metrics.json",
                "log": "results/presets/ce/seed-1/train_log.csv",
            },
        ],
        "old": [{"metrics": "results/presets/old/eval/metrics.json", "log": "results/presets/old/train_log.csv"}],
    }
    assert [run_name("ce", seed, [42, 1]) for seed in (42, 1)] == ["ce", "ce/seed-1"]


PRESET_KINDS = {
    "metrics": "metrics.json",
    "predictions": "predictions.xlsx",
    "confusion": "confusion.csv",
    "calibration": "calibrated/calibration.json",
    "calibrated": "calibrated/predictions.xlsx",
}


def audit_summary(stages, folder):
    """An audit's summary.json as the audit rule writes it: one flag per split in the first class."""
    labels = json.loads((stages / "d/labels.json").read_text())
    split = {"rows": 40, "flagged": 3, "per_class": {x: {"rows": 10, "flagged": 3 * (x == labels[0])} for x in labels}}
    path = folder / "audit.json"
    path.write_text(
        json.dumps(
            {"model": {"train": "tfidf, 5-fold", "val": "balanced", "test": "balanced"}}
            | {s: split for s in ("train", "val", "test")}
        )
    )
    return path


@pytest.mark.slow
def test_report_script_reads_the_files_its_rule_declares(stages, tmp_path):
    """The stages' outputs lie where the workflow never puts them (d/, p/, b/): the page is built from them.
    `old`, an adapter trained elsewhere (here: the same scores), has no training files."""
    preset, eval_dir = "p/balanced", "p/balanced/eval"
    config = complete(
        {
            "presets": {"balanced": {"loss": "focal"}},
            "report": {"hardest_examples": 3},
            "evaluate": {"adapters": {"old": "x"}},
        }
    )
    adjusted = tmp_path / "adjusted"
    run_rule_script(
        "logit_adjustment.py",
        cwd=stages,
        input={
            "val": "d/val.xlsx",
            "test": "d/test.xlsx",
            "val_predictions": f"{eval_dir}/val_predictions.xlsx",
            "predictions": f"{eval_dir}/predictions.xlsx",
            "preset_metrics": f"{eval_dir}/metrics.json",
            "labels": "d/labels.json",
            "summary": "d/summary.json",
        },
        output=adjusted_outputs(adjusted),
        params={"adjustment": config["logit_adjustment"], "keep": ["id"]},
    )
    calibrate(stages, str(adjusted), None)
    blend = ensemble(stages, str(tmp_path / "balanced+tfidf"), {"balanced": eval_dir}, tfidf="b/tfidf")
    weight = json.loads(Path(blend["metrics"]).read_text())["ensemble"]["weight"]
    scored = json.loads((adjusted / "metrics.json").read_text())["logit_adjustment"]
    assert scored["tau"] in config["logit_adjustment"]["taus"]
    assert scored["val_scores"][str(scored["tau"])] == max(scored["val_scores"].values())
    run_files = {kind: f"{eval_dir}/{name}" for kind, name in PRESET_KINDS.items()}
    run_files["binary"] = f"{preset}/binary/metrics.json"
    files = {
        "presets": {"balanced": [run_files], "old": [run_files]},  # old: the same scores, its own row
        "training": {
            "balanced": [{"train_summary": f"{preset}/train_summary.json", "train_log": f"{preset}/train_log.csv"}]
        },
        "adjusted": {"balanced": [{kind: str(adjusted / path) for kind, path in BASELINE_FILES.items()}]},
        "baselines": {"tfidf": {kind: f"b/tfidf/{path}" for kind, path in BASELINE_FILES.items()}},
        "evaluations": {},
        "ensembles": {"balanced+tfidf": [{kind: blend[kind] for kind in REPORTED_ENSEMBLE_FILES}]},
    }
    declared = sorted({path for path in json.dumps(files).split('"') if "/" in path})
    run_rule_script(
        "report.py",
        cwd=stages,
        input={
            **{split: f"d/{split}.xlsx" for split in ("train", "val", "test")},
            "labels": "d/labels.json",
            "summary": "d/summary.json",
            "runs": declared,
            "tune": [],
            "audit": [str(audit_summary(stages, tmp_path))],
        },
        output={"html": str(tmp_path / "page.html"), "findings": str(tmp_path / "findings.json")},
        params={
            "files": files,
            "config": config,
            "repo": str(REPO),
            "benchmarks": str(tmp_path / "no-benchmarks"),
        },
        log={"log": str(tmp_path / "report.log")},
    )
    html = (tmp_path / "page.html").read_text(encoding="utf-8")
    # The blend is chosen when validation prefers it, as a preset would be; else the preset, listed first.
    val = {
        path: json.loads((stages / path).read_text())["val"]["macro_f1"]
        for path in (run_files["metrics"], blend["metrics"])
    }
    best = "balanced+tfidf" if val[blend["metrics"]] > val[run_files["metrics"]] else "balanced"
    assert f"Use <strong>{best}</strong>" in html and f"Against tfidf, {best} is" in html
    assert "95% interval" in html and "no ce preset in this run" in html
    assert "<p>Splits: train: the rest of raw.xlsx; val: 20% of raw.xlsx, stratified by label (seed 0); test: " in html
    assert html.count('<tr><td class="text">') >= 3 and '<tr><td class="text">tfidf</td>' in html
    assert '<tr><td class="text">old</td>' in html and "trained elsewhere (evaluate.adapters)" in html
    if scored["tau"]:
        assert f'<tr><td class="text">balanced + logit adjustment (tau={scored["tau"]:g})</td>' in html
    else:  # the preset itself: said beside it, no row of its own
        assert '<td class="text">balanced <span class="note">(logit adjustment: tau 0, unchanged)</span>' in html
    if weight == 1:  # the preset itself
        assert "TF-IDF blend: weight 1, unchanged" in html
    else:
        assert f'balanced+tfidf <span class="note">(blended with tfidf, LLM weight {weight:g}' in html
    assert f"best preset: {best};" in (tmp_path / "report.log").read_text(encoding="utf-8")
    # Calibration: the temperature fitted on validation, test ECE before and after, the review queue on test.
    chosen = blend["calibration"] if best == "balanced+tfidf" else run_files["calibration"]
    calibration = json.loads((stages / chosen).read_text())
    assert f"goes from\n{calibration['test']['ece_before']:.3f} to {calibration['test']['ece_after']:.3f}" in html
    assert "<th>ece calibrated</th>" in html and "reliability diagram" in html
    assert f"at least <strong>{calibration['review']['threshold']:.3f}</strong>" in html
    review = html.split('<section id="calibration">')[1].split("</section>")[0]
    assert review.count("(rare)</td>") == 1  # the tiny data's rarest third: one class of four
    assert json.loads((tmp_path / "findings.json").read_text())["best"] == best
    assert "<h2>10. Suspect labels</h2>" in html and "<td><strong>3 of 40</strong></td>" in html


def test_seeds_merge_into_means_but_each_seed_keeps_the_tau_it_chose():
    from focalcls.report.seed_summary import mean_over_seeds, spread_over_seeds

    seeds = [
        {"macro_f1": 0.6, "per_class": {"x": {"f1": 0.5, "support": 3}}, "logit_adjustment": {"tau": 0.5}},
        {"macro_f1": 0.8, "per_class": {"x": {"f1": 0.7, "support": 3}}, "logit_adjustment": {"tau": 1.0}},
    ]
    merged = mean_over_seeds(seeds)
    assert merged["macro_f1"] == pytest.approx(0.7) and merged["per_class"]["x"] == {
        "f1": pytest.approx(0.6),
        "support": 3,
    }
    assert merged["logit_adjustment"] == {"tau": 0.5}  # a chosen setting, never the mean of two choices
    assert spread_over_seeds(seeds, ["macro_f1"]) == {"macro_f1": pytest.approx(0.1414, abs=1e-4)}
    assert spread_over_seeds(seeds[:1], ["macro_f1"]) is None


def test_a_preset_and_a_baseline_of_one_name_are_refused_not_merged_into_one_row():
    with pytest.raises(UserError, match="the report has a preset and a baseline named 'tfidf'; rename the preset"):
        read_runs({"tfidf": [{}]}, {"tfidf": [{}]}, {"tfidf": {}}, {})


def test_a_logit_adjustment_that_chose_tau_0_is_said_beside_its_preset_not_repeated(tmp_path):
    from focalcls.report.tables import comparison_rows

    def files(name: str, tau: float | None = None) -> dict:
        metrics = {"macro_f1": 0.5, "val": {"macro_f1": 0.5}, "loss": {"loss": "ce", "alpha": [0.2, 0.8]}}
        if tau is not None:
            metrics["logit_adjustment"] = {"tau": tau}
        paths = {kind: tmp_path / f"{name}-{kind}.json" for kind in ("metrics", "binary", "calibration")}
        paths["metrics"].write_text(json.dumps(metrics))
        paths["binary"].write_text("{}")
        paths["calibration"].write_text(json.dumps({"test": {"ece_after": 0.1}}))
        (tmp_path / "confusion.csv").write_text("true,a\na,1\n")
        return {**paths, "confusion": tmp_path / "confusion.csv", "predictions": "p", "calibrated": "c"}

    runs = read_runs(
        {"ce": [files("ce")], "mild": [files("mild")]},
        {},
        {},
        {"ce": [files("ce-adjusted", 0.0)], "mild": [files("mild-adjusted", 0.5)]},
    )
    assert list(runs) == ["ce", "mild", "mild + logit adjustment (tau=0.5)"]
    assert runs["ce"]["adjustment"] == "logit adjustment: tau 0, unchanged" and "adjustment" not in runs["mild"]
    metrics = {
        name: {**run, "metrics": {**run["metrics"], **dict.fromkeys(TABLE_COLUMNS, 0.5)}} for name, run in runs.items()
    }
    rows, _ = comparison_rows(metrics)
    assert rows[0]["note"] == "logit adjustment: tau 0, unchanged" and rows[1]["note"] == ""
    assert rows[0]["alpha"] == "per-class" and rows[0]["alpha_weights"] == "0.2, 0.8"


def test_the_loss_cell_names_label_smoothing_and_tau_beside_the_loss():
    from focalcls.report.tables import loss_cell

    assert loss_cell({"loss": "ce", "gamma": 0.0}) == "ce"
    assert loss_cell({"loss": "ce", "label_smoothing": 0.1}) == "ce (label smoothing 0.1)"
    assert loss_cell({"loss": "logit-adjusted", "tau": 1.0}) == "logit-adjusted (tau 1)"
    assert loss_cell({"loss": "logit-adjusted", "tau": 0.5, "label_smoothing": 0.05}) == (
        "logit-adjusted (tau 0.5, label smoothing 0.05)"
    )
    assert loss_cell({}) == ""  # a baseline's metrics have no loss
