"""Using a trained preset elsewhere: the merged folder, predictions on new rows, and a head that did not load."""

import json

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForSequenceClassification

from conftest import MODEL, synthetic_rows
from focalcls.core.errors import UserError
from focalcls.core.spreadsheets import write_xlsx
from focalcls.evaluate.calibration import scaled
from focalcls.evaluate.inference import predict_probs
from focalcls.train.model import ADAPTER_WEIGHTS, load_trained_classifier, verify_head
from helpers import adjusted_outputs, evaluate_flags, flags, run_rule_script, run_script

pytestmark = pytest.mark.slow  # runs Snakemake or trains: python -m pytest -m 'not slow' skips it

TEXTS = ["球队比赛今天进球", "银行利率市场", "医院医生报道", "芯片手机网络"]

CALIBRATION = "p/balanced/eval/calibrated/calibration.json"


def runs_flag(metrics: dict[str, list[str]], adapter: str = "p/balanced/adapter") -> list[str]:
    """predict's --runs: {preset: {adapters, calibration, metrics of each run, tfidf}}, by name."""
    runs = {
        name: {"adapters": [adapter], "calibration": CALIBRATION, "metrics": paths, "tfidf": {}}
        for name, paths in metrics.items()
    }
    return ["--runs", json.dumps(runs)]


# predict's command line: the candidate presets with their files, by name, and the config's settings.
CANDIDATE = runs_flag({"balanced": ["p/balanced/eval/metrics.json"]})


def predict_flags(checkpoint, rows: str, out: str) -> list:
    """predict.py's command line as the predict rule writes it, labelling `rows` with the balanced preset."""
    return [
        *flags(checkpoint=checkpoint, labels="d/labels.json", input=rows, text_column="内容", out=out),
        *CANDIDATE,
        *SETTINGS,
    ]


SETTINGS = [
    *("--selection-metric", "macro_f1", "--sheet", 0, "--model", MODEL),
    *("--batch-size", 64, "--precision", "fp32", "--gpus", 0, "--logit-adjustment", "false"),
]


def labels_of(stages):
    return json.loads((stages / "d/labels.json").read_text(encoding="utf-8"))


def test_merged_folder_loads_with_transformers_alone_and_predicts_the_same(stages, tiny_model_dir):
    (stages / "card.md").write_text("---\nlibrary_name: transformers\n---\n# the card\n", encoding="utf-8")
    run_rule_script(
        "merge.py",
        cwd=stages,
        input={"adapter": "p/balanced/adapter", "labels": "d/labels.json", "card": "card.md"},
        output={"merged": "p/balanced/merged"},
        params={"checkpoint": str(tiny_model_dir), "trust_remote_code": False, "allow_pickle": False},
        threads=1,
    )
    folder = stages / "p/balanced/merged"
    assert (folder / "README.md").read_text(encoding="utf-8") == (stages / "card.md").read_text(encoding="utf-8")
    assert list(folder.glob("*.safetensors")) and not list(folder.glob("*.bin"))
    merged = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    assert merged.config.id2label == dict(enumerate(labels_of(stages)))
    adapted, tokenizer, _ = load_trained_classifier(tiny_model_dir, stages / "p/balanced/adapter", labels_of(stages))
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(merged(**batch).logits, adapted(**batch).logits, atol=1e-4)


