"""The Snakemake DAG end to end on a tiny config: every stage, two presets, outputs that agree."""

import copy
import importlib.util
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import built_once
from focalcls.config.loading import complete
from focalcls.core.spreadsheets import write_xlsx
from helpers import snakemake

pytestmark = pytest.mark.slow  # runs Snakemake or trains: python -m pytest -m 'not slow' skips it

# Spaces and both quotes in paths: config values must never reach a shell unquoted.
RAW = 'input/labelled "raw" rows.xlsx'
NEW_ROWS = "input/new rows from 'the field'.xlsx"
# The jobs a rerun of every training would plan, as a table of rule counts.
RETRAIN_PLAN = ("--configfile", "config.yaml", "-n", "--forcerun", "train", "--quiet", "rules")
PRESETS = {"ce": {"loss": "ce"}, "moderate": {"loss": "focal", "form": "sigmoid", "alpha": 0.25, "gamma": 2.0}}


def tiny_config(model_dir) -> dict:
    return {
        "data": {"raw": RAW, "keep_columns": ["id"]},
        "split": {"val_fraction": 0.2, "test_fraction": 0.2, "seed": 1},
        "balance": {"strategy": "longtail", "imbalance_ratio": 4},
        "model": {"checkpoint": str(model_dir), "max_length": 16},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": "all-linear"},
        # One thread a job, as the demo: Snakemake runs two tiny jobs side by side, each mostly imports.
        "train": {"epochs": 2, "batch_size": 16, "lr": 5e-3, "gpus": 0, "precision": "fp32", "cpu_threads": 1},
        "presets": copy.deepcopy(PRESETS),
        "direct": {"prompt": "{text}。类别：{labels}。答：", "answer_prefix": ""},
        "predict": {"files": {"new": NEW_ROWS}, "review": {"share": 0.3}},
    }


# The shared run is tracked where the tracking packages are installed (envs/requirements-tracking.txt, part of
# the test requirements); train/test_tracking.py reads it back, and skips where they are not.
TRACKED = all(importlib.util.find_spec(package) for package in ("mlflow", "tensorboard"))


def shared_config(model_dir) -> dict:
    """The shared run's config: the tiny one with a checkpoint every 2 steps, so that test_slurm, which compares
    its run through Slurm with this one, can cancel a training between two; curves to MLflow and TensorBoard."""
    config = tiny_config(model_dir)
    config["train"].update(eval_steps=2, report_to=["mlflow", "tensorboard"] if TRACKED else "none")
    return config


