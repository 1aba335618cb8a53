import pytest

from focalcls.config.checks import check_config, require_model_folder
from focalcls.config.loading import SCHEMA, complete, complete_preset, load_schema
from focalcls.core.errors import UserError


def config(**overrides):
    """A config as the workflow checks it: overrides replace whole sections, the schema fills the rest."""
    base = {
        "data": {"raw": "x.xlsx"},
        "model": {"checkpoint": "demo"},
        "train": {"precision": "auto"},
        "presets": {"moderate": {"loss": "focal", "form": "sigmoid", "alpha": 0.25, "gamma": 2.0}},
        "direct": {"prompt": "Text: {text}\nCategories: {labels}\nAnswer:"},
        "predict": {"files": {}, "preset": "best"},
    }
    return complete({**base, **overrides})


def test_a_valid_config_passes():
    check_config(config())


@pytest.mark.parametrize("given", [("train", "val"), ("train", "test"), ("train", "val", "test")])
def test_a_training_file_with_val_or_test_or_both_passes(given):
    check_config(config(data={name: f"{name}.xlsx" for name in given}))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"data": {}}, "no input data: set data.raw .*, or data.train with data.val and/or data.test"),
        ({"data": {"val": "b", "test": "c"}}, "data.val and data.test set without data.train: .* set data.train"),
        ({"data": {"test": "c"}}, "data.test set without data.train"),
        ({"data": {"train": "a"}}, "data.train is the only file: set data.raw to that file instead"),
        ({"data": {"raw": "x", "train": "a"}}, "not both"),
        ({"presets": {"p": {"form": "sigmoid", "alpha": 1.5}}}, "presets.p.alpha is 1.5"),
        ({"presets": {"direct": {"loss": "ce"}}}, "presets.direct: 'direct' is also a baseline .* rename the preset"),
        ({"presets": {"p": {"loss": "ce", "form": "sigmoid"}}}, "presets.p: loss ce"),
        ({"presets": {"p": {"loss": "logit-adjusted", "form": "sigmoid"}}}, "presets.p: loss logit-adjusted"),
        (
            {"presets": {"p": {"form": "sigmoid", "alpha": 0.25, "label_smoothing": 0.1}}},
            "presets.p: label_smoothing .* set form: softmax or drop label_smoothing",
        ),
        (
            {"predict": {"logit_adjustment": True}, "logit_adjustment": {"taus": []}},
            "predict.logit_adjustment is true but logit_adjustment.taus is empty",
        ),
        (
            {"presets": {"p": {}}, "predict": {"preset": "p+tfidf", "logit_adjustment": True}},
            "predict.preset names the ensemble 'p\\+tfidf', which combines the runs' predictions before any logit",
        ),
        (
            {"presets": {"p": {}}, "predict": {"preset": "p+seeds"}},
            "predict.preset is 'p\\+seeds', which is not a preset or ensemble \\(p, p\\+tfidf\\)",
        ),
        ({"model": {"checkpoint": "/no/such/folder"}}, "is not a folder"),
        (
            {"model": {"checkpoint": "Qwen/Qwen3-1.7B"}},
            "looks like a hub id; the workflow reads local folders only: "
            "download it once \\(hf download Qwen/Qwen3-1.7B",
        ),
        (
            {"model": {"checkpoint": "demo", "dtype": "bfloat16"}, "train": {"precision": "fp32"}},
            "train.precision is fp32",
        ),
        ({"direct": {"prompt": "Classify: {txt}"}}, "direct.prompt has the fields \\['txt'\\]"),
        ({"direct": {"prompt": "Classify {text} as one of {"}}, "direct.prompt cannot be filled in"),
        ({"predict": {"files": {}, "preset": "moderat"}}, "predict.preset is 'moderat'"),
        ({"predict": {"files": {"new": "/no/such.xlsx"}, "preset": "best"}}, "predict.files.new"),
    ],
)
def test_each_bad_config_names_its_key(overrides, message):
    with pytest.raises(UserError, match=message):
        check_config(config(**overrides))


