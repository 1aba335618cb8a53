"""Adapters trained elsewhere (evaluate.adapters): checked with a message naming the key, the folder and the
fix, imported with their own label order, and scored with their outputs mapped onto the data's labels by name."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from focalcls.config.checks import check_against_labels, check_config
from focalcls.config.loading import complete
from focalcls.config.outside_adapters import (
    ADAPTER_WEIGHTS,
    check_adapter,
    check_adapter_labels,
    check_adapter_names,
    import_adapter,
)
from focalcls.core.errors import UserError
from focalcls.train.model import load_trained_classifier
from helpers import adapter_trained_elsewhere

DATA_LABELS = ["sports", "finance", "tech", "health"]
ITS_ORDER = ["health", "sports", "tech", "finance"]  # the head's outputs, in an order of its own
TEXTS = ["球队比赛今天进球", "银行利率市场", "医院医生报道", "芯片手机网络"]


@pytest.fixture(scope="module")
def elsewhere(tiny_model_dir, tmp_path_factory):
    """The original tool's output folder: peft's files and the model's config.json with its id2label."""
    return adapter_trained_elsewhere(tiny_model_dir, tmp_path_factory.mktemp("best_model"), ITS_ORDER)


def copy_of(folder, tmp_path):
    return shutil.copytree(folder, tmp_path / "copy")


def test_the_label_order_comes_from_the_folders_config_or_the_labels_list(elsewhere, tmp_path):
    assert check_adapter("old", str(elsewhere)) == ITS_ORDER
    bare = copy_of(elsewhere, tmp_path)
    (bare / "config.json").unlink()
    assert check_adapter("old", {"folder": str(bare), "labels": ITS_ORDER}) == ITS_ORDER


def test_outputs_are_mapped_onto_the_datas_labels_by_name(elsewhere, tiny_model_dir, tmp_path):
    """Scored through the workflow's import and loader, output i is the data's label i: the same logits the
    folder gives when loaded as its own tool loads it, columns reordered by name."""
    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    assert import_adapter("old", str(elsewhere), DATA_LABELS, tmp_path / "adapter") == ITS_ORDER
    model, tokenizer, meta = load_trained_classifier(tiny_model_dir, tmp_path / "adapter", DATA_LABELS)
    assert meta["labels"] == DATA_LABELS and meta["loss"]["form"] == "softmax"
    assert json.loads((tmp_path / "adapter/labels.json").read_text())["labels"] == ITS_ORDER
    its_config = AutoConfig.from_pretrained(str(elsewhere))
    base = AutoModelForSequenceClassification.from_pretrained(str(tiny_model_dir), config=its_config)
    own = PeftModel.from_pretrained(base, str(elsewhere)).eval()
    batch = AutoTokenizer.from_pretrained(str(tiny_model_dir))(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        ours, theirs = model(**batch).logits, own(**batch).logits
    assert not torch.equal(ours, theirs)  # the orders differ, so the columns must move
    assert torch.allclose(ours, theirs[:, [ITS_ORDER.index(x) for x in DATA_LABELS]], atol=1e-5)


def without_head(folder):
    weights = load_file(str(folder / ADAPTER_WEIGHTS))
    save_file({k: v for k, v in weights.items() if ".score." not in k}, str(folder / ADAPTER_WEIGHTS))


def causal_lm(folder):
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**config, "task_type": "CAUSAL_LM"}))


def pickled(folder):
    torch.save(load_file(str(folder / ADAPTER_WEIGHTS)), folder / "adapter_model.bin")
    (folder / ADAPTER_WEIGHTS).unlink()


@pytest.mark.parametrize(
    "spoil, labels, message",
    [
        (lambda f: shutil.rmtree(f), None, "is not a folder; point it at the folder peft's save_pretrained wrote"),
        (lambda f: (f / "adapter_config.json").unlink(), None, "so it is not a PEFT adapter; point it at the folder"),
        (causal_lm, None, "is a CAUSAL_LM adapter, not a sequence classifier"),
        (pickled, None, "is a pickle, which can run code when loaded: load it with peft and save it"),
        (without_head, None, "holds no classification head (score or classifier), so its trained head"),
        (lambda f: (f / "config.json").unlink(), None, "does not name its labels (no config.json with an id2label)"),
        (
            lambda f: (f / "config.json").unlink(),
            ["sports", "finance", "tech"],
            "the head has 4 outputs but the adapter names 3 labels",
        ),
        (lambda f: None, DATA_LABELS, "names the head's outputs ['health', 'sports', 'tech', 'finance']; remove"),
        (lambda f: (f / "config.json").unlink(), ["a", "a", "b", "c"], "repeat a name"),
    ],
)
def test_a_bad_adapter_is_refused_naming_the_key_the_folder_and_the_fix(elsewhere, tmp_path, spoil, labels, message):
    folder = copy_of(elsewhere, tmp_path)
    spoil(folder)
    entry = {"folder": str(folder), "labels": labels} if labels else str(folder)
    with pytest.raises(UserError) as error:
        check_adapter("old", entry)
    assert "evaluate.adapters.old" in str(error.value) and str(folder) in str(error.value)
    assert message in str(error.value)


def test_labels_the_data_does_not_have_are_named(elsewhere, tmp_path):
    folder = copy_of(elsewhere, tmp_path)
    (folder / "config.json").unlink()  # the labels list alone names the outputs
    entry = {"folder": str(folder), "labels": ["sports", "finance", "Tech", "health"]}
    with pytest.raises(UserError, match=r"lacks \['tech'\] and has \['Tech'\], which the data does not"):
        check_adapter_labels("old", entry, DATA_LABELS, "data.labels")


def config_with(adapters, **sections):
    base = {"data": {"raw": "x.xlsx"}, "presets": {"ce": {"loss": "ce"}}, "evaluate": {"adapters": adapters}}
    return complete({**base, **sections})


def test_the_config_check_refuses_a_taken_name_and_a_label_the_data_lacks(elsewhere):
    for taken, what in (("ce", "a preset"), ("tfidf", "a name the workflow uses itself")):
        with pytest.raises(UserError, match=f"evaluate.adapters.{taken}: '{taken}' is {what}"):
            check_config(config_with({taken: str(elsewhere)}))
    config = config_with({"old": str(elsewhere)}, predict={"preset": "old"})
    check_config(config)  # a valid adapter, and predict.preset may name it
    with pytest.raises(UserError, match=r"evaluate.adapters.old \(.*\): the adapter lacks \[.misc.\] \(data.labels"):
        check_against_labels(config, [*DATA_LABELS, "misc"], "data.labels")


@pytest.mark.parametrize("name", ["ce", "tfidf", "audit"])
def test_an_adapter_named_like_a_preset_or_a_folder_the_workflow_writes_is_refused(name):
    with pytest.raises(UserError, match=rf"evaluate.adapters.{name}: '{name}' is .*; rename the adapter"):
        check_adapter_names({name: "/models/old"}, ["ce"])
