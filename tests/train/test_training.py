import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from focalcls.config.loading import complete, complete_preset
from focalcls.core.errors import UserError
from focalcls.train.checkpoints import clean_checkpoints, resume_point
from focalcls.train.losses import focal_loss
from focalcls.train.outputs import log_table
from focalcls.train.presets import LossSpec, resolve_preset
from focalcls.train.settings import TrainSettings
from focalcls.train.trainer import loss_function
from helpers import train_settings

LABELS = ["big", "mid", "tiny"]
COUNTS = {"big": 100, "mid": 10, "tiny": 1}


def test_settings_take_exactly_their_fields_from_the_filled_config_and_have_no_defaults_of_their_own():
    section = complete({"train": {"epochs": 1}})["train"]
    settings = TrainSettings.from_config(section, seed=7)
    assert settings.seed == 7 and "seed" not in section  # each run's seed comes from train.seeds
    assert settings.epochs == 1 and settings.batch_size == section["batch_size"]  # the schema's default
    assert "eval_batch_size" in section and not hasattr(settings, "eval_batch_size")
    with pytest.raises(KeyError, match="batch_size"):
        TrainSettings.from_config({k: v for k, v in section.items() if k != "batch_size"}, seed=7)
    with pytest.raises(TypeError):
        TrainSettings()  # every field is required: config/schema.yaml is where defaults live


def test_loss_is_normalised_by_the_rows_of_the_whole_accumulated_batch():
    spec = LossSpec(loss="focal", form="softmax", gamma=2.0, alpha=None)
    logits, targets = torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
    outputs = SimpleNamespace(logits=logits)
    compute = loss_function(spec)
    total = focal_loss(logits, targets, gamma=2.0, reduction="sum")
    # Two micro-batches of 4 rows accumulate: each contributes its sum over all 8 rows.
    assert compute(outputs, targets, num_items_in_batch=8).item() == pytest.approx(total.item() / 8)
    assert compute(outputs, targets).item() == pytest.approx(total.item() / 4)  # evaluation: plain mean


def test_balanced_alpha_per_form():
    balanced = {"loss": "focal", "alpha": "balanced", "gamma": 2}
    softmax = resolve_preset("b", complete_preset({**balanced, "form": "softmax"}), LABELS, COUNTS)
    assert sum(softmax.alpha) / 3 == pytest.approx(1.0) and softmax.alpha[2] > softmax.alpha[1] > softmax.alpha[0]
    sigmoid = resolve_preset("b", complete_preset({**balanced, "form": "sigmoid"}), LABELS, COUNTS)
    assert all(0 < a < 1 for a in sigmoid.alpha) and sigmoid.alpha[2] > sigmoid.alpha[0]
    logits = torch.randn(6, 3)
    assert focal_loss(logits, torch.tensor([0, 1, 2, 0, 1, 2]), gamma=2.0, alpha=sigmoid.alpha, form="sigmoid") > 0
    effective = complete_preset({"form": "softmax", "alpha": "effective", "beta": 0.9})
    effective = resolve_preset("e", effective, LABELS, COUNTS)
    assert effective.alpha[2] > effective.alpha[0]
    ce = resolve_preset("ce", complete_preset({"loss": "ce", "gamma": 2.0}), LABELS, COUNTS)
    assert ce.gamma == 0.0 and ce.alpha is None and ce.logit_offset is None


def test_logit_adjusted_preset_offsets_by_tau_times_the_log_training_prior():
    la = resolve_preset("la", complete_preset({"loss": "logit-adjusted", "tau": 0.5}), LABELS, COUNTS)
    assert la.gamma == 0.0 and la.tau == 0.5
    assert la.logit_offset == pytest.approx([0.5 * np.log(n / 111) for n in (100, 10, 1)])
    assert complete_preset({"loss": "logit-adjusted"})["tau"] == 1.0  # the balanced softmax unless told
    logits, targets = torch.randn(5, 3), torch.tensor([0, 1, 2, 2, 1])
    shifted = logits + torch.tensor(la.logit_offset)
    assert loss_function(la)(SimpleNamespace(logits=logits), targets).item() == pytest.approx(
        torch.nn.functional.cross_entropy(shifted, targets).item(), rel=1e-6
    )


