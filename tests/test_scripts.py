"""Each stage script on small inputs, chained as the workflow chains them, plus their bad inputs."""

import json
import re
import subprocess
import time

import pandas as pd
import psutil
import pytest

from conftest import MODEL, TRAIN
from focalcls.core.spreadsheets import write_xlsx
from helpers import (
    evaluate_flags,
    extract_and_split,
    flags,
    run_rule_script,
    run_script,
    script_argv,
    section,
    train_flags,
)
from hostile import hostile_workbook

pytestmark = pytest.mark.slow  # runs Snakemake or trains: python -m pytest -m 'not slow' skips it


def read(work, path):
    return json.loads((work / path).read_text(encoding="utf-8"))


# The outputs of a rule that scores one labelled file (evaluate_file and the baselines' evaluate_file_*).
FILE_OUTPUTS = {"metrics": "json", "predictions": "xlsx", "confusion": "csv"}
EXTRACTED = {"rows": "d/x.xlsx", "labels": "d/l.json", "report": "d/r.json", "dropped": "d/dropped.xlsx"}


def extract(cwd, data: dict) -> tuple[int, str]:
    """The extract_labels rule's script on `data` (completed from the schema): its exit code and its log."""
    done = run_rule_script(
        "extract_labels.py",
        cwd=cwd,
        output=EXTRACTED,
        params={"data": section("data", data)},
        log=["x.log"],
        check=False,
    )
    return done.returncode, (cwd / "x.log").read_text(encoding="utf-8")


def over_max_length(model_dir, texts, max_length: int) -> int:
    """Texts longer than max_length tokens, counted here with the model's own tokenizer."""
    from transformers import AutoTokenizer

    return sum(len(ids) > max_length for ids in AutoTokenizer.from_pretrained(str(model_dir))(list(texts))["input_ids"])


def test_extract_and_balance(stages, tiny_model_dir):
    labels = read(stages, "d/labels.json")
    assert labels == ["sports", "finance", "tech", "health"]
    summary = read(stages, "d/summary.json")
    assert sum(sum(c.values()) for c in summary["counts"].values()) == 280
    assert summary["cleaning"]["rows_kept"] == 280
    tokens = summary["length"]["train"]["tokens"]
    assert 0 < tokens["p50"] <= tokens["max"]
    test = pd.read_excel(stages / "d/test.xlsx", dtype=str)
    expected = over_max_length(tiny_model_dir, test.text, MODEL["max_length"])
    assert summary["length"]["test"]["over_max_length"] == expected
    train = pd.read_excel(stages / "d/train.xlsx", dtype=str)
    assert list(train.columns) == ["text", "label", "id"]


def test_train_writes_adapter_log_and_summary(stages):
    folder = stages / "p/balanced"
    assert (folder / "adapter/adapter_model.safetensors").exists()
    adapter = read(stages, "p/balanced/adapter/labels.json")
    assert adapter["labels"] == read(stages, "d/labels.json")
    assert adapter["loss"]["form"] == "softmax" and len(adapter["loss"]["alpha"]) == 4
    log = pd.read_csv(folder / "train_log.csv")
    assert list(log.columns) == ["step", "epoch", "lr", "train_loss", "val_loss", "val_macro_f1", "val_minority_f1"]
    assert log["val_macro_f1"].notna().any() and log["train_loss"].notna().any()
    summary = read(stages, "p/balanced/train_summary.json")
    assert summary["steps"] > 0 and summary["best_step"] is not None
    assert summary["stop_reason"] == "max_epochs"  # two validation passes never exhaust a patience of three
    phases = summary["phase_seconds"]
    assert all(seconds > 0 for seconds in phases.values()), phases  # two validation passes, two checkpoints
    assert sum(phases.values()) == pytest.approx(summary["seconds"], abs=0.05)
    assert not (folder / "checkpoints").exists()