def test_predict_labels_new_rows_and_keeps_their_columns(stages, tiny_model_dir):
    rows = synthetic_rows({"sports": 3, "finance": 3, "tech": 3}, seed=5).rename(columns={"text": "内容"})
    rows["备注"] = "x"
    rows.loc[0, "内容"] = "  "  # an empty text gets no prediction, and the row stays
    write_xlsx(stages / "new.xlsx", rows[["id", "内容", "备注"]])
    run_script("predict.py", *predict_flags(tiny_model_dir, "new.xlsx", "out/new.xlsx"), cwd=stages)
    out = pd.read_excel(stages / "out/new.xlsx", dtype={"id": str}, keep_default_na=False)
    labels = labels_of(stages)
    assert (
        list(out.columns[:3]) == ["id", "内容", "备注"] and list(out.id) == list(rows.id) and (out["备注"] == "x").all()
    )
    assert out.predicted_label[0] == "" and set(out.predicted_label[1:]) <= set(labels)
    filled = out.iloc[1:]
    probs = filled[[f"p_{x}" for x in labels]].astype(float)
    assert probs.sum(axis=1).round(4).eq(1).all() and (probs.max(axis=1) == filled.confidence.astype(float)).all()
    # The same probabilities evaluate computes for these texts.
    model, tokenizer, meta = load_trained_classifier(tiny_model_dir, stages / "p/balanced/adapter", labels)
    expected = predict_probs(model, tokenizer, list(filled["内容"]), form=meta["loss"]["form"], max_length=16)
    assert probs.to_numpy() == pytest.approx(expected, abs=1e-5)
    # Calibrated with the preset's temperature, rows sent to review below its threshold (calibration.json).
    calibration = json.loads((stages / CALIBRATION).read_text())
    calibrated = filled[[f"calibrated_p_{x}" for x in labels]].astype(float).to_numpy()
    assert calibrated == pytest.approx(scaled(probs.to_numpy(), calibration["temperature"]), abs=1e-5)
    sent = filled.calibrated_confidence.astype(float) < calibration["review"]["threshold"]
    assert list(filled.needs_review) == list(sent) and out.needs_review[0]  # no prediction: a person looks


def test_predict_with_logit_adjustment_gives_the_labels_the_report_scored(stages, tiny_model_dir):
    """The test split through predict with the stored tau: the adjusted row's predictions, row for row."""
    adjusted = adjusted_outputs("p/balanced/adjusted")
    run_rule_script(
        "logit_adjustment.py",
        cwd=stages,
        input={
            **{split: f"d/{split}.xlsx" for split in ("val", "test")},
            "val_predictions": "p/balanced/eval/val_predictions.xlsx",
            "predictions": "p/balanced/eval/predictions.xlsx",
            "preset_metrics": "p/balanced/eval/metrics.json",
            **{"labels": "d/labels.json", "summary": "d/summary.json"},
        },
        output=adjusted,
        params={"adjustment": {"taus": [0.0, 0.5, 1.0, 2.0], "metric": "macro_f1"}, "keep": ["id"]},
    )
    tau = json.loads((stages / adjusted["metrics"]).read_text())["logit_adjustment"]["tau"]
    settings = [*SETTINGS[:-1], "true"]
    candidate = runs_flag({"balanced": [adjusted["metrics"]]})
    common = flags(checkpoint=tiny_model_dir, labels="d/labels.json", input="d/test.xlsx", text_column="text")
    done = run_script("predict.py", *common, "--out", "out/adjusted.xlsx", *candidate, *settings, cwd=stages)
    assert f"logit adjustment (tau={tau:g})" in done.stderr
    labelled = pd.read_excel(stages / "out/adjusted.xlsx")
    scored = pd.read_excel(stages / adjusted["predictions"])
    assert list(labelled.predicted_label) == list(scored.predicted_label)
    assert labelled.confidence.to_numpy() == pytest.approx(scored.confidence.to_numpy(), abs=1e-4)
    # the preset's unadjusted metrics hold no tau: a message naming the file, not unadjusted labels
    unadjusted = runs_flag({"balanced": ["p/balanced/eval/metrics.json"]})
    done = run_script("predict.py", *common, "--out", "out/no.xlsx", *unadjusted, *settings, cwd=stages, check=False)
    assert done.returncode == 2 and "p/balanced/eval/metrics.json: holds no logit adjustment" in done.stderr
    assert not (stages / "out/no.xlsx").exists()


def test_predict_with_a_missing_text_column_names_the_columns(stages, tiny_model_dir):
    write_xlsx(stages / "bad.xlsx", pd.DataFrame({"正文": ["一"]}))
    done = run_script("predict.py", *predict_flags(tiny_model_dir, "bad.xlsx", "out/bad.xlsx"), cwd=stages, check=False)
    assert (
        done.returncode == 2
        and "'内容'" in done.stderr
        and "正文" in done.stderr
        and "predict.text_column" in done.stderr
    )
    assert not (stages / "out/bad.xlsx").exists()