def test_an_alpha_list_not_one_per_training_label_is_refused():
    # The labels may be new to the train job, so it checks the length again; the sigmoid range of alpha is
    # a config check (checks.check_alpha_range, tested in test_checks).
    with pytest.raises(UserError, match="2 values but there are 3 labels"):
        resolve_preset("p", complete_preset({"form": "softmax", "alpha": [1.0, 2.0]}), LABELS, COUNTS)


def write_checkpoint(folder, step: int) -> None:
    """What resume_point reads of a checkpoint Trainer completed: its state and the adapter's weights."""
    from safetensors.torch import save_file

    (folder / f"checkpoint-{step}").mkdir(parents=True)
    save_file({"score.weight": torch.zeros(2, 4)}, folder / f"checkpoint-{step}" / "adapter_model.safetensors")
    (folder / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps({"global_step": step}))


def test_checkpoints_of_another_setup_are_not_resumed(tmp_path):
    folder = tmp_path / "checkpoints"
    clean_checkpoints(folder, "setup-a")
    write_checkpoint(folder, 10)
    clean_checkpoints(folder, "setup-a")
    assert (folder / "checkpoint-10").exists()
    clean_checkpoints(folder, "setup-b")
    assert not (folder / "checkpoint-10").exists() and (folder / "fingerprint.txt").read_text() == "setup-b"


def one_process_trainer() -> SimpleNamespace:
    """What resume_point asks of the trainer, for a single process without difficulty-aware sampling."""
    return SimpleNamespace(
        is_world_process_zero=lambda: True,
        accelerator=SimpleNamespace(wait_for_everyone=lambda: None),
        sampler=SimpleNamespace(losses=None),
    )


def test_a_checkpoint_cut_short_is_not_resumed(tmp_path):
    folder = tmp_path / "checkpoints"
    assert resume_point(one_process_trainer(), folder, "setup") is None  # nothing yet: start afresh
    for step in (5, 10):
        write_checkpoint(folder, step)
    (folder / "checkpoint-40").mkdir()  # Trainer writes trainer_state.json last: checkpoint-40 was cut short
    assert resume_point(one_process_trainer(), folder, "setup") == str(folder / "checkpoint-10")  # by step number
    assert not (folder / "checkpoint-40").exists()
    assert resume_point(one_process_trainer(), folder, "another setup") is None


@pytest.mark.parametrize("cut", ["trainer_state.json", "adapter_model.safetensors"])
def test_a_checkpoint_half_written_on_a_full_disk_is_skipped(tmp_path, caplog, cut):
    """A half-written trainer_state.json counted as a complete checkpoint, and every resume crashed on it."""
    folder = tmp_path / "checkpoints"
    resume_point(one_process_trainer(), folder, "setup")
    for step in (5, 10):
        write_checkpoint(folder, step)
    latest = folder / "checkpoint-10" / cut
    latest.write_bytes(latest.read_bytes()[:-5])
    with caplog.at_level("WARNING"):
        assert resume_point(one_process_trainer(), folder, "setup") == str(folder / "checkpoint-5")
    assert f"removing {folder / 'checkpoint-10'}: it cannot be read" in caplog.text
    assert not (folder / "checkpoint-10").exists()
    (folder / "checkpoint-5" / cut).write_bytes(b"")  # no readable checkpoint left: start afresh
    assert resume_point(one_process_trainer(), folder, "setup") is None


@pytest.mark.parametrize(
    "val_labels",
    [[0, 0, 0, 0, 1, 1, 1, 2, 2], [0, 0, 0, 0, 1, 1, 1, 1]],
    ids=["every-class", "minority-class-absent-from-val"],
)
def test_training_log_and_report_agree_on_validation_f1(val_labels):
    from transformers import EvalPrediction

    from focalcls.core.metrics import classification_metrics
    from focalcls.train.trainer import validation_metrics

    y_true = np.array(val_labels)
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(len(y_true), 3)) + 2.0 * np.eye(3)[y_true]
    logits[0] = [0.0, 0.0, 3.0]  # a wrong guess of the rarest class, present or not
    during_training = validation_metrics(LABELS, COUNTS)(EvalPrediction(predictions=logits, label_ids=y_true))
    probs = torch.softmax(torch.tensor(logits), dim=-1).numpy()
    report = classification_metrics(y_true, probs, LABELS, COUNTS)
    assert report["minority_f1"] > 0  # so a minority class picked among absent ones (F1 0) would show
    assert during_training == {"macro_f1": report["macro_f1"], "minority_f1": report["minority_f1"]}


