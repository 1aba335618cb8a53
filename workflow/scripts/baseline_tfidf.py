"""Baseline: TF-IDF + logistic regression (class_weight balanced), evaluated like every preset.

Inputs: train, val, test, labels, summary; without val, test is a labelled file of evaluate.files (the model
is fitted again on train: seconds, and the same model, as the fit is seeded). Outputs: metrics, predictions,
val_predictions (with val), confusion, all in one folder. Params: keep (data.keep_columns), seed (the first
of train.seeds)."""

from pathlib import Path

from focalcls.core import cli
from focalcls.core.atomic import read_json
from focalcls.core.spreadsheets import read_table
from focalcls.evaluate.baselines import tfidf_probs
from focalcls.evaluate.outputs import write_evaluation


def main(rule) -> None:
    labels = read_json(rule.input.labels)
    train = read_table(rule.input.train)
    frames = {name: read_table(getattr(rule.input, name)) for name in ("val", "test") if name in rule.input.keys()}
    probs = tfidf_probs(train, frames, labels, seed=rule.params.seed)
    write_evaluation(
        Path(rule.output.metrics).parent,
        frames,
        probs,
        labels,
        read_json(rule.input.summary)["counts"]["train"],
        keep_columns=rule.params.keep,
        extra={"preset": "tfidf", "loss": {"loss": "logistic (balanced)"}},
    )


if __name__ == "__main__":
    cli.run_rule(main)