def test_checkpoint_needs_config_safetensors_and_tokenizer_files(tmp_path):
    with pytest.raises(UserError, match="no config.json"):
        require_model_folder(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(UserError, match="only safetensors"):
        require_model_folder(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"")
    # tokenizer_config.json alone: transformers would build an empty tokenizer that encodes texts to nothing
    (tmp_path / "tokenizer_config.json").write_text("{}")
    with pytest.raises(UserError, match=f"{tmp_path}' has no tokenizer files .* copy them from the model's download"):
        require_model_folder(tmp_path)
    (tmp_path / "tokenizer.model").write_bytes(b"")  # a sentencepiece model, as Llama and Gemma ship
    assert require_model_folder(tmp_path) == tmp_path


def test_unknown_key_suggests_the_closest_valid_one():
    import yaml

    from focalcls.config.checks import check_keys

    schema = yaml.safe_load(SCHEMA.read_text())
    check_keys({"train": {"lr": 1e-4}, "presets": {"mine": {"gamma": 1.0}}}, schema)
    with pytest.raises(UserError, match="'train.batch_szie': did you mean train.batch_size"):
        check_keys({"train": {"batch_szie": 8}}, schema)
    with pytest.raises(UserError, match="'presets.mine.gama': did you mean presets.mine.gamma"):
        check_keys({"presets": {"mine": {"gama": 2.0}}}, schema)
    with pytest.raises(UserError, match="'modle': did you mean model"):
        check_keys({"modle": {}}, schema)


def test_label_dependent_keys_are_checked_once_labels_are_known():
    from focalcls.config.checks import check_against_labels

    good = config(binary={"positive": ["b"]}, presets={"p": {"form": "softmax", "alpha": [1.0, 2.0, 3.0]}})
    check_against_labels(good, ["a", "b", "c"], "data.labels")
    with pytest.raises(UserError, match=r"binary.positive names \['B'\], which are not labels \(data.labels"):
        check_against_labels({**good, "binary": {"positive": "B"}}, ["a", "b", "c"], "data.labels")
    with pytest.raises(UserError, match="presets.p.alpha has 3 values but there are 2 labels"):
        check_against_labels(good, ["a", "b"], "results/data/labels.json")


@pytest.mark.parametrize(
    "section, message",
    [
        ({"presets": {"p": {"gamma": float("nan")}}}, "presets.p.gamma is nan; give a finite number"),
        ({"train": {"epochs": float("nan")}}, "train.epochs is nan"),
        ({"split": {"val_fraction": float("nan")}}, "split.val_fraction is nan"),
        ({"train": {"lr": float("inf")}}, "train.lr: inf is greater than the maximum of 1"),
        ({"train": {"epochs": 1e308}}, "train.epochs: 1e\\+308 is greater than the maximum"),
        ({"train": {"seeds": [-1]}}, "train.seeds.0: -1 is less than the minimum of 0"),
        ({"train": {"seeds": []}}, "train.seeds: \\[\\] should be non-empty"),
        ({"train": {"seed": 7}}, "train.seed': did you mean train.seeds"),
        ({"balance": {"min_per_class": 1e9}}, "balance.min_per_class: 1000000000.0 is greater than the maximum"),
        ({"presets": {"ok\n": {"loss": "ce"}}}, "a preset name becomes a folder name"),
        ({"presets": {"p" * 101: {"loss": "ce"}}}, "a preset name becomes a folder name"),
        ({"predict": {"files": {"new\n": "x.xlsx"}}}, "config key predict.files"),
        ({"train": {"gpu_ids": [-1]}}, "train.gpu_ids.0: -1 is less than the minimum of 0"),
        ({"train": {"gpu_ids": [0, 0]}}, "train.gpu_ids: \\[0, 0\\] has non-unique elements"),
    ],
)
def test_non_finite_absurd_and_unsafe_values_stop_at_load_naming_the_key(section, message):
    with pytest.raises(UserError, match=message):
        complete(section)


def test_a_whole_number_written_as_a_float_becomes_an_integer():
    train = complete({"train": {"batch_size": 8.0, "lr": 1.0e-4}})["train"]
    assert type(train["batch_size"]) is int and train["batch_size"] == 8
    assert train["lr"] == 1.0e-4


def test_a_completed_preset_and_the_schema_are_copies_each_call():
    """Both are parsed or completed once a process: a caller changing what it got changes no later call's."""
    first = complete_preset({"loss": "focal", "gamma": 2.0})
    expected = dict(first)
    first["gamma"], first["alpha"] = 9.0, "changed"
    assert complete_preset({"gamma": 2.0, "loss": "focal"}) == expected  # keys in another order
    assert expected["beta"] == 0.999 and expected["form"] == "softmax"  # the schema's defaults
    assert complete_preset({"loss": "focal", "gamma": 3.0})["gamma"] == 3.0
    with pytest.raises(UserError, match="gamma"):
        complete_preset({"loss": "focal", "gamma": -1.0})
    with pytest.raises(UserError, match="alpha"):  # a value JSON cannot hold is checked all the same
        complete_preset({"loss": "focal", "alpha": SCHEMA})
    load_schema()["properties"].clear()
    assert "presets" in load_schema()["properties"]


@pytest.mark.parametrize(
    "kept", [["label"], ["text"], ["split"], ["predicted_label"], ["_origin"], ["needs_review"], ["calibrated_p_x"]]
)
def test_a_kept_column_may_not_replace_one_the_workflow_writes(kept):
    """keep_columns: [label] with label_column: category trained on the wrong column, and [split] wrote empty splits."""
    with pytest.raises(UserError, match=f"data.keep_columns names \\['{kept[0]}'\\], which the workflow writes itself"):
        check_config(config(data={"raw": "x.xlsx", "label_column": "category", "keep_columns": kept}))


def test_a_kept_column_named_like_a_probability_column_is_refused_once_labels_are_known():
    from focalcls.config.checks import check_against_labels

    ok = config(data={"raw": "x.xlsx", "keep_columns": ["p_value"]})
    check_against_labels(ok, ["sports", "tech"], "data.labels")  # p_value is no label's column
    clash = config(data={"raw": "x.xlsx", "keep_columns": ["p_sports"]})
    with pytest.raises(UserError, match=r"data.keep_columns names \['p_sports'\], the columns of the predicted"):
        check_against_labels(clash, ["sports", "tech"], "data.labels")


def test_a_config_file_or_schema_that_is_missing_or_no_mapping_is_named(tmp_path):
    from focalcls.config.loading import load_config

    (tmp_path / "list.yaml").write_text("- data\n- model\n")
    with pytest.raises(UserError, match="list.yaml: a config is a mapping of sections"):
        load_config(tmp_path / "list.yaml")
    with pytest.raises(UserError, match="gone.yaml: config file not found"):
        load_config(tmp_path / "gone.yaml")
    (tmp_path / "ok.yaml").write_text("model: {max_length: 32}\n")
    with pytest.raises(UserError, match="the config schema is not there; pass the path of a schema file"):
        load_config(tmp_path / "ok.yaml", schema_path=tmp_path / "schema.yaml")
    assert load_config(tmp_path / "ok.yaml")["model"]["max_length"] == 32


@pytest.mark.parametrize(
    "tune, presets, message",
    [
        ({"gammas": [1.0], "form": "softmax"}, {}, "tune.form is softmax, where a single alpha only rescales"),
        ({"gammas": [1.0], "alphas": [1.5]}, {}, r"tune.alphas is \[1.5\]; in the sigmoid form"),
        ({"gammas": [1.0], "alpha": 1.0}, {}, "tune.alpha is 1.0; in the sigmoid form"),
        ({"gammas": [1.0]}, {"tuned": {"loss": "ce"}}, "presets.tuned: with tune.gammas set"),
        ({"gammas": [0.1, 0.1000001]}, {}, "values that print the same"),
    ],
)
def test_a_search_that_means_nothing_or_clashes_with_a_preset_stops_at_load(tune, presets, message):
    config = complete({"tune": tune, "presets": {"ce": {"loss": "ce"}, **presets}, "data": {"raw": "x.xlsx"}})
    with pytest.raises(UserError, match=message):
        check_config(config)


def test_tuned_is_a_preset_name_only_while_the_search_is_on():
    base = {"presets": {"ce": {"loss": "ce"}}, "data": {"raw": "x.xlsx"}, "predict": {"preset": "tuned"}}
    check_config(complete({**base, "tune": {"gammas": [1.0, 2.0]}}))
    with pytest.raises(UserError, match="predict.preset is 'tuned', which is not a preset"):
        check_config(complete(base))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"presets": {"best": {"loss": "ce"}}}, "presets.best: 'best' is what predict.preset calls the best preset"),
        ({"presets": {"Best": {"loss": "ce"}}}, "presets.Best: 'Best' is what predict.preset calls"),
        ({"presets": {"tfidf": {"loss": "ce"}}, "baselines": []}, "presets.tfidf: 'tfidf' is also a baseline"),
        ({"presets": {"CE": {"loss": "ce"}, "ce": {"loss": "ce"}}}, "presets names 'CE' and 'ce', which differ only"),
        ({"presets": {"con": {"loss": "ce"}}}, "presets.con: Windows cannot store a file or folder named 'con'"),
        ({"presets": {"a.": {"loss": "ce"}}}, "presets.a.: Windows cannot store"),
        ({"predict": {"files": {"NUL.x": "x.xlsx"}}}, "predict.files.NUL.x: Windows cannot store"),
        ({"evaluate": {"files": {"New": "x.xlsx", "new": "x.xlsx"}}}, "evaluate.files names 'New' and 'new'"),
        ({"evaluate": {"adapters": {"CON": "x"}}}, "evaluate.adapters.CON: Windows cannot store"),
        ({"presets": {"Old": {"loss": "ce"}}, "evaluate": {"adapters": {"old": "x"}}}, "names 'Old' and 'old', which"),
        ({"tune": {"gammas": [1.0]}, "presets": {"Tuned": {"loss": "ce"}}}, "presets names 'Tuned' and 'tuned'"),
        ({"data": {"raw": "in{x}.xlsx"}}, r"data.raw: 'in\{x\}.xlsx' has braces, which Snakemake reads as a wildcard"),
        ({"predict": {"files": {"new": "{name}.xlsx"}}}, r"predict.files.new: '\{name\}.xlsx' has braces"),
    ],
)
def test_names_that_collide_on_disk_or_with_the_workflows_own_are_refused(overrides, message):
    with pytest.raises(UserError, match=message):
        check_config(config(**overrides))


