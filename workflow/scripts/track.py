"""Each trained run's test metrics, preset settings and the commit, logged to its MLflow run once the
report is built (train.report_to mlflow): one MLflow run holds a preset x seed from curve to verdict.

Inputs: report, summaries, logs, metrics (one file per run, in the order of params.runs). Output: runs,
{run: MLflow run id}. Params: runs (name, settings, seed), tracking (focalcls.train.tracking.tracking_settings),
repo (the checkout, for its commit)."""

from pathlib import Path

from focalcls.core import cli
from focalcls.core.atomic import write_json
from focalcls.env.provenance import git_commit
from focalcls.train.tracking import track_runs


def main(rule) -> None:
    files = zip(rule.input.summaries, rule.input.logs, rule.input.metrics)
    runs = {
        run["name"]: {**run, "summary": summary, "log": log, "metrics": metrics}
        for run, (summary, log, metrics) in zip(rule.params.runs, files)
    }
    commit = git_commit(Path(rule.params.repo)) or "unknown (not a git checkout)"
    ids = track_runs(rule.params.tracking, runs, commit=commit, report=str(Path(rule.input.report).resolve()))
    write_json(rule.output.runs, ids)


if __name__ == "__main__":
    cli.run_rule(main)
