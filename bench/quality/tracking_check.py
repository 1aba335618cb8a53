"""Does MLflow hold what the report shows? Each tracked run of a finished results folder (train.report_to mlflow),
read back with MLflow's own client: every point of its curves (loss, learning_rate, eval_loss, eval_macro_f1,
eval_minority_f1, by step) against the run's train_log.csv, which the report's training curves draw, and the
test metrics the track rule logged against the run's eval/metrics.json, which the report's tables show. Prints,
per run, the points compared, the largest difference and the test metrics side by side; exits 1 on any mismatch
(a point or a step on one side only, a value apart by more than --tolerance, a test metric missing).
    python -m bench.quality.tracking_check [--results results] [--uri URI] [--tolerance 1e-9]
--uri is the store the workflow wrote to (tracking.uri); by default the file store in <results>/mlflow.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from focalcls.train.tracking import CURVE, scalar_metrics

if TYPE_CHECKING:
    import mlflow


@dataclass
class RunCheck:
    """What one run's comparison found, within `tolerance`."""

    tolerance: float
    points: int = 0
    max_difference: float = 0.0
    problems: list[str] = field(default_factory=list)
    test_rows: list[tuple[str, float | None, float]] = field(default_factory=list)  # (metric, MLflow, metrics.json)


def mlflow_client(uri: str) -> mlflow.MlflowClient:
    """MLflow's own client on the store at `uri`."""
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 reads a file store only when asked to
    import mlflow

    return mlflow.MlflowClient(uri)


def log_curves(path: Path) -> dict[str, dict[int, list[float]]]:
    """train_log.csv's points as {MLflow metric name: {step: values}}; an empty cell is a point not logged."""
    curves: dict[str, dict[int, list[float]]] = {metric: {} for metric in CURVE.values()}
    with open(path, encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            for column, metric in CURVE.items():
                if row[column]:
                    curves[metric].setdefault(int(row["step"]), []).append(float(row[column]))
    return curves


def compare_curve(
    client: mlflow.MlflowClient, run_id: str, metric: str, points: dict[int, list[float]], check: RunCheck
) -> None:
    """Every point MLflow holds for `metric` against train_log.csv's at its step, and back: each side's every
    value must have its equal on the other (a resumed run logs the steps after its checkpoint twice to MLflow,
    where the log keeps them once; both copies are compared)."""
    logged: dict[int, list[float]] = {}
    for point in client.get_metric_history(run_id, metric):
        logged.setdefault(point.step, []).append(point.value)
    for side, steps in (("train_log.csv only", points.keys() - logged), ("MLflow only", logged.keys() - points)):
        if steps:
            check.problems.append(f"{metric}: steps {sorted(steps)} in {side}")
    for step in sorted(logged.keys() & points.keys()):
        check.points += len(logged[step])
        differences = [min(abs(v - o) for o in points[step]) for v in logged[step]]
        differences += [min(abs(v - o) for o in logged[step]) for v in points[step]]
        check.max_difference = max(check.max_difference, *differences)
        if max(differences) > check.tolerance:
            check.problems.append(f"{metric} at step {step}: MLflow {logged[step]} != train_log.csv {points[step]}")


def compare_test_metrics(logged: dict[str, float], metrics: dict, check: RunCheck) -> None:
    """The test_<name> metrics of the MLflow run against metrics.json's scalars."""
    for name, value in scalar_metrics(metrics).items():
        tracked = logged.get(f"test_{name}")
        check.test_rows.append((name, tracked, value))
        if tracked is None:
            check.problems.append(f"test_{name} missing from the MLflow run")
        elif abs(tracked - value) > check.tolerance:
            check.problems.append(f"test_{name}: {tracked!r} != {value!r}")


def check_run(client: mlflow.MlflowClient, run_id: str, folder: Path, tolerance: float) -> RunCheck:
    """One run's MLflow record against its folder's train_log.csv, train_summary.json and eval/metrics.json."""
    check = RunCheck(tolerance)
    summary = json.loads((folder / "train_summary.json").read_text(encoding="utf-8"))
    if summary.get("mlflow_run_id") not in (None, run_id):  # None: trained untracked, its run made from the log
        check.problems.append(f"train_summary.json names run {summary['mlflow_run_id']}, not {run_id}")
    for metric, points in log_curves(folder / "train_log.csv").items():
        compare_curve(client, run_id, metric, points, check)
    metrics = json.loads((folder / "eval/metrics.json").read_text(encoding="utf-8"))
    compare_test_metrics(client.get_run(run_id).data.metrics, metrics, check)
    return check


def print_check(name: str, run_id: str, check: RunCheck) -> None:
    difference = f"max |MLflow - train_log.csv| {check.max_difference:g}"
    print(f"{name} (MLflow run {run_id}): {check.points} curve points compared, {difference}")
    print(f"  {'test metric':<20} {'MLflow':>12} {'metrics.json':>12}")
    for metric, tracked, value in check.test_rows:
        shown = "missing" if tracked is None else f"{tracked:.6f}"
        print(f"  {metric:<20} {shown:>12} {value:>12.6f}")
    for problem in check.problems:
        print(f"  MISMATCH {problem}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", default="results", help="a finished results folder with tracking/mlflow_runs.json")
    p.add_argument("--uri", help="the MLflow tracking URI the runs went to (default: the file store <results>/mlflow)")
    p.add_argument("--tolerance", type=float, default=1e-9, help="largest difference counted as equal")
    args = p.parse_args()
    results = Path(args.results).resolve()
    listing = results / "tracking/mlflow_runs.json"
    if not listing.exists():
        sys.exit(f"{listing} not found: run the workflow with train.report_to mlflow first")
    client = mlflow_client(args.uri or (results / "mlflow").as_uri())
    runs = json.loads(listing.read_text(encoding="utf-8"))
    failed = 0
    for name, run_id in runs.items():
        check = check_run(client, run_id, results / "presets" / name, args.tolerance)
        print_check(name, run_id, check)
        failed += bool(check.problems)
    print(f"{len(runs) - failed} of {len(runs)} runs match")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
