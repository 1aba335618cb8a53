"""train.report_to: the Trainer's curves in TensorBoard and MLflow, and one MLflow run per preset x seed that
also holds the run's test metrics, settings and commit; read back with MLflow's own client. The tracked run is
test_workflow's shared one."""

import csv
import json
import re
import shutil

import pytest
import yaml

import test_workflow
from focalcls.core.errors import UserError
from focalcls.train import tracking
from helpers import run_bench, snakemake

pytestmark = pytest.mark.slow

PRESET = "moderate"


workflow_run = test_workflow.workflow_run  # the shared tiny run, a fixture of this module too


@pytest.fixture(scope="module")
def tracked_run(workflow_run):
    """The shared tiny run (test_workflow.shared_config): its two presets trained with report_to mlflow and
    tensorboard into the default store, through the report."""
    if not test_workflow.TRACKED:
        pytest.skip("pip install -r envs/requirements-tracking.txt")
    return workflow_run


def mlflow_client(store):
    """MLflow's own client on the file store in the folder `store`, opened as the tracking check opens it."""
    from bench.quality.tracking_check import mlflow_client as client  # the repository root, on python -m pytest's path

    return client(store.as_uri())


def test_one_mlflow_run_holds_the_curve_the_test_metrics_and_the_settings(tracked_run):
    work = tracked_run
    run_id = json.loads((work / "results/tracking/mlflow_runs.json").read_text())[PRESET]
    summary = json.loads((work / f"results/presets/{PRESET}/train_summary.json").read_text())
    assert summary["mlflow_run_id"] == run_id  # the training's own run, not one made afterwards
    client = mlflow_client(work / tracking.DEFAULT_STORE)
    run = client.get_run(run_id)
    assert run.info.run_name == PRESET and run.data.tags["focalcls.commit"]
    with open(work / f"results/presets/{PRESET}/train_log.csv", encoding="utf-8") as rows:
        curve = [(int(row["step"]), float(row["val_macro_f1"])) for row in csv.DictReader(rows) if row["val_macro_f1"]]
    logged = [(point.step, point.value) for point in client.get_metric_history(run_id, "eval_macro_f1")]
    assert logged == pytest.approx(curve) and len(curve) > 1
    metrics = json.loads((work / f"results/presets/{PRESET}/eval/metrics.json").read_text())
    for key in ("accuracy", "macro_f1", "minority_f1", "balanced_accuracy"):
        assert run.data.metrics[f"test_{key}"] == pytest.approx(metrics[key])
    assert run.data.params["preset.loss"] == "focal" and run.data.params["preset.gamma"] == "2.0"
    assert list((work / f"results/presets/{PRESET}/tensorboard").glob("events.out.tfevents.*"))


def test_the_tracking_check_compares_every_curve_point_and_test_metric(tracked_run, tmp_path):
    results = tracked_run / "results"
    with open(results / f"presets/{PRESET}/train_log.csv", encoding="utf-8") as rows:
        cells = sum(bool(row[column]) for row in csv.DictReader(rows) for column in tracking.CURVE)
    done = run_bench("quality.tracking_check", "--results", results, cwd=tmp_path)
    assert f"{cells} curve points compared, max |MLflow - train_log.csv| 0\n" in done.stdout
    assert re.search(r"^  macro_f1 +(\S+) +\1$", done.stdout, re.M) and done.stdout.endswith("2 of 2 runs match\n")


def test_the_tracking_check_names_a_changed_curve_point_and_test_metric(tracked_run, tmp_path):
    step = changed_copy(tracked_run / "results", tmp_path / "results")
    failed = run_bench("quality.tracking_check", "--results", tmp_path / "results", cwd=tmp_path, check=False)
    assert failed.returncode == 1 and failed.stdout.endswith("1 of 2 runs match\n")
    assert f"MISMATCH loss at step {step}: MLflow" in failed.stdout and "MISMATCH test_macro_f1:" in failed.stdout