def test_evaluate_outputs_agree(stages):
    labels = read(stages, "d/labels.json")
    metrics = read(stages, "p/balanced/eval/metrics.json")
    test = pd.read_excel(stages / "d/test.xlsx")
    assert metrics["n"] == len(test) and set(metrics["per_class"]) == set(labels)
    for key in ("accuracy", "macro_f1", "weighted_f1", "balanced_accuracy", "minority_f1", "ece", "pr_auc_macro"):
        assert 0.0 <= metrics[key] <= 1.0
    confusion = pd.read_csv(stages / "p/balanced/eval/confusion.csv", index_col=0)
    assert list(confusion.index) == labels and confusion.to_numpy().sum() == len(test)
    predictions = pd.read_excel(stages / "p/balanced/eval/predictions.xlsx")
    assert list(predictions.columns[:3]) == ["id", "text", "true_label"]
    assert predictions[[f"p_{x}" for x in labels]].sum(axis=1).round(4).eq(1).all()
    assert metrics["accuracy"] == pytest.approx((predictions.true_label == predictions.predicted_label).mean())


def test_binary_and_tfidf(stages):
    binary = read(stages, "p/balanced/binary/metrics.json")
    assert binary["positive"] == ["health"]  # the rarest training class, as none is configured
    val = pd.read_excel(stages / "p/balanced/eval/val_predictions.xlsx")
    scores, truth = val["p_health"], val["true_label"] == "health"

    def f1(threshold):
        chosen = scores >= threshold
        return 2 * (chosen & truth).sum() / (chosen.sum() + truth.sum())

    best = max(f1(t) for t in scores.unique())  # every threshold that changes the prediction, tried on val
    assert f1(binary["threshold"]) == pytest.approx(best) and binary["val_at_threshold"]["f1"] == pytest.approx(best)
    tfidf = read(stages, "b/tfidf/metrics.json")
    assert tfidf["preset"] == "tfidf" and tfidf["macro_f1"] > 0.5  # the classes have their own words


def test_baselines_score_a_labelled_file_as_they_score_test(stages, tiny_model_dir, tmp_path):
    """An evaluate.files entry is scored without val, and gives what the baseline's own run gives on the
    same rows: d/test.xlsx stands in for a prepared file (prepare_evaluation writes the same columns)."""
    direct = {**section("direct"), "prompt": "{text}。类别：{labels}。答：", "answer_prefix": ""}
    common = flags(
        threads=1, checkpoint=tiny_model_dir, labels="d/labels.json", summary="d/summary.json", test="d/test.xlsx",
        model=MODEL, direct=direct, keep_columns=["id"], precision="fp32", gpus=0,
    )  # fmt: skip
    run_script("baseline_direct.py", *common, "--val", "d/val.xlsx", "--out-dir", tmp_path / "own", cwd=stages)
    run_script("baseline_direct.py", *common, "--out-dir", tmp_path / "file", cwd=stages)
    run_rule_script(
        "baseline_tfidf.py",
        cwd=stages,
        input={"train": "d/train.xlsx", "test": "d/test.xlsx", "labels": "d/labels.json", "summary": "d/summary.json"},
        output={name: str(tmp_path / f"tfidf/{name}.{ext}") for name, ext in FILE_OUTPUTS.items()},
        params={"keep": ["id"], "seed": TRAIN["seeds"][0]},
    )
    for own, file in ((tmp_path / "own", tmp_path / "file"), (stages / "b/tfidf", tmp_path / "tfidf")):
        scored = json.loads((file / "metrics.json").read_text())
        assert "val" not in scored and not (file / "val_predictions.xlsx").exists()
        assert scored == {k: v for k, v in json.loads((own / "metrics.json").read_text()).items() if k != "val"}
        assert (file / "confusion.csv").read_text() == (own / "confusion.csv").read_text()
        assert pd.read_excel(file / "predictions.xlsx").equals(pd.read_excel(own / "predictions.xlsx"))


def test_bad_column_is_one_clear_error_and_writes_nothing(tmp_path):
    write_xlsx(tmp_path / "raw.xlsx", pd.DataFrame({"内容": ["x", "y"], "类别": ["a", "b"]}))
    code, log = extract(tmp_path, {"raw": "raw.xlsx", "text_column": "text", "label_column": "类别"})
    assert code == 2 and "Traceback" not in log and log.count("error: ") == 1 and "error: raw.xlsx" in log
    assert "'text'" in log and "data.text_column" in log and not (tmp_path / "d").exists()