def test_a_head_that_did_not_load_is_caught(stages, tiny_model_dir):
    model, _, _ = load_trained_classifier(tiny_model_dir, stages / "p/balanced/adapter", labels_of(stages))
    head = next(p for n, p in model.named_parameters() if "score.modules_to_save" in n)
    with torch.no_grad():
        head.normal_()  # what a silently re-initialised head looks like
    with pytest.raises(UserError, match="did not load"):
        verify_head(model, stages / "p/balanced/adapter")


def copy_adapter(stages, tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    for f in (stages / "p/balanced/adapter").iterdir():
        (adapter / f.name).write_bytes(f.read_bytes())
    return adapter


def test_a_pickled_adapter_is_refused_unless_the_config_allows_it(stages, tiny_model_dir, tmp_path):
    adapter = copy_adapter(stages, tmp_path)
    torch.save(load_file(str(adapter / ADAPTER_WEIGHTS)), adapter / "adapter_model.bin")
    (adapter / ADAPTER_WEIGHTS).unlink()
    done = run_script(
        "evaluate.py",
        *evaluate_flags(tiny_model_dir, adapter, tmp_path / "eval", data=stages / "d"),
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2 and "is a pickle" in done.stderr and "model.allow_pickle" in done.stderr
    assert not (tmp_path / "eval").exists()
    pickled, tokenizer, _ = load_trained_classifier(tiny_model_dir, adapter, labels_of(stages), allow_pickle=True)
    safe, _, _ = load_trained_classifier(tiny_model_dir, stages / "p/balanced/adapter", labels_of(stages))
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(pickled(**batch).logits, safe(**batch).logits)


def test_an_adapter_without_its_head_is_refused(stages, tiny_model_dir, tmp_path):
    adapter = copy_adapter(stages, tmp_path)
    weights = load_file(str(adapter / ADAPTER_WEIGHTS))
    save_file({k.replace(".score.", ".renamed."): v for k, v in weights.items()}, str(adapter / ADAPTER_WEIGHTS))
    done = run_script(
        "evaluate.py",
        *evaluate_flags(tiny_model_dir, adapter, tmp_path / "eval", data=stages / "d"),
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2 and "holds no classification head" in done.stderr and not (tmp_path / "eval").exists()


def test_a_checkpoint_with_its_own_code_is_not_run_unless_trusted(tmp_path):
    from focalcls.train.model import load_classifier

    marker = tmp_path / "code-ran"
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "model_type": "custom",
                "auto_map": {
                    "AutoConfig": "configuration_custom.CustomConfig",
                    "AutoModelForSequenceClassification": "modeling_custom.CustomModel",
                },
            }
        )
    )
    (tmp_path / "configuration_custom.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    with pytest.raises(UserError, match="ships its own Python code, which was not run; set model.trust_remote_code"):
        load_classifier(tmp_path, ["a", "b"], pad_token_id=0)
    assert not marker.exists()


def test_predict_chooses_on_the_mean_over_seeds_as_the_report_does(stages, tiny_model_dir, tmp_path):
    """`first` wins on its first seed alone (0.9 against 0.6) but loses on the mean (0.5 against 0.6); an
    adapter trained elsewhere, one run, is weighed on it alone."""
    vals = {"first": [0.9, 0.1], "steady": [0.6, 0.6], "elsewhere": [0.55]}
    metrics: dict[str, list[str]] = {}
    for name, seeds in vals.items():
        for i, val in enumerate(seeds):
            path = tmp_path / f"{name}-{i}.json"
            path.write_text(json.dumps({"val": {"macro_f1": val}}))
            metrics.setdefault(name, []).append(str(path))
    write_xlsx(stages / "few.xlsx", pd.DataFrame({"内容": TEXTS}))
    argv = [*flags(checkpoint=tiny_model_dir, labels="d/labels.json", input="few.xlsx", text_column="内容")]
    done = run_script("predict.py", *argv, "--out", "out/few.xlsx", *runs_flag(metrics), *SETTINGS, cwd=stages)
    assert "with preset steady" in done.stderr
    # the runs travel by name: listed in another order, the same preset wins
    backwards = {name: metrics[name] for name in reversed(metrics)}
    again = run_script("predict.py", *argv, "--out", "out/again.xlsx", *runs_flag(backwards), *SETTINGS, cwd=stages)
    assert "with preset steady" in again.stderr