def changed_copy(results, copy) -> str:
    """The tracked run's MLflow store and every tracked preset's files copied, with PRESET's first training loss
    in train_log.csv and its test macro-F1 in metrics.json changed; returns the step of the changed loss."""
    for part in ("mlflow", "tracking"):
        shutil.copytree(results / part, copy / part)
    for name in json.loads((results / "tracking/mlflow_runs.json").read_text()):
        for part in ("train_summary.json", "eval/metrics.json", "train_log.csv"):
            (copy / f"presets/{name}/{part}").parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(results / f"presets/{name}/{part}", copy / f"presets/{name}/{part}")
    run = f"presets/{PRESET}"
    with open(results / run / "train_log.csv", encoding="utf-8") as rows:
        log = list(csv.DictReader(rows))
    changed = next(row for row in log if row["train_loss"])
    changed["train_loss"] = str(float(changed["train_loss"]) + 0.5)
    with open(copy / run / "train_log.csv", "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(log[0]))
        writer.writeheader()
        writer.writerows(log)
    metrics = json.loads((results / run / "eval/metrics.json").read_text())
    (copy / run / "eval/metrics.json").write_text(json.dumps({**metrics, "macro_f1": metrics["macro_f1"] + 0.01}))
    return changed["step"]


def test_changing_where_curves_go_retrains_nothing(tracked_run):
    config = yaml.safe_load((tracked_run / "config.yaml").read_text())
    config["train"]["report_to"] = "none"
    config["tracking"] = {"experiment": "another"}
    (tracked_run / "untracked.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake("--configfile", "untracked.yaml", "-n", "--quiet", "rules", cwd=tracked_run).stdout
    assert "train" not in plan.split() and "evaluate" not in plan.split()


def test_a_run_trained_before_tracking_was_on_gets_its_curve_from_train_log(tracked_run, tmp_path):
    """The track rule on a preset whose training logged nowhere: a run made from train_log.csv, found again."""
    summary = tracked_run / f"results/presets/{PRESET}/train_summary.json"
    untracked = tmp_path / "train_summary.json"
    untracked.write_text(json.dumps({**json.loads(summary.read_text()), "mlflow_run_id": None}))
    run = {
        "summary": str(untracked),
        "log": str(tracked_run / f"results/presets/{PRESET}/train_log.csv"),
        "metrics": str(tracked_run / f"results/presets/{PRESET}/eval/metrics.json"),
        "settings": {"loss": "ce"},
        "seed": 42,
    }
    settings = {"report_to": ["mlflow"], "uri": (tmp_path / "store").as_uri(), "default_store": True}
    settings["experiment"] = "focalcls"
    first = tracking.track_runs(settings, {"ce": run}, commit="abc", report="report.html")
    assert tracking.track_runs(settings, {"ce": run}, commit="abc", report="report.html") == first
    client = mlflow_client(tmp_path / "store")
    history = client.get_metric_history(first["ce"], "eval_loss")
    assert len(history) > 1 and client.get_run(first["ce"]).data.metrics["test_macro_f1"] > 0


def test_a_missing_tracking_package_is_one_line_naming_the_requirements_file(monkeypatch):
    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(
        UserError,
        match=r"train.report_to mlflow needs the mlflow package: pip install -r envs/requirements-tracking.txt",
    ):
        tracking.check_packages(["mlflow"])
    tracking.check_packages(["wandb"])  # the Trainer names the packages of the integrations it ships itself


def find_experiment_after_a_pause(settings: dict, barrier) -> None:
    """One job's use_store, with a pause between MLflow's check that the name is free and its write of the new
    experiment: without the lock every job that passed the check makes an experiment of its own."""
    import time

    from mlflow.store.tracking.file_store import FileStore

    check = FileStore._validate_experiment_does_not_exist

    def check_then_pause(self, name):
        check(self, name)
        time.sleep(0.2)

    FileStore._validate_experiment_does_not_exist = check_then_pause
    barrier.wait()
    tracking.use_store(settings)


def test_trainings_starting_together_share_one_experiment(tmp_path):
    """Four trainings of a 4-GPU box (or a cluster's) start at once, each finding or making the experiment."""
    import multiprocessing

    if not test_workflow.TRACKED:
        pytest.skip("pip install -r envs/requirements-tracking.txt")
    import mlflow  # noqa: F401  (imported once, before the processes fork)

    store = tmp_path / "mlflow"
    settings = {"uri": store.as_uri(), "default_store": True, "experiment": "focalcls"}
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(4, timeout=60)  # a job that fails before it does not hold the others for ever
    jobs = [context.Process(target=find_experiment_after_a_pause, args=(settings, barrier)) for _ in range(4)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(timeout=60)
        job.kill()
    assert [job.exitcode for job in jobs] == [0] * 4
    named = [meta for meta in store.glob("*/meta.yaml") if "name: focalcls" in meta.read_text()]
    assert len(named) == 1, f"{len(named)} experiments named focalcls"
    # Found, not made, by a later job: no lock then; a server or database store never takes one.
    assert tracking.use_store(settings)[1] == named[0].parent.name


def test_only_a_file_store_is_locked_while_the_experiment_is_made(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for uri in ("http://tracking:5000", "sqlite:///x.db", "databricks"):
        with tracking.experiment_lock(uri):
            pass
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "store").mkdir()
    for uri in ((tmp_path / "store").as_uri(), "store"):
        with tracking.experiment_lock(uri):
            assert (tmp_path / "store/.experiment.lock").is_file()