def write_workspace(work: Path, rows: pd.DataFrame, config: dict) -> None:
    write_xlsx(work / RAW, rows)
    write_xlsx(work / NEW_ROWS, rows.drop(columns="label").head(12))
    (work / "config.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory, imbalanced_rows, tiny_model_dir) -> Path:
    """The whole tiny workflow, run once a session (this module and test_slurm read it); Snakemake's console
    output in run.log."""

    def run(work: Path) -> None:
        write_workspace(work, imbalanced_rows, shared_config(tiny_model_dir))
        done = snakemake("--configfile", "config.yaml", "--cores", "2", cwd=work)
        (work / "run.log").write_text(done.stderr)

    return built_once(tmp_path_factory, "workflow", run)


def load(work, path):
    return json.loads((work / path).read_text(encoding="utf-8"))


def test_every_stage_ran_and_outputs_agree(workflow_run):
    work = workflow_run
    labels = load(work, "results/data/labels.json")
    test = pd.read_excel(work / "results/data/test.xlsx")
    summary = load(work, "results/data/summary.json")
    assert summary["balance"]["strategy"] == "longtail"
    assert summary["counts"]["train"]["sports"] > summary["counts"]["train"]["health"]
    for preset in PRESETS:
        metrics = load(work, f"results/presets/{preset}/eval/metrics.json")
        assert list(metrics["per_class"]) == labels and metrics["n"] == len(test)
        confusion = pd.read_csv(work / f"results/presets/{preset}/eval/confusion.csv", index_col=0)
        assert list(confusion.columns) == labels and confusion.to_numpy().sum() == len(test)
        assert load(work, f"results/presets/{preset}/adapter/labels.json")["labels"] == labels
        assert "threshold" in load(work, f"results/presets/{preset}/binary/metrics.json")
        assert (work / f"results/logs/train/{preset}.log").stat().st_size > 0
        assert (work / f"results/benchmarks/train/{preset}.tsv").exists()
    for baseline in ("tfidf", "direct"):
        assert load(work, f"results/baselines/{baseline}/metrics.json")["n"] == len(test)
    for preset in PRESETS:  # one seed: a blend with TF-IDF each, no seeds' average
        blend = load(work, f"results/ensembles/{preset}+tfidf/metrics.json")
        assert blend["n"] == len(test) and blend["ensemble"]["runs"] == [preset]
    assert not list((work / "results/ensembles").glob("*+seeds"))
    new = pd.read_excel(work / "results/predictions/new.xlsx")
    assert len(new) == 12 and set(new.predicted_label) <= set(labels) and "id" in new.columns
    assert {"calibrated_confidence", "needs_review"} <= set(new.columns)
    for preset in PRESETS:  # the model card replaced peft's template, and nothing reran because of it (below)
        card = (work / f"results/presets/{preset}/adapter/README.md").read_text(encoding="utf-8")
        assert card == (work / f"results/presets/{preset}/model_card/README.md").read_text(encoding="utf-8")
        assert "[More Information Needed]" not in card and "library_name: peft" in card
    suspects = pd.read_excel(work / "results/audit/suspect_labels.xlsx")
    assert list(suspects.columns) == ["split", "where", "id", "text", "given_label", "likely_label", "score"]


def test_merge_target_builds_a_plain_transformers_folder(workflow_run, tmp_path):
    from transformers import AutoConfig

    work = tmp_path / "w"  # a copy: test_slurm compares its run with the shared one's results
    shutil.copytree(workflow_run, work, symlinks=True)
    snakemake("results/presets/ce/merged", "--configfile", "config.yaml", "--cores", "2", cwd=work)
    config = AutoConfig.from_pretrained(work / "results/presets/ce/merged")
    assert list(config.id2label.values()) == load(work, "results/data/labels.json")
    card = (work / "results/presets/ce/merged/README.md").read_text(encoding="utf-8")
    assert "library_name: transformers" in card


def test_report_names_every_model(workflow_run):
    html = (workflow_run / "results/report.html").read_text(encoding="utf-8")
    for name in (*PRESETS, "tfidf", "direct"):
        # a row of the comparison table (a preset whose logit adjustment chose tau 0 says so beside its name)
        assert re.search(f'<tr><td class="text">{name}(</td>| <span class="note">)', html)
    assert "Headline" in html and "Provenance" in html
    assert html.count("data:image/png;base64,") >= 4 and "http://" not in html.replace("http://www.w3.org", "")


def test_nothing_left_to_do_and_one_preset_change_reruns_only_it(workflow_run):
    work = workflow_run
    assert "Nothing to be done" in snakemake("--configfile", "config.yaml", "-n", cwd=work).stdout
    config = yaml.safe_load((work / "config.yaml").read_text())
    config["presets"]["moderate"]["gamma"] = 1.0
    (work / "changed.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake("--configfile", "changed.yaml", "-n", "--quiet", "rules", cwd=work).stdout
    jobs = dict(
        line.split()
        for line in plan.splitlines()
        if line.split()
        and line.split()[0]
        in {
            "train",
            "evaluate",
            "binary_test",
            "report",
            "predict",
            "baseline_tfidf",
            "baseline_direct",
            "split_and_balance",
            "extract_labels",
        }
        and len(line.split()) == 2
    )
    # predict.preset 'best' weighs every preset on validation, so it is redone too.
    assert jobs == {"train": "1", "evaluate": "1", "binary_test": "1", "report": "1", "predict": "1"}


def test_head_lr_and_label_smoothing_at_their_defaults_leave_every_run_as_it_was(workflow_run):
    """A run trained before train.head_lr and presets.<name>.label_smoothing existed must not retrain: at their
    defaults neither reaches the train rule's params; set, label_smoothing retrains its preset, head_lr all."""
    work = workflow_run
    plan = snakemake(
        "results/presets/ce/adapter", "--configfile", "config.yaml", "-n", "-p", "--forcerun", "train", cwd=work
    )
    assert "--train-settings" in plan.stdout and "head_lr" not in plan.stdout and "label_smoothing" not in plan.stdout
    config = yaml.safe_load((work / "config.yaml").read_text())
    config["train"]["head_lr"] = None
    config["presets"]["ce"]["label_smoothing"] = 0.0
    (work / "explicit.yaml").write_text(yaml.safe_dump(config))
    assert "Nothing to be done" in snakemake("--configfile", "explicit.yaml", "-n", cwd=work).stdout
    config["presets"]["ce"]["label_smoothing"] = 0.1
    (work / "smoothed.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake("--configfile", "smoothed.yaml", "-n", "--quiet", "rules", cwd=work).stdout.split()
    assert plan[plan.index("train") + 1] == "1"
    config["train"]["head_lr"] = 1e-3
    (work / "head_lr.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake("--configfile", "head_lr.yaml", "-n", "--quiet", "rules", cwd=work).stdout.split()
    assert plan[plan.index("train") + 1] == str(len(config["presets"]))


def test_one_preset_target_runs_alone(workflow_run):
    plan = snakemake("results/presets/moderate/eval/metrics.json", *RETRAIN_PLAN, cwd=workflow_run).stdout
    assert "report" not in plan and "binary_test" not in plan
    assert any(line.split() == ["train", "1"] for line in plan.splitlines())


def _set(config: dict, path: tuple, value) -> None:
    *parents, key = path
    for name in parents:
        config = config.setdefault(name, {})
    config[key] = value


@pytest.mark.parametrize(
    "key, value, extra, message",
    [
        (("train", "learning_rate"), 0.1, [], "'train.learning_rate': did you mean train.lr"),
        (
            ("presets", "moderate", "gamma"),
            -1,
            [],
            "config key presets.moderate.gamma: -1 is less than the minimum of 0",
        ),
        (
            ("presets", "../evil"),
            {"gamma": 1.0},
            [],
            "'../evil' does not match '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\\\\Z'; a preset name",
        ),
        (("train", "scheduler"), "cosin", [], "config key train.scheduler: 'cosin' is not one of"),
        (("presets", "moderate", "alpha"), 1.5, [], "presets.moderate.alpha is 1.5; in the sigmoid form"),
        (("train", "gpus"), 4, ["--resources", "gpu=2"], "train.gpus is 4 but --resources gpu=2"),
        (("model", "checkpoint"), "/no/such/model", [], "model.checkpoint '/no/such/model' is not a folder"),
        (("data",), {"val": "v.xlsx"}, [], "data.val set without data.train: pre-split data needs a training file"),
        (("presets", "direct"), {"loss": "ce"}, [], "presets.direct: 'direct' is also a baseline"),
    ],
)
def test_bad_config_is_rejected_before_any_work(tmp_path, tiny_model_dir, key, value, extra, message):
    config = tiny_config(tiny_model_dir)
    del config["predict"]  # its file is not in tmp_path; every other key is valid until changed here
    _set(config, key, value)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = snakemake("--configfile", "config.yaml", "-n", *extra, cwd=tmp_path, check=False)
    assert done.returncode != 0 and message in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr and not (tmp_path / "results").exists()


def test_ensembles_are_planned_from_stored_predictions_and_predict_can_name_one(
    tmp_path, tiny_model_dir, imbalanced_rows
):
    """Two seeds: each preset's seeds averaged, each run blended with TF-IDF; predict named a blend waits for its
    ensemble and TF-IDF's training split, and trains nothing more. A name that is no ensemble is refused."""
    write_xlsx(tmp_path / RAW, imbalanced_rows)
    write_xlsx(tmp_path / NEW_ROWS, imbalanced_rows.drop(columns="label").head(3))
    config = tiny_config(tiny_model_dir)
    config["train"]["seeds"] = [42, 1]
    config["predict"]["preset"] = "moderate+tfidf"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake("--configfile", "config.yaml", "-n", "--quiet", "rules", cwd=tmp_path).stdout
    counts = dict(line.split()[:2] for line in plan.splitlines() if len(line.split()) == 2)
    assert counts["ensemble"] == "6" and counts["train"] == "4"  # 2 presets x (1 average + 2 blends)
    predict = snakemake("results/predictions/new.xlsx", "--configfile", "config.yaml", "-n", cwd=tmp_path).stdout
    assert "results/ensembles/moderate+tfidf/calibrated/calibration.json" in predict
    assert "results/presets/moderate/adapter" in predict and "results/data/train.xlsx" in predict
    config["predict"]["preset"] = "moderate+seed"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = snakemake("--configfile", "config.yaml", "-n", cwd=tmp_path, check=False)
    assert (
        done.returncode != 0
        and "which is not a preset or ensemble (ce, moderate, ce+seeds" in done.stdout + done.stderr
    )


def planned_jobs(work, config: dict, name: str) -> dict[str, int]:
    """{rule: how many jobs} of a dry run of the whole workflow with `config`."""
    (work / name).write_text(yaml.safe_dump(config))
    plan = snakemake("--configfile", name, "-n", "--quiet", "rules", cwd=work).stdout
    return {w[0]: int(w[1]) for w in map(str.split, plan.splitlines()) if len(w) == 2 and w[1].isdigit()}


def test_a_preset_scoring_the_training_rows_plans_one_training_per_fold_and_tfidf_none(
    tmp_path, tiny_model_dir, imbalanced_rows
):
    """audit.model tfidf, said or left out, plans the same jobs and no fold run; a preset, k more trainings, each
    on the split less its fold, and k predictions of the held-out rows, which the audit reads."""
    write_xlsx(tmp_path / RAW, imbalanced_rows)
    write_xlsx(tmp_path / NEW_ROWS, imbalanced_rows.drop(columns="label").head(3))
    config = tiny_config(tiny_model_dir)
    default = planned_jobs(tmp_path, config, "default.yaml")
    config["audit"] = {"folds": 3, "model": "tfidf"}
    assert planned_jobs(tmp_path, config, "tfidf.yaml") == default
    assert default["train"] == len(PRESETS) and not {"audit_fold", "audit_held_out"} & set(default)
    config["audit"]["model"] = "moderate"
    with_preset = planned_jobs(tmp_path, config, "preset.yaml")
    assert with_preset["train"] == len(PRESETS) + 3 and with_preset["audit_fold"] == with_preset["audit_held_out"] == 3
    assert {
        rule: n for rule, n in with_preset.items() if rule not in ("train", "audit_fold", "audit_held_out", "total")
    } == {
        rule: n for rule, n in default.items() if rule not in ("train", "total")
    }  # nothing else: the fold runs are no report rows, no ensembles, no calibration
    plan = snakemake("results/audit/summary.json", "--configfile", "preset.yaml", "-n", "-p", cwd=tmp_path).stdout
    assert "--train results/audit/folds/fold-2/train.xlsx" in plan and "--run audit/fold-2" in plan
    assert "--test results/audit/folds/fold-2/held.xlsx" in plan


def test_unknown_positive_label_stops_the_run_once_labels_are_known(tmp_path, tiny_model_dir):
    config = tiny_config(tiny_model_dir)
    del config["predict"]
    config["data"]["labels"] = ["sports", "finance", "tech", "health"]
    config["binary"] = {"positive": ["Health"]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = snakemake("--configfile", "config.yaml", "-n", cwd=tmp_path, check=False)
    assert (
        done.returncode != 0 and "binary.positive names ['Health'], which are not labels" in done.stdout + done.stderr
    )


def last_run(work, labels, data: dict) -> None:
    """results/data/ as extract_labels leaves it: `labels`, made from the data section `data`."""
    folder = work / "results/data"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "labels.json").write_text(labels if isinstance(labels, str) else json.dumps(labels))
    (folder / "extract_report.json").write_text(json.dumps({"rows_read": 1, "data_section": data}))


def test_labels_of_the_last_run_are_checked_only_while_they_are_newer_than_the_data(
    tmp_path, tiny_model_dir, imbalanced_rows
):
    import os

    config = tiny_config(tiny_model_dir)
    del config["predict"]
    config["binary"] = {"positive": ["health"]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    write_xlsx(tmp_path / RAW, imbalanced_rows)
    last_run(tmp_path, ["sports", "finance"], complete(config)["data"])  # an earlier data set without 'health'
    os.utime(tmp_path / RAW, (1, 1))
    done = snakemake("--configfile", "config.yaml", "-n", cwd=tmp_path, check=False)
    assert done.returncode != 0 and "labels.json of the last run, made from this data section" in done.stdout

    (tmp_path / RAW).touch()  # new data since: the old labels say nothing about it
    snakemake("--configfile", "config.yaml", "-n", cwd=tmp_path)


def test_labels_of_the_last_run_made_from_another_data_section_refuse_nothing(
    tmp_path, tiny_model_dir, imbalanced_rows
):
    config = tiny_config(tiny_model_dir)
    del config["predict"]
    write_xlsx(tmp_path / RAW, imbalanced_rows)
    last_run(tmp_path, ["sports", "finance", "tech", "health"], complete(config)["data"])
    config["data"]["rename"] = {"health": "wellness"}  # a valid new config: wellness is no label of the old run
    config["binary"] = {"positive": ["wellness"]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake("--configfile", "config.yaml", "-n", cwd=tmp_path).stdout
    assert "rule extract_labels" in plan


def test_a_corrupt_labels_file_of_the_last_run_is_named_with_the_fix(tmp_path, tiny_model_dir, imbalanced_rows):
    config = tiny_config(tiny_model_dir)
    del config["predict"]
    write_xlsx(tmp_path / RAW, imbalanced_rows)
    last_run(tmp_path, '["sports", "fin', complete(config)["data"])  # a full disk cut it short
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = snakemake("--configfile", "config.yaml", "-n", cwd=tmp_path, check=False)
    assert done.returncode != 0 and "Traceback" not in done.stdout + done.stderr
    assert (
        "results/data/labels.json is not valid JSON" in done.stdout
        and "delete it (rm results/data/labels.json)" in done.stdout
    )


def test_braces_in_every_string_a_user_sets_reach_the_jobs_as_written(tmp_path, tiny_model_dir, imbalanced_rows):
    (tmp_path / "m{x}").symlink_to(tiny_model_dir)
    write_xlsx(tmp_path / RAW, imbalanced_rows)
    write_xlsx(tmp_path / "-new rows.xlsx", imbalanced_rows.head(3))  # a path an option parser would misread
    braced = {
        "data": {"raw": RAW, "text_column": "t{x}", "label_column": "{name}", "keep_columns": ["id{x}", "{preset}"],
                 "rename": {"a{x}": "b{x}"}, "sheet": "{x}"},
        "model": {"checkpoint": "m{x}"},
        "lora": {"target_modules": ["q{x}", "{preset}"]},
        "train": {"gpus": 0, "accelerate_args": ["--x={x}"]},
        "presets": {"ce": {"loss": "ce"}},
        "binary": {"positive": ["{x}"]},
        "direct": {"prompt": "{{x}} {text}", "answer_prefix": "{x}"},
        "predict": {"files": {"new": "-new rows.xlsx"}, "text_column": "{name}", "sheet": "s{x}"},
        "evaluate": {"files": {"ev": RAW}, "sheet": "{file}"},
        "demo": {"find_links": "f{x}"},
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(braced))
    plan = snakemake("--configfile", "config.yaml", "-n", "-p", cwd=tmp_path).stdout
    predict = next(line for line in plan.splitlines() if "predict.py" in line)
    assert "--text-column='{name}'" in predict and "--checkpoint='m{x}'" in predict
    assert '--keep-columns \'["id{x}", "{preset}"]\'' in plan and '"target_modules": ["q{x}", "{preset}"]' in plan
    assert '"answer_prefix": "{x}"' in plan and '"accelerate_args": ["--x={x}"]' in plan


def test_a_new_rows_path_starting_with_a_dash_reaches_predict_as_its_input(workflow_run):
    import shlex
    import sys

    from conftest import REPO

    shutil.copy(workflow_run / NEW_ROWS, workflow_run / "-new.xlsx")
    config = yaml.safe_load((workflow_run / "config.yaml").read_text())
    config["predict"]["files"] = {"dash": "-new.xlsx"}
    (workflow_run / "dash.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake("results/predictions/dash.xlsx", "--configfile", "dash.yaml", "-n", "-p", cwd=workflow_run).stdout
    command = next(line for line in plan.splitlines() if "predict.py" in line).split("predict.py ")[1]
    sys.path.insert(0, str(REPO / "workflow/scripts"))
    from predict import build_parser

    args = build_parser().parse_args(shlex.split(command.split(" > ")[0]))
    assert args.input == "-new.xlsx"


def test_duplicate_keys_and_alias_bombs_stop_the_dry_run_naming_the_file(tmp_path, tiny_model_dir):
    config = tiny_config(tiny_model_dir)
    del config["predict"]
    text = yaml.safe_dump(config)
    (tmp_path / "twice.yaml").write_text(text + "train:\n  gpus: 0\n")
    done = snakemake("--configfile", "twice.yaml", "-n", cwd=tmp_path, check=False)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row == "train:")
    assert done.returncode != 0 and f"key 'train' appears twice in one mapping, on lines {line} and" in done.stdout
    bomb = ["demo:", "  data:", "    l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"    l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    (tmp_path / "bomb.yaml").write_text(text + "\n".join(bomb) + "\n")
    done = snakemake("--configfile", "bomb.yaml", "-n", cwd=tmp_path, check=False)
    assert done.returncode != 0 and "its aliases (*name) expand to over 100,000 values" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_the_longest_prompt_fits_the_zero_shot_jobs_command_line(tmp_path, tiny_model_dir, imbalanced_rows):
    config = tiny_config(tiny_model_dir)
    del config["predict"]
    write_xlsx(tmp_path / RAW, imbalanced_rows)
    # The worst case: every character written as six bytes (a JSON escape) on the command line.
    config["direct"] = {"prompt": "{text}" + "\x01" * (16384 - 6), "answer_prefix": "\x01" * 1000}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake("results/baselines/direct/metrics.json", "--configfile", "config.yaml", "-n", "-p", cwd=tmp_path)
    command = next(line for line in plan.stdout.splitlines() if "baseline_direct.py" in line)
    assert 100_000 < len(command.encode()) < 128 * 1024  # one argument of bash -c: Linux takes 128 KiB


def test_a_scripts_message_reaches_snakemakes_console(tmp_path, tiny_model_dir, imbalanced_rows):
    config = tiny_config(tiny_model_dir)
    del config["predict"]
    config["data"]["text_column"] = "正文"
    write_xlsx(tmp_path / RAW, imbalanced_rows)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = snakemake(
        "results/data/labels.json", "--configfile", "config.yaml", "--cores", "1", cwd=tmp_path, check=False
    )
    assert done.returncode != 0
    assert "missing column(s) ['正文']" in done.stdout + done.stderr


def test_local_profile_plans_the_same_jobs(workflow_run):
    from conftest import REPO

    plan = snakemake("--profile", REPO / "workflow/profiles/local", *RETRAIN_PLAN, cwd=workflow_run).stdout
    jobs = dict(line.split() for line in plan.splitlines() if len(line.split()) == 2 and line.split()[1].isdigit())
    assert jobs["train"] == jobs["evaluate"] == jobs["binary_test"] == str(len(PRESETS)) and jobs["report"] == "1"


def test_slurm_profile_sends_gpu_jobs_to_the_gpu_partition_with_one_task(workflow_run):
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install -r envs/requirements-slurm.txt")
    from conftest import REPO

    config = yaml.safe_load((workflow_run / "config.yaml").read_text())
    config["train"]["gpus"] = 2
    (workflow_run / "gpus.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake(
        "--profile",
        REPO / "workflow/profiles/slurm",
        "--configfile",
        "gpus.yaml",
        "-n",
        "--forcerun",
        "extract_labels",
        cwd=workflow_run,
    ).stdout
    jobs = {}
    for block in plan.split("rule ")[1:]:
        resources = re.search(r"resources: (.*)", block)
        if resources:
            jobs.setdefault(block.split(":", 1)[0], dict(kv.split("=", 1) for kv in resources.group(1).split(", ")))
    assert jobs["train"]["gpu"] == "2" and jobs["train"]["slurm_partition"] == "gpu"
    assert jobs["train"]["tasks_per_gpu"] == "0"  # the job starts its own processes: no task per GPU
    assert jobs["train"]["nodes"] == "1"  # all of a job's GPUs on one node
    assert jobs["evaluate"]["gpu"] == "2" and jobs["extract_labels"]["slurm_partition"] == "cpu"
    assert "gpu" not in jobs["extract_labels"] and "No such file" not in plan


@pytest.mark.parametrize("cpu_threads", [None, 4])
def test_slurm_gpu_jobs_ask_for_cpu_threads_not_the_submitting_nodes_cores(workflow_run, cpu_threads):
    """On a 64-core login node the default profile's `cores: all` is 64: a training asks Slurm for
    train.cpu_threads, else 8, and with train.gpus left to auto, one GPU."""
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install -r envs/requirements-slurm.txt")
    from conftest import REPO

    config = yaml.safe_load((workflow_run / "config.yaml").read_text())
    del config["train"]["gpus"]
    config["train"]["cpu_threads"] = cpu_threads
    (workflow_run / "auto.yaml").write_text(yaml.safe_dump(config))
    profile = ("--profile", REPO / "workflow/profiles/slurm", "--cores", "64")
    done = snakemake(*profile, "-n", "--forcerun", "extract_labels", "--configfile", "auto.yaml", cwd=workflow_run)
    planned = re.findall(
        r"^rule (train|evaluate):\n(?:    .*\n)*?    threads: (\d+)\n    resources: .*\bgpu=(\d)", done.stdout, re.M
    )
    assert planned and set(planned) == {("train", str(cpu_threads or 8), "1"), ("evaluate", str(cpu_threads or 8), "1")}
    assert "from the cluster's scheduler" in done.stderr


def test_production_example_config_plans_every_stage(tmp_path, tiny_model_dir, imbalanced_rows):
    from conftest import REPO

    config = yaml.safe_load((REPO / "config/examples/qwen3-1.7b-4gpu.yaml").read_text(encoding="utf-8"))
    config["model"]["checkpoint"] = str(tiny_model_dir)  # the example's folder exists only on a GPU box
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    write_xlsx(tmp_path / config["data"]["raw"], imbalanced_rows.rename(columns={"text": "文本", "label": "标签"}))
    plan = snakemake(
        "--configfile", "config.yaml", "-n", "--quiet", "rules", "--resources", "gpu=4", cwd=tmp_path
    ).stdout
    jobs = dict(line.split() for line in plan.splitlines() if len(line.split()) == 2 and line.split()[1].isdigit())
    # every preset and the search's first stage, each once per seed (the second stage is planned after the
    # first); gamma 1 and 2 at alpha 0.25 are the presets mild and moderate, whose runs the search reuses
    trainings = (len(config["presets"]) + len(config["tune"]["gammas"]) - 2) * len(config["train"]["seeds"])
    assert jobs["train"] == jobs["evaluate"] == str(trainings) == "27" and "fetch_demo_model" not in jobs
    assert jobs["tune_gamma"] == "1" and jobs["tuned"] == str(len(config["train"]["seeds"]))


HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>=SUM(A1)'


@pytest.fixture(scope="module")
def hostile_report(workflow_run, tmp_path_factory):
    """The report rebuilt after the most confident error of every preset became a hostile text."""
    from focalcls.core.spreadsheets import read_table

    work = tmp_path_factory.mktemp("hostile") / "copy"
    shutil.copytree(workflow_run, work, symlinks=True)
    for preset in PRESETS:  # whichever preset is best, its most confident error is this row
        path = work / f"results/presets/{preset}/eval/predictions.xlsx"
        frame = read_table(path)
        frame.loc[0, "text"] = HOSTILE
        frame.loc[0, "true_label"] = next(x for x in frame.true_label.unique() if x != frame.predicted_label[0])
        frame.loc[0, "confidence"] = "1.0"
        write_xlsx(path, frame)
    # No ensembles: they check that a preset's predictions hold the test split's rows, which these no longer do.
    config = yaml.safe_load((work / "config.yaml").read_text())
    (work / "hostile.yaml").write_text(yaml.safe_dump({**config, "ensembles": {"seeds": False, "tfidf": False}}))
    # As docs/gpu-box.md writes it: no --cores (the default workflow profile gives every core).
    snakemake("results/report.html", "--configfile", "hostile.yaml", cwd=work)
    return work / "results/report.html"


def test_report_shows_hostile_texts_as_text(hostile_report):
    html = hostile_report.read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;=SUM(A1)" in html


def test_report_headline_compares_with_ce_in_words(workflow_run):
    html = (workflow_run / "results/report.html").read_text(encoding="utf-8")
    top = html[html.index('<section id="headline">') : html.index('<section id="data">')]
    labels = load(workflow_run, "results/data/labels.json")
    metrics = {p: load(workflow_run, f"results/presets/{p}/eval/metrics.json") for p in PRESETS}
    # The blends with TF-IDF are chosen from too, after the presets (one seed: no seeds' average).
    metrics |= {f"{p}+tfidf": load(workflow_run, f"results/ensembles/{p}+tfidf/metrics.json") for p in PRESETS}
    best = max(metrics, key=lambda p: (metrics[p]["val"]["macro_f1"], -list(metrics).index(p)))  # ties: first
    assert f"Use <strong>{best}</strong>" in top and f"<strong>{metrics[best]['macro_f1']:.3f}</strong>" in top
    if best != "ce":
        delta = metrics[best]["macro_f1"] - metrics["ce"]["macro_f1"]
        against_ce = top[top.index(f"Against ce, {best} is") :].split("</li>")[0]
        assert f"by {delta:+.3f}" in against_ce or "level on macro-F1" in against_ce
        assert "95% interval" in against_ce
    else:
        assert "no focal-loss preset beat it" in top
    assert "Against tfidf" in top and "ROC" in html and all(label in html for label in labels)


CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="no headless browser: apt-get install chromium chromium-driver (.ci/run does)",
)
def test_report_renders_in_a_real_browser(hostile_report):
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # No network here: the background-networking flags keep Chromium from dialling out at start.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(hostile_report.as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0]);"
        )
        assert len(images) >= 6 and all(loaded for _, loaded in images), images
        hardest = driver.find_element(By.ID, "hardest").text
        assert HOSTILE in hardest  # shown as text, not run
        table = driver.find_element(By.CSS_SELECTOR, "table.sortable")
        column = [th.text for th in table.find_elements(By.TAG_NAME, "th")].index("macro f1")

        def values():
            return [
                float(row.find_elements(By.TAG_NAME, "td")[column].text)
                for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")
            ]

        table.find_elements(By.TAG_NAME, "th")[column].click()
        assert values() == sorted(values())
        table.find_elements(By.TAG_NAME, "th")[column].click()
        assert values() == sorted(values(), reverse=True)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        with pytest.raises(NoAlertPresentException):
            _ = driver.switch_to.alert  # the hostile text's alert() never ran
    finally:
        driver.quit()


def test_snakemake_report_archive_holds_the_key_outputs(workflow_run, tmp_path):
    import zipfile

    snakemake("--configfile", "config.yaml", "--report", tmp_path / "report.zip", cwd=workflow_run)
    with zipfile.ZipFile(tmp_path / "report.zip") as archive:
        names = [n.rsplit("/", 1)[-1] for n in archive.namelist()]
        page = archive.read(next(n for n in archive.namelist() if n.count("/") == 1 and n.endswith("report.html")))
    # eval, binary and the blend with TF-IDF per preset (one seed), two baselines
    assert names.count("metrics.json") == 3 * len(PRESETS) + 2
    assert {"report.html", "confusion.csv", "train_log.csv", "new.xlsx"} <= set(names)
    assert "rarest third of the classes" in page.decode("utf-8")  # a caption from workflow/report/


def test_a_failed_job_leaves_nothing_complete_and_the_rerun_finishes_it(workflow_run, tmp_path):

    work, model = tmp_path / "copy", tmp_path / "model"
    shutil.copytree(workflow_run, work, symlinks=True)
    shutil.copytree(yaml.safe_load((work / "config.yaml").read_text())["model"]["checkpoint"], model)
    config = yaml.safe_load((work / "config.yaml").read_text())
    config["model"]["checkpoint"] = str(model)
    config["presets"]["extra"] = {"loss": "focal", "form": "softmax", "gamma": 1.0}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    weights = (model / "model.safetensors").read_bytes()
    (model / "model.safetensors").write_bytes(weights[: len(weights) // 2])  # a disk that filled up while copying

    target = "results/presets/extra/train_summary.json"
    failed = snakemake(target, "--configfile", "config.yaml", "--cores", "2", cwd=work, check=False)
    assert failed.returncode != 0
    assert not (work / "results/presets/extra/adapter").exists()
    assert not (work / "results/presets/extra/train_summary.json").exists()
    assert "safetensors" in (work / "results/logs/train/extra.log").read_text().lower()  # the log says why

    (model / "model.safetensors").write_bytes(weights)
    snakemake(target, "--configfile", "config.yaml", "--cores", "2", "--rerun-incomplete", cwd=work)
    assert json.loads((work / target).read_text())["preset"] == "extra"


def test_a_killed_run_resumes_its_training_from_the_last_checkpoint(workflow_run, tmp_path):
    import subprocess
    import sys
    import time

    import psutil

    from conftest import REPO

    work = tmp_path / "copy"
    shutil.copytree(workflow_run, work, symlinks=True)
    config = yaml.safe_load((work / "config.yaml").read_text())
    config["train"].update({"epochs": 20, "eval_steps": 2})
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    target = "results/presets/moderate/train_summary.json"
    argv = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        target,
        "--configfile",
        "config.yaml",
        "--cores",
        "2",
    ]
    run = subprocess.Popen(argv, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = work / "results/presets/moderate/checkpoints"
    deadline = time.time() + 300
    while not list(checkpoints.glob("checkpoint-*/trainer_state.json")):
        assert run.poll() is None and time.time() < deadline, "training ended before its first checkpoint"
        time.sleep(0.05)
    family = psutil.Process(run.pid)
    for process in [family, *family.children(recursive=True)]:  # the whole run dies at once, as on a power cut
        process.kill()
    run.wait()
    assert not (work / target).exists() and not (work / "results/presets/moderate/adapter").exists()

    # What docs/using-results.md tells a user after a kill: unlock, then run again.
    snakemake("--unlock", "--configfile", "config.yaml", cwd=work)
    snakemake(target, "--configfile", "config.yaml", "--cores", "2", "--rerun-incomplete", cwd=work)
    summary = json.loads((work / target).read_text())
    resumed_at = int(summary["resumed_from"].rsplit("-", 1)[1])
    assert summary["steps"] > resumed_at and (work / "results/presets/moderate/adapter").is_dir()


ITS_ORDER = ["health", "sports", "tech", "finance"]  # an adapter trained elsewhere: its head's own label order


def own_tool_labels(checkpoint, folder, texts) -> list[str]:
    """What the tool that wrote `folder` predicts: its classifier with its label order, the adapter loaded by peft."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = AutoModelForSequenceClassification.from_pretrained(
        str(checkpoint), num_labels=len(ITS_ORDER), id2label=dict(enumerate(ITS_ORDER))
    )
    model = PeftModel.from_pretrained(base, str(folder)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    with torch.no_grad():
        logits = model(**tokenizer(texts, truncation=True, max_length=16, padding=True, return_tensors="pt")).logits
    return [ITS_ORDER[i] for i in logits.argmax(dim=1).tolist()]


@pytest.fixture(scope="module")
def scored_elsewhere(workflow_run, tmp_path_factory, imbalanced_rows, tiny_model_dir) -> dict:
    """A copy of the run given, in one config, a new labelled file to score (evaluate.files) and an adapter
    trained elsewhere (evaluate.adapters) to score, report and predict with; the plan made before running it."""
    from helpers import adapter_trained_elsewhere

    work = tmp_path_factory.mktemp("scored") / "w"
    shutil.copytree(workflow_run, work, symlinks=True)
    config = yaml.safe_load((work / "config.yaml").read_text())
    fresh = imbalanced_rows.assign(text=imbalanced_rows["text"] + "（新）").head(40)
    # Three texts the model trained on and two it was tested on: only the first three are dropped.
    trained = pd.read_excel(work / "results/data/train.xlsx", dtype=str).head(3)
    tested = pd.read_excel(work / "results/data/test.xlsx", dtype=str).head(2)
    seen = pd.concat([trained, tested])[["id", "text", "label"]]
    write_xlsx(work / "input/new labelled.xlsx", pd.concat([fresh, seen], ignore_index=True))
    adapter_trained_elsewhere(tiny_model_dir, work / "best_model", ITS_ORDER, with_config=False)
    config["evaluate"] = {
        "files": {"fresh": "input/new labelled.xlsx"},
        "adapters": {"old": {"folder": "best_model", "labels": ITS_ORDER}},
    }
    config["predict"]["preset"] = "old"
    (work / "evaluate.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake("--configfile", "evaluate.yaml", "-n", "--quiet", "rules", cwd=work).stdout
    snakemake("--configfile", "evaluate.yaml", "--cores", "2", cwd=work)
    return {"work": work, "plan": plan, "fresh": fresh, "seen": seen}


def test_a_new_labelled_file_is_scored_by_every_preset_and_baseline_and_nothing_retrains(scored_elsewhere):
    work, plan = scored_elsewhere["work"], scored_elsewhere["plan"]
    assert "train " not in plan and "evaluate_file" in plan and "prepare_evaluation" in plan
    # The baselines score the file alone: their own val/test evaluations do not run again.
    assert "evaluate_file_direct" in plan and "evaluate_file_tfidf" in plan and "baseline_" not in plan
    cleaning = load(work, "results/evaluations/fresh/cleaning.json")
    train_texts = set(pd.read_excel(work / "results/data/train.xlsx")["text"])
    seen = scored_elsewhere["seen"]
    assert cleaning["dropped"]["also in the training file"] == sum(t in train_texts for t in seen["text"]) == 3
    for preset in (*PRESETS, "old"):
        metrics = load(work, f"results/evaluations/fresh/{preset}/metrics.json")
        assert metrics["n"] == cleaning["rows_kept"] == len(pd.read_excel(work / "results/evaluations/fresh/rows.xlsx"))
        assert "val" not in metrics and metrics["preset"] == preset
    for baseline in ("tfidf", "direct"):
        metrics = load(work, f"results/evaluations/fresh/{baseline}/metrics.json")
        assert metrics["n"] == cleaning["rows_kept"] and "val" not in metrics and metrics["preset"] == baseline
        predictions = pd.read_excel(work / f"results/evaluations/fresh/{baseline}/predictions.xlsx")
        assert len(predictions) == metrics["n"] and "id" in predictions.columns
    html = (work / "results/report.html").read_text(encoding="utf-8")
    assert "New labelled files" in html and '<td class="text">fresh</td><td class="text">direct (baseline)</td>' in html
    assert '<td class="text">fresh</td><td class="text">tfidf (baseline)</td>' in html
    # A changed file reruns its evaluations (and the report) only.
    write_xlsx(work / "input/new labelled.xlsx", scored_elsewhere["fresh"].head(30))
    plan = snakemake("--configfile", "evaluate.yaml", "-n", "--quiet", "rules", cwd=work).stdout
    assert "train " not in plan and "evaluate " not in plan and "prepare_evaluation" in plan
    assert "evaluate_file_direct" in plan and "baseline_" not in plan


def test_an_adapter_trained_elsewhere_is_scored_reported_and_predicted_with(scored_elsewhere, tiny_model_dir):
    work, plan = scored_elsewhere["work"], scored_elsewhere["plan"]
    assert any(line.split() == ["import_adapter", "1"] for line in plan.splitlines())
    labels = load(work, "results/data/labels.json")
    assert labels != ITS_ORDER and load(work, "results/presets/old/eval/metrics.json")["preset"] == "old"
    scored = pd.read_excel(work / "results/presets/old/eval/predictions.xlsx")
    expected = own_tool_labels(tiny_model_dir, work / "best_model", list(scored["text"]))
    assert list(scored["predicted_label"]) == expected and len(set(expected)) > 1  # mapped by name, not position
    html = (work / "results/report.html").read_text(encoding="utf-8")
    assert '<tr><td class="text">old</td>' in html and "trained elsewhere (evaluate.adapters)" in html
    versus = html[html.index("Each model against ce") :]
    assert '<tr><td class="text">old</td>' in versus[: versus.index("</table>")]
    assert "with preset old" in (work / "results/logs/predict/new.log").read_text(encoding="utf-8")
    assert set(pd.read_excel(work / "results/predictions/new.xlsx")["predicted_label"]) <= set(labels)


def test_a_labelled_file_with_a_label_the_model_never_saw_is_refused(workflow_run, tmp_path, imbalanced_rows):
    work = tmp_path / "w"
    shutil.copytree(workflow_run, work, symlinks=True)
    config = yaml.safe_load((work / "config.yaml").read_text())
    odd = imbalanced_rows.head(6).assign(label=["体育", "体育", "天气", "天气", "天气", "sports"])
    write_xlsx(work / "odd.xlsx", odd)
    config["evaluate"] = {"files": {"odd": "odd.xlsx"}}
    (work / "evaluate.yaml").write_text(yaml.safe_dump(config))
    done = snakemake(
        "results/evaluations/odd/ce/metrics.json",
        "--configfile",
        "evaluate.yaml",
        "--cores",
        "1",
        cwd=work,
        check=False,
    )
    log = (work / "results/logs/prepare_evaluation/odd.log").read_text(encoding="utf-8")
    assert done.returncode != 0 and "Traceback" not in log
    assert "labels ['体育', '天气'] (体育: 2 rows, 天气: 3 rows) are not among the model's labels" in log
    assert "data.rename" in log and not (work / "results/evaluations/odd/rows.xlsx").exists()


@pytest.mark.parametrize(
    "spoil, entry, message",
    [
        (lambda f: (f / "adapter_config.json").unlink(), {}, "has no adapter_config.json, so it is not a PEFT adapter"),
        (lambda f: None, {"labels": ITS_ORDER[:3]}, "the head has 4 outputs but the adapter names 3 labels"),
        (lambda f: None, {"labels": [*ITS_ORDER[:3], "weather"]}, "the adapter lacks ['finance'] and has ['weather']"),
    ],
)
def test_a_bad_adapter_trained_elsewhere_stops_the_dry_run(tmp_path, tiny_model_dir, spoil, entry, message):
    from helpers import adapter_trained_elsewhere

    spoil(adapter_trained_elsewhere(tiny_model_dir, tmp_path / "best_model", ITS_ORDER, with_config=False))
    config = tiny_config(tiny_model_dir)
    del config["predict"]
    config["data"]["labels"] = ["sports", "finance", "tech", "health"]  # known at load time: names are checked then
    config["evaluate"] = {"adapters": {"old": {"folder": "best_model", "labels": ITS_ORDER, **entry}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = snakemake("--configfile", "config.yaml", "-n", cwd=tmp_path, check=False)
    out = done.stdout + done.stderr
    assert done.returncode != 0 and message in out and "evaluate.adapters.old ('best_model')" in out
    assert "Traceback" not in out and not (tmp_path / "results").exists()