def test_adapter_with_other_labels_is_refused(stages, tiny_model_dir, tmp_path):
    (tmp_path / "labels.json").write_text(json.dumps(["a", "b", "c", "d"]))
    done = run_script(
        "evaluate.py",
        *evaluate_flags(
            tiny_model_dir,
            stages / "p/balanced/adapter",
            tmp_path / "eval",
            labels=tmp_path / "labels.json",
            summary=stages / "d/summary.json",
            val=stages / "d/val.xlsx",
            test=stages / "d/test.xlsx",
        ),
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2 and "retrain this preset" in done.stderr and not (tmp_path / "eval").exists()


def train_args(out_dir, model_dir, **settings):
    return train_flags(model_dir, out_dir, threads=2, preset="p", settings=settings)


# The resume tests' trainings, by processes: epochs, and the step after which the copy is killed. One process
# takes 11 steps an epoch, two take 6: a kill after step 8 resumes inside the second epoch. Ten steps or more
# stay after the kill, so the training is still running when it comes.
RESUMED = {1: (2, 2), 2: (3, 8)}


def resumable(processes: int) -> dict:
    return {"epochs": RESUMED[processes][0], "eval_steps": 2, "patience": 100, "cpu_processes": processes}


@pytest.fixture(scope="module")
def uninterrupted(stages, tiny_model_dir):
    """uninterrupted(processes) -> (folder, stderr) of a training in that many processes never killed, run once
    a module: the resume tests match a killed copy against it; the two-process one is also the test of two
    processes training one adapter."""
    made = {}

    def run(processes: int) -> tuple[str, str]:
        if processes not in made:
            folder = f"p/whole{processes}"
            done = run_script("train.py", *train_args(folder, tiny_model_dir, **resumable(processes)), cwd=stages)
            made[processes] = folder, done.stderr
        return made[processes]

    return run


def test_two_cpu_processes_train_one_adapter_written_by_rank_zero(stages, uninterrupted):
    folder, stderr = uninterrupted(2)
    summary = read(stages, f"{folder}/train_summary.json")
    single_steps = -(-len(pd.read_excel(stages / "d/train.xlsx")) // TRAIN["batch_size"])
    assert summary["world_size"] == 2 and summary["best_step"] is not None  # evaluation ran in both processes
    assert summary["steps"] == RESUMED[2][0] * -(-single_steps // 2)  # each process sees half the rows
    assert "process 0 of 2 trained" in stderr and "process 1 of 2 trained" in stderr
    assert re.findall(r"process (\d) wrote", stderr) == ["0"]
    assert (stages / f"{folder}/adapter/adapter_model.safetensors").exists()


def test_two_processes_shard_evaluation_and_gather_rows_in_order(stages, tiny_model_dir):
    done = run_script(
        "evaluate.py",
        *evaluate_flags(tiny_model_dir, "p/balanced/adapter", "p/balanced/eval2", threads=2, cpu_processes=2),
        cwd=stages,
    )
    assert "process 0 of 2 predicted" in done.stderr and "process 1 of 2 predicted" in done.stderr
    one, two = (pd.read_excel(stages / f"p/balanced/{x}/predictions.xlsx") for x in ("eval", "eval2"))
    assert list(one.id) == list(two.id)
    probs = [c for c in one.columns if c.startswith("p_")]
    assert (one[probs] - two[probs]).abs().max().max() < 1e-5
    assert read(stages, "p/balanced/eval2/metrics.json")["macro_f1"] == pytest.approx(
        read(stages, "p/balanced/eval/metrics.json")["macro_f1"]
    )


def test_early_stopping_watches_val_macro_f1_by_default_and_keeps_the_best(stages):
    summary = read(stages, "p/balanced/train_summary.json")
    log = pd.read_csv(stages / "p/balanced/train_log.csv").dropna(subset=["val_macro_f1"])
    assert summary["early_stopping_metric"] == "val_macro_f1"
    assert summary["best_metric"] == pytest.approx(log.val_macro_f1.max())
    assert summary["best_step"] == int(log.step[log.val_macro_f1.idxmax()])  # the first of equal passes


@pytest.mark.parametrize("processes", RESUMED, ids=["one-process", "two-processes-mid-epoch-1"])
def test_killed_training_resumes_and_matches_an_uninterrupted_run(stages, tiny_model_dir, uninterrupted, processes):
    settings, kill_after = resumable(processes), RESUMED[processes][1]
    (whole, _), killed = uninterrupted(processes), f"p/killed{processes}"
    job = subprocess.Popen(
        script_argv("train.py", *train_args(killed, tiny_model_dir, **settings)),
        cwd=stages,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 180
    while not (stages / killed / f"checkpoints/checkpoint-{kill_after}/trainer_state.json").exists():
        assert job.poll() is None and time.time() < deadline, "training ended before the checkpoint to kill at"
        time.sleep(0.02)
    # Every process of the job at once, as a scheduler's kill of the job's cgroup does (torchrun starts its
    # workers in sessions of their own, so a process-group kill would miss them).
    family = psutil.Process(job.pid)
    for process in [family, *family.children(recursive=True)]:
        process.kill()
    job.wait()
    assert not (stages / killed / "train_summary.json").exists()

    done = run_script("train.py", *train_args(killed, tiny_model_dir, **settings), cwd=stages)
    resumed, complete = read(stages, f"{killed}/train_summary.json"), read(stages, f"{whole}/train_summary.json")
    assert resumed["resumed_from"] and "resuming from" in done.stderr
    assert resumed["steps"] == complete["steps"] and resumed["best_step"] == complete["best_step"]
    # Same batches, restored RNG and optimizer state: the curves agree to float32 rounding.
    killed_log, whole_log = (pd.read_csv(stages / f"{x}/train_log.csv") for x in (killed, whole))
    val = lambda log: log.dropna(subset=["val_loss"]).set_index("step").val_loss  # noqa: E731
    assert (val(killed_log) - val(whole_log)).abs().max() < 1e-4


def test_same_config_and_seed_give_identical_metrics(stages, tiny_model_dir):
    run_script("train.py", *train_flags(tiny_model_dir, "p/again"), cwd=stages)
    run_script("evaluate.py", *evaluate_flags(tiny_model_dir, "p/again/adapter", "p/again/eval"), cwd=stages)
    assert (stages / "p/again/eval/metrics.json").read_bytes() == (stages / "p/balanced/eval/metrics.json").read_bytes()
    assert (stages / "p/again/train_log.csv").read_text() == (stages / "p/balanced/train_log.csv").read_text()


def test_presplit_files_keep_their_split_and_are_checked(tmp_path, imbalanced_rows, tiny_model_dir):
    parts = {
        "train": imbalanced_rows.iloc[:200],
        "val": imbalanced_rows.iloc[200:240],
        "test": imbalanced_rows.iloc[240:],
    }
    for name, part in parts.items():
        write_xlsx(tmp_path / f"{name}.xlsx", part)
    data = {f: f"{f}.xlsx" for f in parts} | {"text_column": "text", "label_column": "label", "keep_columns": ["id"]}
    # split fractions that cannot give the files' sizes: the files' own split is kept
    extract_and_split(
        tmp_path,
        data,
        checkpoint=tiny_model_dir,
        split={"val_fraction": 0.3, "test_fraction": 0.3},
        balance={"strategy": "none"},
        model={"max_length": 10},  # the texts take about 11 tokens: some are longer
    )
    summary = read(tmp_path, "d/summary.json")
    for name, part in parts.items():
        assert sorted(pd.read_excel(tmp_path / f"d/{name}.xlsx")["id"]) == sorted(part["id"])
        assert 0 < summary["length"][name]["over_max_length"] == over_max_length(tiny_model_dir, part.text, 10)
    assert read(tmp_path, "d/extract_report.json")["overlap"] == {"train/val": 0, "train/test": 0, "val/test": 0}

    leaky = pd.concat([parts["test"], parts["train"].iloc[:4]])
    write_xlsx(tmp_path / "test.xlsx", leaky)
    assert extract(tmp_path, data)[0] == 0
    report = read(tmp_path, EXTRACTED["report"])
    assert report["overlap"]["train/test"] == 4 and report["test"]["dropped"]["also in the training file"] == 4
    extracted = pd.read_excel(tmp_path / EXTRACTED["rows"])
    assert len(extracted[extracted.split == "test"]) == len(parts["test"])
    dropped = pd.read_excel(tmp_path / EXTRACTED["dropped"])
    assert (dropped.reason == "also in the training file").sum() == 4 and set(dropped.file) == {"test.xlsx"}
    write_xlsx(tmp_path / "test.xlsx", parts["test"])

    unseen = parts["val"].copy()
    unseen.iloc[:3, unseen.columns.get_loc("label")] = "unknown"
    write_xlsx(tmp_path / "val.xlsx", unseen)
    code, log = extract(tmp_path, data)
    assert code == 2 and "error: val.xlsx: labels ['unknown'] never occur in the training file train.xlsx" in log

    write_xlsx(tmp_path / "val.xlsx", parts["val"].drop(columns="id"))
    code, log = extract(tmp_path, data)
    assert code == 2 and "error: the pre-split files have different columns" in log and "val (val.xlsx)" in log


def test_train_and_val_files_get_a_test_split_cut_from_the_training_file(tmp_path, imbalanced_rows, tiny_model_dir):
    parts = {"train": imbalanced_rows.iloc[:240], "val": imbalanced_rows.iloc[240:]}
    for name, part in parts.items():
        write_xlsx(tmp_path / f"{name}.xlsx", part)
    data = {"train": "train.xlsx", "val": "val.xlsx", "keep_columns": ["id"]}
    split = {"test_fraction": 0.25, "seed": 5}
    # Oversampling repeats training rows: the test split is cut before it, so none of them reaches test.
    balance = {"strategy": "oversample", "min_per_class": 80}
    extract_and_split(tmp_path, data, checkpoint=tiny_model_dir, split=split, balance=balance, model={})
    out = {name: pd.read_excel(tmp_path / f"d/{name}.xlsx", dtype=str) for name in ("train", "val", "test")}
    assert sorted(out["val"].id) == sorted(parts["val"].id)
    assert set(out["test"].id) <= set(parts["train"].id) and not set(out["test"].text) & set(out["train"].text)
    assert set(out["train"].id) | set(out["test"].id) == set(parts["train"].id)
    summary = read(tmp_path, "d/summary.json")
    cut = {"cut_from": "data.train", "fraction": 0.25, "stratified": True, "seed": 5}
    assert summary["sources"]["test"] == {"file": "train.xlsx", **cut}
    assert summary["sources"]["val"] == {"file": "val.xlsx"}
    assert set(summary["cleaning"]) == {"train", "val", "overlap", "data_section"}  # data_section: for the next load
    for label, n in parts["train"].label.value_counts().items():
        assert abs(summary["counts"]["test"][label] - 0.25 * n) <= 1


def test_a_training_file_too_small_to_cut_a_test_split_from_stops_with_the_fix(tmp_path, imbalanced_rows):
    rare = pd.DataFrame({"text": ["孤单1", "孤单2"], "label": ["rare", "rare"], "id": ["r1", "r2"]})
    write_xlsx(tmp_path / "train.xlsx", pd.concat([imbalanced_rows.iloc[:240], rare]))
    write_xlsx(tmp_path / "val.xlsx", imbalanced_rows.iloc[240:])
    data = section("data", {"train": "train.xlsx", "val": "val.xlsx"})
    assert extract(tmp_path, data)[0] == 0
    done = run_rule_script(
        "split_and_balance.py",
        cwd=tmp_path,
        input=EXTRACTED,
        output={name: f"d/{name}.xlsx" for name in ("train", "val", "test")} | {"summary": "d/summary.json"},
        params={
            **{name: section(name) for name in ("split", "balance", "model")},
            "files": {key: data[key] for key in ("raw", "train", "val", "test")},
            "checkpoint": "no-model-needed-before-the-split",
        },
        log=["s.log"],
        check=False,
    )
    log = (tmp_path / "s.log").read_text(encoding="utf-8")
    assert done.returncode == 2 and "Traceback" not in log and log.count("error: ") == 1, log
    assert "error: train.xlsx: too few rows to cut the test split" in log and "'rare' has 2 rows" in log
    assert "data.test" in log and "split.small_classes: train_only" in log and not (tmp_path / "d/test.xlsx").exists()


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing_file", "nowhere.xlsx: file not found"),
        ("corrupt_xlsx", "raw.xlsx: not a readable Excel file"),
        ("missing_column", "no column|missing column"),
        ("empty_label", "row 3"),
        ("absent_label", r"data\.labels names \['weather'\]"),
        ("single_class", r"1 label\(s\) left after cleaning"),
        ("all_texts_empty", "every cell of the text column"),
        ("not_utf8", "raw.csv: not UTF-8"),
        ("hidden_first_sheet", r"data\.sheet is 0, which is the hidden sheet 'lookup'"),
        ("error_labels", r"empty 'label' cell or an Excel error value such as #N/A \(3 of them\)"),
        ("repeated_header", r"the header 'label' names 2 columns"),
    ],
)
def test_bad_input_stops_with_one_message_and_no_output(tmp_path, case, message):
    good = pd.DataFrame({"text": ["球队夺冠", "股市上涨", "芯片发布", "医院开业"], "label": ["a", "b", "a", "b"]})
    data = {"raw": "raw.xlsx", "text_column": "text", "label_column": "label"}
    if case == "missing_file":
        data["raw"] = "nowhere.xlsx"
    elif case == "corrupt_xlsx":
        (tmp_path / "raw.xlsx").write_bytes(b"PK\x03\x04 this is not a workbook")
    elif case == "not_utf8":
        data["raw"] = "raw.csv"
        (tmp_path / "raw.csv").write_bytes("text,label\n球队夺冠,a\n".encode("gb18030"))
    elif case in ("hidden_first_sheet", "error_labels"):
        hostile_workbook(tmp_path / "raw.xlsx")
        data["sheet"] = 0 if case == "hidden_first_sheet" else "data"
    elif case == "repeated_header":
        data["raw"] = "raw.csv"
        (tmp_path / "raw.csv").write_text("text,label,label\n球队夺冠,a,b\n", encoding="utf-8")
    else:
        frame = good.copy()
        if case == "missing_column":
            data["text_column"] = "content"
        elif case == "empty_label":
            frame.loc[1, "label"] = "  "
        elif case == "absent_label":
            data["labels"] = ["a", "weather"]
        elif case == "single_class":
            frame["label"] = "a"
        elif case == "all_texts_empty":
            frame["text"] = ""
        write_xlsx(tmp_path / "raw.xlsx", frame)
    code, log = extract(tmp_path, data)
    assert code == 2 and "Traceback" not in log and log.count("error: ") == 1
    assert re.search(message, log), log
    assert not (tmp_path / "d").exists()


def test_missing_column_lists_the_columns_there_are(tmp_path):
    write_xlsx(tmp_path / "raw.xlsx", pd.DataFrame({"内容": ["x"], "类别": ["a"]}))
    code, log = extract(tmp_path, {"raw": "raw.xlsx", "text_column": "text", "label_column": "类别"})
    assert code == 2 and "the file has columns ['内容', '类别']" in log and "_origin" not in log


def test_the_cleaning_report_counts_error_cells_hidden_sheets_and_cut_cells(tmp_path):
    hostile_workbook(tmp_path / "raw.xlsx")
    data = {"raw": "raw.xlsx", "sheet": "all", "empty_labels": "drop", "keep_columns": ["date"]}
    assert extract(tmp_path, data)[0] == 0
    report = read(tmp_path, EXTRACTED["report"])
    assert report["error_cells"] == {"text": 0, "label": 3} and report["dropped"]["empty label"] == 3
    assert report["hidden_sheets_skipped"] == ["lookup", "secret"] and "cells_cut" not in report
    assert read(tmp_path, EXTRACTED["labels"]) == ["TRUE", "1"]

    long_note = pd.DataFrame({"text": ["一", "二", "三"], "label": ["a", "b", "a"], "note": ["长" * 40_000, "", ""]})
    long_note.to_csv(tmp_path / "raw.csv", index=False)  # a CSV cell has no length limit
    code, log = extract(tmp_path, {"raw": "raw.csv", "keep_columns": ["note"]})
    assert code == 0 and read(tmp_path, EXTRACTED["report"])["cells_cut"] == 1
    assert "d/x.xlsx: 1 cell(s) longer than 32767 characters cut" in log