def test_log_table_keeps_train_and_eval_rows():
    history = [
        {"loss": 1.0, "learning_rate": 1e-4, "epoch": 0.5, "step": 5},
        {"eval_loss": 0.8, "eval_macro_f1": 0.4, "eval_minority_f1": 0.2, "epoch": 1.0, "step": 10},
        {"train_runtime": 3.0, "epoch": 1.0, "step": 10},
    ]
    table = pd.read_csv(__import__("io").StringIO(log_table(history)))
    assert list(table.step) == [5, 10] and table.val_minority_f1.iloc[1] == 0.2 and pd.isna(table.val_loss.iloc[0])


def test_out_of_memory_says_which_preset_and_what_to_lower(tiny_model_dir, tmp_path, monkeypatch):
    from transformers import Trainer

    from conftest import synthetic_rows
    from focalcls.train.training import train_preset

    def no_memory(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Trainer, "train", no_memory)
    rows = synthetic_rows({"sports": 10, "finance": 10})
    with pytest.raises(UserError) as caught:
        train_preset(
            train=rows,
            val=rows,
            labels=["sports", "finance"],
            checkpoint=str(tiny_model_dir),
            loss=LossSpec(loss="ce", form="softmax", gamma=0.0, alpha=None),
            lora={"r": 2, "alpha": 4, "dropout": 0.0, "target_modules": "all-linear"},
            settings=train_settings(batch_size=32, precision="fp32"),
            max_length=48,
            out_dir=tmp_path,
            preset_name="severe",
            dtype="auto",
            trust_remote_code=False,
        )
    message = str(caught.value)
    assert "'severe'" in message and "batch_size 32" in message and "max_length 48" in message
    assert "grad_accum" in message and "gradient_checkpointing" in message


@pytest.mark.parametrize(
    "settings, dtype",
    [({"gradient_checkpointing": True, "precision": "fp32"}, "float32"), ({"precision": "bf16"}, "bfloat16")],
    ids=["gradient-checkpointing", "bf16-weights"],
)
def test_lora_weights_learn_with_memory_savers(tiny_model_dir, tmp_path, settings, dtype):
    from safetensors.torch import load_file

    from conftest import synthetic_rows
    from focalcls.train.training import train_preset

    rows = synthetic_rows({"sports": 24, "finance": 24})
    summary = train_preset(
        train=rows,
        val=rows.iloc[:8],
        labels=["sports", "finance"],
        checkpoint=str(tiny_model_dir),
        loss=LossSpec(loss="focal", form="softmax", gamma=2.0, alpha=None),
        lora={"r": 2, "alpha": 4, "dropout": 0.0, "target_modules": "all-linear"},
        settings=train_settings(epochs=1, batch_size=8, lr=1e-2, **settings),
        max_length=16,
        out_dir=tmp_path,
        preset_name="p",
        dtype=dtype,
        trust_remote_code=False,
    )
    assert summary["dtype"] == dtype and summary["steps"] == 6
    weights = load_file(str(tmp_path / "adapter/adapter_model.safetensors"))
    # peft starts every lora_B at zero: non-zero values mean gradients reached the adapters.
    lora_b = [v for k, v in weights.items() if "lora_B" in k]
    assert lora_b and all(v.float().abs().sum() > 0 for v in lora_b)
    head = [v for k, v in weights.items() if ".score." in k]
    assert head and all(v.dtype == torch.float32 for v in head)  # the head trains in float32 whatever the base dtype


def test_out_of_memory_while_predicting_names_the_batch_key(tiny_model_dir):
    from focalcls.evaluate.inference import predict_probs
    from focalcls.train.model import load_tokenizer

    class NoMemory(torch.nn.Module):
        config = type("Config", (), {"num_labels": 2})()

        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def forward(self, **batch):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")

    with pytest.raises(UserError, match="batches of 4 rows; halve train.eval_batch_size, or lower model.max_length"):
        predict_probs(
            NoMemory(), load_tokenizer(tiny_model_dir), ["一", "二"], form="softmax", max_length=8, batch_size=4
        )


