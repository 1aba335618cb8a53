"""Ensembles of stored predictions: the seeds averaged, a run blended with TF-IDF at a weight chosen on validation
only, and the stage and predict giving the same rows."""

import json
from functools import partial

import numpy as np
import pandas as pd
import pytest

from focalcls.config.runs import ensembles
from focalcls.core.spreadsheets import read_table
from focalcls.evaluate.calibration import probabilities
from focalcls.evaluate.ensembles import blend, choose_weight, cross_fitted, ensemble_on_splits, halves, seed_average
from helpers import ensemble, flags, run_script

LABELS = ["a", "b"]
COUNTS = {"a": 10, "b": 10}
SETTINGS = {"seeds": True, "tfidf": True, "weights": [0.5]}


def rows(*pairs):
    return np.array(pairs, dtype=float)


def test_the_seeds_average_is_the_renormalised_geometric_mean():
    one, two = rows([0.9, 0.1], [0.5, 0.5]), rows([0.6, 0.4], [0.2, 0.8])
    mean = np.sqrt(one * two)
    assert seed_average([one, two]) == pytest.approx(mean / mean.sum(axis=1, keepdims=True))
    assert seed_average([one]) is one  # one run: as it is


def test_a_blend_of_weight_1_is_the_llm_and_a_zero_of_tfidf_stays_finite():
    llm, tfidf = rows([0.7, 0.3]), rows([0.0, 1.0])  # TF-IDF gives 0 to a class it never saw in training
    assert blend(llm, tfidf, 1.0) is llm
    mixed = blend(llm, tfidf, 0.5)
    assert np.isfinite(mixed).all() and mixed.sum() == pytest.approx(1.0) and mixed[0, 1] > 0.99


def test_the_weight_grid_always_holds_1_and_a_tie_keeps_the_larger_weight():
    truth, llm = np.array([0, 1]), rows([0.9, 0.1], [0.2, 0.8])
    weight, scores = choose_weight(llm, llm, [0.5, 0.7], lambda probs: float((probs.argmax(1) == truth).mean()))
    assert weight == 1.0 and list(scores) == [1.0, 0.7, 0.5]  # every weight scores the same: the LLM alone


def test_the_weight_is_chosen_on_validation_and_never_on_test():
    """Validation prefers the LLM alone, test the blend: the weight must follow validation. Then the other way
    round, so the test can fail when the choice ignores validation."""
    truth = np.array([0, 1, 0, 1])  # of both splits
    right = rows([0.6, 0.4], [0.4, 0.6], [0.6, 0.4], [0.4, 0.6])
    wrong = rows([0.1, 0.9], [0.9, 0.1], [0.1, 0.9], [0.9, 0.1])  # confident: a blend at 0.1 follows it
    llm, tfidf = {"val": right, "test": wrong}, {"val": wrong, "test": right}
    _, chosen = ensemble_on_splits([llm], tfidf, truth, LABELS, COUNTS, [0.1], "macro_f1")
    assert chosen["weight"] == 1.0
    probs, chosen = ensemble_on_splits([tfidf], llm, truth, LABELS, COUNTS, [0.1], "macro_f1")
    assert chosen["weight"] == 0.1 and set(chosen["val_scores"]) == {"1", "0.1"}
    assert probs["test"] == pytest.approx(blend(tfidf["test"], llm["test"], 0.1))


def test_a_blend_with_noise_wins_on_the_rows_its_weight_was_chosen_on_but_rarely_out_of_fold():
    """TF-IDF replaced by pure noise: chosen and scored on the same validation rows, the blend beats the LLM
    alone in about 40% of draws (weight 1 is in the grid, so it never loses); scored out of fold, as the
    ensemble stage writes validation's figures, in far fewer, so the choice of a model is not won on noise."""
    rng = np.random.default_rng(0)

    def accuracy(truth, probs):
        return float((probs.argmax(1) == truth).mean())

    in_sample = out_of_fold = 0
    for _ in range(200):
        truth = rng.choice(3, size=100, p=[0.5, 0.35, 0.15])
        logits = rng.normal(size=(100, 3))
        logits[np.arange(100), truth] += 1.0
        llm, noise = np.exp(logits) / np.exp(logits).sum(1, keepdims=True), rng.dirichlet(np.ones(3), size=100)
        alone = accuracy(truth, llm)
        weight, scores = choose_weight(llm, noise, [0.5, 0.7, 0.9], partial(accuracy, truth))
        in_sample += scores[weight] > alone
        out_of_fold += accuracy(truth, cross_fitted(llm, noise, truth, [0.5, 0.7, 0.9], accuracy)[0]) > alone
    assert in_sample > 60 and out_of_fold < 40


