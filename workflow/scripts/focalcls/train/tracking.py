"""Training runs sent where teams track them. train.report_to goes to the Trainer as its report_to; with
MLflow, one MLflow run per preset x seed holds the Trainer's curve, then (the track rule, after the report)
the run's test metrics, its preset's settings and the commit.

The settings reach train.py in the environment (ENV), not in the train rule's params: they never change an
adapter, and a changed param would retrain every finished preset."""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from focalcls.core.errors import UserError

ENV = "FOCALCLS_TRACKING"
REQUIREMENTS = "envs/requirements-tracking.txt"
DEFAULT_STORE = "results/mlflow"
# The integrations whose packages envs/requirements-tracking.txt installs, by the module each imports.
PACKAGES = {"tensorboard": "tensorboard", "mlflow": "mlflow"}
NOT_TRACKED = {"report_to": []}
RUN_ID_FILE = "mlflow_run_id"  # in the checkpoints folder: a resumed training goes on in the same run
# train_log.csv's columns as the Trainer names them in its own logs, for runs trained before tracking was on.
CURVE = {"train_loss": "loss", "lr": "learning_rate", "val_loss": "eval_loss", "val_macro_f1": "eval_macro_f1"}
CURVE["val_minority_f1"] = "eval_minority_f1"


def integrations(report_to: str | list[str]) -> list[str]:
    """train.report_to as a list of the Trainer's integrations (none: empty)."""
    if isinstance(report_to, str):
        return [] if report_to == "none" else [report_to]
    return list(report_to)


def tracking_settings(config: Mapping) -> dict:
    """What training and the track rule need: the integrations, the MLflow store (an absolute URI: a
    cluster job's working directory need not be the submitting one's) and the experiment."""
    uri = config["tracking"]["uri"] or Path(DEFAULT_STORE).resolve().as_uri()
    return {
        "report_to": integrations(config["train"]["report_to"]),
        "uri": uri,
        "default_store": config["tracking"]["uri"] is None,
        "experiment": config["tracking"]["experiment"],
    }


def check_packages(report_to: list[str]) -> None:
    """A one-line stop, before any job, where an integration's package is missing."""
    for name in report_to:
        module = PACKAGES.get(name)
        if module and importlib.util.find_spec(module) is None:
            raise UserError(f"train.report_to {name} needs the {module} package: pip install -r {REQUIREMENTS}")


def from_environment() -> dict:
    """The settings the workflow exported for its jobs; none when a script runs on its own."""
    text = os.environ.get(ENV)
    return json.loads(text) if text else NOT_TRACKED


def use_store(settings: Mapping):
    """mlflow, pointed at the settings' store and experiment; returns (the module, the experiment's id)."""
    if settings["default_store"]:
        # MLflow 3 asks for this opt-in before it writes a file store: the default here, chosen so that
        # concurrent jobs each write their own run's files instead of locking one database.
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    import mlflow

    mlflow.set_tracking_uri(settings["uri"])
    new = mlflow.get_experiment_by_name(settings["experiment"]) is None  # the store made here if missing
    with experiment_lock(settings["uri"]) if new else contextlib.nullcontext():
        try:
            return mlflow, mlflow.set_experiment(settings["experiment"]).experiment_id
        except mlflow.exceptions.MlflowException:
            # A database or server store refuses a second experiment of one name: the job that lost finds
            # the other's.
            return mlflow, mlflow.get_experiment_by_name(settings["experiment"]).experiment_id


@contextlib.contextmanager
def experiment_lock(uri: str) -> Iterator[None]:
    """Held while a job makes the experiment in a file store, whose check for the name and write of the new
    experiment are two steps: trainings starting together (a 4-GPU box, a cluster) each made an experiment
    of the same name, their runs split between them, and the track rule failed on the runs of the one it did
    not find. A database or server store needs no lock; a file system without locks (Lustre mounted without
    flock) gets none, as before."""
    parsed = urlparse(uri)
    if not (parsed.scheme == "file" or (not parsed.scheme and uri != "databricks")):  # MLflow's file stores
        yield
        return
    path = Path(url2pathname(parsed.path)) / ".experiment.lock"  # MLflow reads only the folders in its store
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)  # read-only: a store that users share
    with contextlib.suppress(OSError):  # a file system without locks: none, as before
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the file closes, or its process dies
    try:
        yield
    finally:
        os.close(fd)