def test_a_non_finite_training_loss_stops_training_before_anything_is_written():
    from types import SimpleNamespace

    from focalcls.train.trainer import LossNotFinite, StopOnNonFiniteLoss

    state = SimpleNamespace(global_step=30)
    StopOnNonFiniteLoss().on_log(None, state, None, logs={"loss": 0.7, "learning_rate": 1e-4})
    for logs in ({"loss": float("nan")}, {"train_loss": float("inf")}, {"loss": "nan"}):
        with pytest.raises(LossNotFinite, match="the training loss is .* at step 30; lower train.lr"):
            StopOnNonFiniteLoss().on_log(None, state, None, logs=logs)


@pytest.mark.slow
def test_a_diverging_preset_stops_with_its_name_and_writes_no_adapter(tiny_model_dir, tmp_path):
    from conftest import synthetic_rows
    from focalcls.train.training import train_preset

    rows = synthetic_rows({"sports": 24, "finance": 24})
    with pytest.raises(UserError, match="preset 'wild': the training loss is nan at step"):
        train_preset(
            train=rows, val=rows.iloc[:8], labels=["sports", "finance"], checkpoint=str(tiny_model_dir),
            loss=LossSpec(loss="focal", form="softmax", gamma=float("nan"), alpha=None),
            lora={"r": 2, "alpha": 4, "dropout": 0.0, "target_modules": "all-linear"},
            settings=train_settings(epochs=1, batch_size=8), max_length=16, out_dir=tmp_path, preset_name="wild",
            dtype="float32", trust_remote_code=False,
        )  # fmt: skip
    assert not (tmp_path / "adapter").exists() and not (tmp_path / "train_summary.json").exists()


def test_validation_rows_are_read_shortest_first_each_with_its_own_label(tiny_model_dir):
    from focalcls.train.model import load_tokenizer
    from focalcls.train.trainer import TokenizedRows

    texts = ["a b c d e f g h", "a", "a b c", "a b c d e", "a b"]
    frame = pd.DataFrame({"text": texts, "label": ["big", "mid", "tiny", "big", "mid"]})
    rows = TokenizedRows(frame, LABELS, load_tokenizer(str(tiny_model_dir)), max_length=32)
    before = {item["row"]: (item["labels"], item["input_ids"]) for item in rows.items}
    assert rows.by_length() is rows and rows.lengths() == sorted(rows.lengths())
    assert [item["row"] for item in rows.items] == [1, 4, 2, 3, 0]
    assert {item["row"]: (item["labels"], item["input_ids"]) for item in rows.items} == before


@pytest.mark.slow
def test_one_thread_and_two_threads_train_the_same_adapter(tiny_model_dir, tmp_path):
    # The demo trains two presets side by side on one thread each (config/config.yaml): a thread count
    # must not change what is learnt beyond float rounding (stated tolerance: 1e-5 on every weight).
    from safetensors.torch import load_file

    from conftest import synthetic_rows
    from focalcls.train.training import train_preset

    rows = synthetic_rows({"sports": 24, "finance": 24})
    threads = torch.get_num_threads()
    adapters = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            train_preset(
                train=rows, val=rows.iloc[:8], labels=["sports", "finance"], checkpoint=str(tiny_model_dir),
                loss=LossSpec(loss="focal", form="softmax", gamma=2.0, alpha=None),
                lora={"r": 2, "alpha": 4, "dropout": 0.05, "target_modules": "all-linear"},
                settings=train_settings(epochs=1, batch_size=8, lr=1e-2, precision="bf16"), max_length=16,
                out_dir=tmp_path / str(n), preset_name="p", dtype="float32", trust_remote_code=False,
            )  # fmt: skip
            adapters.append(load_file(str(tmp_path / str(n) / "adapter/adapter_model.safetensors")))
    finally:
        torch.set_num_threads(threads)
    one, two = adapters
    assert one.keys() == two.keys() and any("lora_B" in k for k in one)
    assert all(torch.allclose(one[k], two[k], rtol=0, atol=1e-5) for k in one)