def test_validation_halves_split_every_class_and_the_stage_scores_validation_out_of_fold():
    truth = np.array([0, 0, 0, 1, 1, 2, 0, 1])
    first, second = halves(truth)
    assert sorted([*first, *second]) == list(range(8)) and set(first).isdisjoint(second)
    assert [int(np.sum(truth[first] == c)) for c in range(3)] == [2, 2, 1]  # each class dealt alternately
    right = rows(*([0.6, 0.4] if t == 0 else [0.4, 0.6] for t in [0, 1] * 4))
    wrong = rows(*([0.1, 0.9] if t == 0 else [0.9, 0.1] for t in [0, 1] * 4))
    truth = np.array([0, 1] * 4)
    probs, chosen = ensemble_on_splits(
        [{"val": wrong, "test": wrong}], {"val": right, "test": right}, truth, LABELS, COUNTS, [0.1], "macro_f1"
    )
    assert chosen["weight"] == 0.1 and chosen["half_weights"] == [0.1, 0.1]
    assert probs["val"] == pytest.approx(blend(wrong, right, 0.1))  # both halves chose 0.1: the same blend


def test_ensembles_are_named_by_preset_and_a_blend_has_one_run_per_seed():
    found = ensembles(["ce", "old"], [42, 1], ["old"], SETTINGS, tfidf=True)
    assert found["ce+seeds"] == {"kind": "seeds", "preset": "ce", "runs": {"ce+seeds": ["ce", "ce/seed-1"]}}
    assert found["ce+tfidf"]["runs"] == {"ce+tfidf": ["ce"], "ce+tfidf/seed-1": ["ce/seed-1"]}
    assert "old+seeds" not in found and found["old+tfidf"]["runs"] == {"old+tfidf": ["old"]}  # one run only
    assert list(ensembles(["ce"], [42], [], SETTINGS, tfidf=True)) == ["ce+tfidf"]  # one seed: nothing to average
    assert ensembles(["ce"], [42, 1], [], SETTINGS, tfidf=False) == {"ce+seeds": found["ce+seeds"]}
    assert ensembles(["ce"], [42, 1], [], {**SETTINGS, "seeds": False, "tfidf": False}, tfidf=True) == {}


@pytest.mark.slow
def test_the_stage_blends_stored_predictions_and_predict_gives_the_same_rows(stages, tiny_model_dir):
    """The ensemble rule on the stages' preset and TF-IDF files; predict, named the blend, refits TF-IDF on the
    training split and labels the test split as the stage did."""
    files = ensemble(stages, "e/balanced+tfidf", {"balanced": "p/balanced/eval"}, tfidf="b/tfidf")
    metrics = json.loads((stages / files["metrics"]).read_text(encoding="utf-8"))
    chosen = metrics["ensemble"]
    assert chosen["kind"] == "tfidf" and chosen["runs"] == ["balanced"] and chosen["weight"] in (0.5, 0.8, 1.0)
    assert len(chosen["half_weights"]) == 2 and set(chosen["half_weights"]) <= {0.5, 0.8, 1.0}
    labels = json.loads((stages / "d/labels.json").read_text(encoding="utf-8"))
    folders = ("p/balanced/eval", "b/tfidf")
    stored = [probabilities(read_table(stages / f"{folder}/predictions.xlsx"), labels) for folder in folders]
    written = probabilities(read_table(stages / files["predictions"]), labels)
    assert written == pytest.approx(blend(*stored, chosen["weight"]), abs=1e-6)
    runs = {
        "balanced+tfidf": {
            "adapters": ["p/balanced/adapter"],
            "calibration": files["calibration"],
            "metrics": [files["metrics"]],
            "tfidf": {"train": "d/train.xlsx", "seed": 42},
        }
    }
    predicted = predict(stages, tiny_model_dir, runs, "out/blend.xlsx")
    scored = pd.read_excel(stages / files["predictions"])
    assert list(predicted.predicted_label) == list(scored.predicted_label)
    assert predicted.confidence.to_numpy() == pytest.approx(scored.confidence.to_numpy(), abs=1e-4)


@pytest.mark.slow
def test_a_seeds_ensemble_loads_every_seeds_adapter(stages, tiny_model_dir):
    """Two runs of one adapter average to that adapter: the ensemble's rows are the preset's, in the stage and in
    predict, which names both adapters on the console."""
    files = ensemble(stages, "e/balanced+seeds", {"balanced": "p/balanced/eval", "twin": "p/balanced/eval"}, tfidf=None)
    scored = pd.read_excel(stages / files["predictions"])
    preset = pd.read_excel(stages / "p/balanced/eval/predictions.xlsx")
    assert list(scored.predicted_label) == list(preset.predicted_label)
    runs = {
        "balanced+seeds": {
            "adapters": ["p/balanced/adapter", "p/balanced/adapter"],
            "calibration": files["calibration"],
            "metrics": [files["metrics"]],
            "tfidf": {},
        }
    }
    predicted = predict(stages, tiny_model_dir, runs, "out/seeds.xlsx")
    assert list(predicted.predicted_label) == list(scored.predicted_label)


def predict(stages, checkpoint, runs: dict, out: str) -> pd.DataFrame:
    """predict.py on the test split with `runs` as its --runs, as the predict rule calls it."""
    from conftest import MODEL

    common = flags(checkpoint=checkpoint, labels="d/labels.json", input="d/test.xlsx", text_column="text", out=out)
    settings = [*("--selection-metric", "macro_f1", "--sheet", 0, "--model", MODEL, "--batch-size", 64)]
    settings += ["--precision", "fp32", "--gpus", 0, "--logit-adjustment", "false"]
    run_script("predict.py", *common, "--runs", json.dumps(runs), *settings, cwd=stages)
    return pd.read_excel(stages / out)