def test_a_prompt_too_long_for_a_command_line_is_refused_in_one_short_line():
    with pytest.raises(UserError) as caught:
        config(direct={"prompt": "{text} " + "x" * 200_000})
    message = str(caught.value)
    assert message.startswith("config key direct.prompt: ") and "at most 16,384 characters" in message
    assert len(message) < 500


def test_a_corrupt_file_of_the_last_run_names_the_file_and_the_fix(tmp_path):
    from focalcls.config.checks import read_last_run

    (tmp_path / "labels.json").write_text('["sports", "fin')  # a run cut short
    with pytest.raises(UserError, match=r"labels.json is not valid JSON .*; delete it \(rm .*labels.json\)"):
        read_last_run(tmp_path / "labels.json")


def test_a_read_only_results_folder_is_named_with_the_fix(tmp_path, monkeypatch):
    from focalcls.config import checks

    (tmp_path / "results/data").mkdir(parents=True)
    checks.check_writable(tmp_path / "results")
    # As root every folder is writable; a user's read-only folder is what os.access reports.
    monkeypatch.setattr(checks.os, "access", lambda path, mode: not str(path).endswith("data"))
    with pytest.raises(UserError, match=r"results/data: this folder is read-only .* \(chmod -R u\+w"):
        checks.check_writable(tmp_path / "results")


@pytest.mark.parametrize(
    "audit, presets, message",
    [
        ({"model": "tuned"}, None, "audit.model is 'tuned', which is neither tfidf nor a preset .* \\(moderate\\)"),
        ({"model": "Moderate"}, None, "audit.model is 'Moderate'.*name one of them"),
        ({"model": "audit"}, {"audit": {"loss": "ce"}}, "presets.audit: with audit.model a preset.*rename"),
    ],
)
def test_the_audit_model_is_tfidf_or_a_preset_trained_here(audit, presets, message):
    overrides = {"audit": audit, **({"presets": presets} if presets else {})}
    with pytest.raises(UserError, match=message):
        check_config(config(**overrides))


@pytest.mark.parametrize("model", ["tfidf", "moderate"])
def test_tfidf_or_a_preset_scores_the_training_rows(model):
    check_config(config(audit={"model": model}))