@pytest.mark.parametrize("multiple", [1, 8])
def test_batches_are_padded_as_transformers_pads_them(tiny_model_dir, multiple):
    from transformers import DataCollatorWithPadding

    from focalcls.train.model import load_tokenizer
    from focalcls.train.trainer import PadToLongest, TokenizedRows

    frame = pd.DataFrame({"text": ["a b c d e f g h", "a", "a b c"], "label": ["big", "mid", "tiny"]})
    tokenizer = load_tokenizer(str(tiny_model_dir))
    rows = TokenizedRows(frame, LABELS, tokenizer, max_length=32).items
    rows[0] = {**rows[0], "attention_mask": [*rows[0]["attention_mask"][:-1], 0]}  # each row's own mask is kept
    ours = PadToLongest(tokenizer.pad_token_id, multiple=multiple)(rows)
    theirs = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=None if multiple == 1 else multiple)(rows)
    assert ours.keys() == theirs.keys() == {"input_ids", "attention_mask", "labels", "row"}
    assert ours["input_ids"].shape[1] % multiple == 0 and ours["input_ids"].shape[1] >= 8
    for key in ours:
        assert torch.equal(ours[key], theirs[key]) and ours[key].dtype == theirs[key].dtype, key


def tiny_trainer(model_dir, checkpoints, **settings):
    """A Trainer as build_trainer makes it, for the tiny model on 16 rows of two classes."""
    from conftest import synthetic_rows
    from focalcls.train.trainer import build_trainer
    from focalcls.train.training import prepared_model

    rows = synthetic_rows({"sports": 8, "finance": 8})
    labels, counts = ["sports", "finance"], {"sports": 8, "finance": 8}
    loss = LossSpec(loss="ce", form="softmax", gamma=0.0, alpha=None)
    preset = {"loss": loss, "settings": train_settings(**settings), "max_length": 16}
    lora = {"r": 2, "alpha": 4, "dropout": 0.0, "target_modules": "all-linear"}
    model, tokenizer = prepared_model(
        str(model_dir), rows, labels, counts, lora=lora, dtype="float32", bf16=False, trust_remote_code=False,
        preset_name="p", **preset,
    )  # fmt: skip
    return build_trainer(
        model, tokenizer, train=rows, val=rows, labels=labels, train_counts=counts, checkpoints=checkpoints,
        compute="fp32", **preset,
    )  # fmt: skip


def test_a_checkpoint_holds_the_adapter_and_not_the_tokenizer(tiny_model_dir, tmp_path):
    # Resuming loads the base checkpoint's own tokenizer; a copy in every checkpoint cost the demo 33 MB and 0.7 s.
    trainer = tiny_trainer(tiny_model_dir, tmp_path)
    trainer.save_model(str(tmp_path / "checkpoint-1"))
    saved = {path.name for path in (tmp_path / "checkpoint-1").iterdir()}
    assert "adapter_model.safetensors" in saved and not [name for name in saved if "token" in name], saved


@pytest.mark.parametrize("head_lr", [None, 5e-2])
def test_the_head_learns_at_train_head_lr_and_warms_up_and_decays_with_the_rest(tiny_model_dir, tmp_path, head_lr):
    trainer = tiny_trainer(tiny_model_dir, tmp_path, lr=1e-3, head_lr=head_lr, warmup_ratio=0.2, weight_decay=0.01)
    trainer.create_optimizer_and_scheduler(num_training_steps=10)
    assert trainer.create_optimizer() is trainer.optimizer  # asked again, the same groups
    trained = {name: p for name, p in trainer.model.named_parameters() if p.requires_grad}
    head = {name for name in trained if "modules_to_save" in name}
    assert head and len(head) < len(trained)
    lr_of = {id(p): g["initial_lr"] for g in trainer.optimizer.param_groups for p in g["params"]}
    assert sum(len(g["params"]) for g in trainer.optimizer.param_groups) == len(lr_of) == len(trained)
    assert {name: lr_of[id(p)] for name, p in trained.items()} == {
        name: (head_lr or 1e-3) if name in head else 1e-3 for name in trained
    }
    decay_of = {id(p): g["weight_decay"] for g in trainer.optimizer.param_groups for p in g["params"]}
    decayed = set(trainer.get_decay_parameter_names(trainer.model))
    assert {name: decay_of[id(p)] for name, p in trained.items()} == {
        name: 0.01 if name in decayed else 0.0 for name in trained
    }  # the weight decay Trainer gives each parameter, kept
    for _ in range(5):  # warm-up, then cosine decay: every group's rate by the same factor
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
        factors = {round(g["lr"] / g["initial_lr"], 12) for g in trainer.optimizer.param_groups}
        assert len(factors) == 1
