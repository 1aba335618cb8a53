"""The model card: a README.md that huggingface_hub parses as a model card, naming the labels and the test figures."""

import json
import shutil

import pytest

from helpers import run_rule_script

FINDINGS = {
    "best": "balanced",
    "metric": "macro_f1",
    "verdict": "For the rare classes, balanced and ce cannot be told apart.",
    "against_ce": [
        {
            "name": "balanced",
            "macro_f1": {"delta": 0.012, "interval": [-0.03, 0.05], "decision": "cannot be told apart"},
            "minority_f1": {"delta": -0.2, "interval": [-0.3, -0.1], "decision": "worse"},
        }
    ],
}


def write_cards(stages, tmp_path, elsewhere: str = "") -> None:
    """The model_card rule on the stages' balanced run, its adapter copied so the shared one stays as it is;
    `elsewhere`: the folder it came from, as for an adapter trained elsewhere (evaluate.adapters)."""
    shutil.copytree(stages / "p/balanced/adapter", tmp_path / "adapter")
    (tmp_path / "findings.json").write_text(json.dumps(FINDINGS))
    output = {"adapter_card": str(tmp_path / "card/README.md"), "merged_card": str(tmp_path / "card/merged.md")}
    run_rule_script(
        "model_card.py",
        cwd=stages,
        input={
            "adapter": str(tmp_path / "adapter"),
            "metrics": "p/balanced/eval/metrics.json",
            "predictions": "p/balanced/eval/predictions.xlsx",
            "calibration": "p/balanced/eval/calibrated/calibration.json",
            "labels": "d/labels.json",
            "summary": "d/summary.json",
            "findings": str(tmp_path / "findings.json"),
        },
        output=output,
        params={
            "run": "balanced",
            "preset": "balanced",
            "seed": 0,
            "seeds": [0],
            "split_seed": 0,
            "base_model": "tiny-qwen3",
            "data_name": "raw",
            "repo": str(stages),
            "elsewhere": elsewhere,
        },
    )


@pytest.mark.slow
def test_the_card_parses_and_names_the_labels_and_the_test_figures(stages, tmp_path):
    hub = pytest.importorskip("huggingface_hub")
    write_cards(stages, tmp_path)
    labels = json.loads((stages / "d/labels.json").read_text())
    metrics = json.loads((stages / "p/balanced/eval/metrics.json").read_text())
    calibration = json.loads((stages / "p/balanced/eval/calibrated/calibration.json").read_text())
    text = (tmp_path / "adapter/README.md").read_text(encoding="utf-8")
    assert text == (tmp_path / "card/README.md").read_text(encoding="utf-8")  # the template replaced
    assert "[More Information Needed]" not in text
    card = hub.ModelCard(text, ignore_metadata_errors=False)
    data = card.data.to_dict()
    assert data["labels"] == labels and data["pipeline_tag"] == "text-classification"
    assert data["library_name"] == "peft" and data["base_model"] == "tiny-qwen3"
    found = {r.metric_name: r.metric_value for r in card.data.eval_results}
    assert found["macro-F1 (test)"] == round(metrics["macro_f1"], 4)
    assert found["minority-class F1 (test)"] == round(metrics["minority_f1"], 4)
    assert {r.dataset_split for r in card.data.eval_results} == {"test"}
    assert f"Temperature {calibration['temperature']:.4f}" in card.text
    assert f"calibrated confidence is at least {calibration['review']['threshold']:.4f}" in card.text
    assert "minority-class F1 -0.200 (95% interval -0.300 to -0.100): worse" in card.text
    # The tiny data's test split has fewer than 30 rows of every class: each is named.
    assert all(f"{label} (" in card.text.split("fewer than 30 test rows")[1].split("\n")[0] for label in labels)
    merged = hub.ModelCard((tmp_path / "card/merged.md").read_text(encoding="utf-8"))
    assert merged.data.library_name == "transformers"


@pytest.mark.slow
def test_the_card_of_an_adapter_trained_elsewhere_claims_no_loss_or_seed_of_its_own(stages, tmp_path):
    write_cards(stages, tmp_path, elsewhere="/models/old-adapter")
    text = (tmp_path / "card/README.md").read_text(encoding="utf-8")
    assert "classifier elsewhere; imported from `/models/old-adapter`, scored and described by" in text
    assert "Trained elsewhere (evaluate.adapters: `/models/old-adapter`)" in text
    assert "- Loss:" not in text and "Seed of this run" not in text


def test_the_interval_of_a_test_figure_holds_its_value():
    import numpy as np

    from focalcls.report.model_card import test_intervals

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 400)
    predicted = np.where(rng.random(400) < 0.8, truth, (truth + 1) % 3)
    metrics = {"per_class": {x: {"support": 1} for x in "abc"}, "minority_labels": ["c"]}
    figures = test_intervals(truth, predicted, metrics, list("abc"))
    value, (low, high) = figures["accuracy"]
    assert value == pytest.approx((truth == predicted).mean())
    # The binomial standard error of 400 rows at 0.8 is 0.02: the 95% interval spans about 4 of them.
    assert low < value < high and high - low == pytest.approx(4 * 0.02, rel=0.15)


def test_a_chosen_ensemble_is_explained_on_its_presets_card_only():
    """What an ensemble needs at prediction time: every seed's adapter, or TF-IDF fitted again and the weight."""
    from focalcls.report.model_card import limits

    summary = {"counts": {"test": {"a": 100}}}
    blend = {"kind": "tfidf", "preset": "balanced", "runs": ["balanced"], "weight": 0.8}
    findings = {**FINDINGS, "best": "balanced+tfidf", "ensemble": blend}
    card = "\n".join(limits("balanced", ["a"], summary, findings))
    assert "The chosen balanced+tfidf blends this preset's first run with TF-IDF" in card
    assert "w = 0.8 (chosen on validation), TF-IDF fitted again on the training split" in card
    assert "blends" not in "\n".join(limits("ce", ["a"], summary, findings))  # another preset's card
    seeds = {"kind": "seeds", "preset": "balanced", "runs": ["balanced", "balanced/seed-1"], "weight": None}
    card = "\n".join(limits("balanced", ["a"], summary, {**FINDINGS, "best": "balanced+seeds", "ensemble": seeds}))
    assert "results/presets/balanced/adapter, results/presets/balanced/seed-1/adapter" in card
    assert "averages" not in "\n".join(limits("balanced", ["a"], summary, FINDINGS))  # no ensemble chosen
