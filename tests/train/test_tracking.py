"""train.report_to: the Trainer's curves in TensorBoard and MLflow, and one MLflow run per preset x seed that
also holds the run's test metrics, settings and commit; read back with MLflow's own client."""

import csv
import json
import os

import pytest
import yaml

from focalcls.core.errors import UserError
from focalcls.core.spreadsheets import write_xlsx
from focalcls.train import tracking
from helpers import snakemake
from test_workflow import RAW, tiny_config

pytestmark = pytest.mark.slow

PRESET = "moderate"


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory, imbalanced_rows, tiny_model_dir):
    """One preset trained with report_to mlflow and tensorboard into the default store, through the report."""
    pytest.importorskip("mlflow", reason="pip install -r envs/requirements-tracking.txt")
    work = tmp_path_factory.mktemp("tracked")
    write_xlsx(work / RAW, imbalanced_rows)
    config = tiny_config(tiny_model_dir)
    config["presets"] = {PRESET: config["presets"][PRESET]}
    config.update(predict={"files": {}}, baselines=["tfidf"])
    config["train"]["report_to"] = ["mlflow", "tensorboard"]
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake("--configfile", "config.yaml", "--cores", "2", cwd=work)
    return work


def mlflow_client(store):
    """MLflow's own client on the file store in the folder `store`."""
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 reads a file store only when asked to
    import mlflow

    return mlflow.MlflowClient(store.as_uri())


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