def tensorboard_folder(out_dir: Path) -> Path:
    """Where TensorBoard's curves of the run in out_dir go; set before the Trainer is built, whose
    callback reads TENSORBOARD_LOGGING_DIR then (else it writes under the checkpoints, removed at the end)."""
    folder = out_dir / "tensorboard"
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(folder)
    return folder


@contextlib.contextmanager
def tracked_training(
    settings: Mapping, *, out_dir: Path, checkpoints: Path, run: str, resumed: bool, main: bool
) -> Iterator[str | None]:
    """Around one training: TensorBoard's folder (tensorboard_folder, emptied for a fresh start) and the
    MLflow run the Trainer's callback logs into (the checkpoints' own run when `resumed`). Yields the
    MLflow run id, or None. Only the `main` process (rank 0) logs, as the Trainer's callbacks do."""
    if "tensorboard" in settings["report_to"] and not resumed:
        shutil.rmtree(tensorboard_folder(out_dir), ignore_errors=True)
    if "mlflow" not in settings["report_to"] or not main:
        yield None
        return
    mlflow, experiment = use_store(settings)
    stamp = checkpoints / RUN_ID_FILE
    run_id = stamp.read_text(encoding="utf-8") if resumed and stamp.exists() else None
    with mlflow.start_run(run_id=run_id, run_name=None if run_id else run, experiment_id=experiment) as active:
        stamp.write_text(active.info.run_id, encoding="utf-8")
        yield active.info.run_id


def track_runs(settings: Mapping, runs: Mapping[str, Mapping], *, commit: str, report: str) -> dict[str, str]:
    """Each run's test metrics, preset settings and the commit, logged to its MLflow run (the one its
    training logged to, else one made now from its train_log.csv); returns {run: MLflow run id}."""
    mlflow, experiment = use_store(settings)
    client = mlflow.MlflowClient()
    ids = {}
    for name, run in runs.items():
        summary = json.loads(Path(run["summary"]).read_text(encoding="utf-8"))
        run_id = summary.get("mlflow_run_id") or backfilled_run(client, experiment, name, run)
        if run_id not in ids.values():  # tuned copies its winner's training, and so its MLflow run
            metrics = json.loads(Path(run["metrics"]).read_text(encoding="utf-8"))
            with mlflow.start_run(run_id=run_id):
                mlflow.log_metrics({f"test_{k}": v for k, v in scalar_metrics(metrics).items()})
                mlflow.log_params({f"preset.{k}": v for k, v in run["settings"].items()} | {"seed": run["seed"]})
                mlflow.set_tags({"focalcls.run": name, "focalcls.commit": commit, "focalcls.report": report})
        ids[name] = run_id
    return ids


def scalar_metrics(metrics: Mapping) -> dict[str, float]:
    """metrics.json's scalar metrics (accuracy, macro_f1, ...), without the row count."""
    return {
        key: float(value)
        for key, value in metrics.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "n"
    }


def backfilled_run(client, experiment: str, name: str, run: Mapping) -> str:
    """The MLflow run of a training that ran without MLflow: its curve from train_log.csv, made once (the
    training's summary, hashed, finds it again on the next report)."""
    trained = hashlib.sha256(Path(run["summary"]).read_bytes()).hexdigest()
    found = client.search_runs([experiment], filter_string=f"tags.`focalcls.training` = '{trained}'", max_results=1)
    if found:
        return found[0].info.run_id
    created = client.create_run(experiment, run_name=name, tags={"focalcls.training": trained})
    with open(run["log"], encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            for column, metric in CURVE.items():
                if row[column]:
                    client.log_metric(created.info.run_id, metric, float(row[column]), step=int(row["step"]))
    client.set_terminated(created.info.run_id)
    return created.info.run_id
