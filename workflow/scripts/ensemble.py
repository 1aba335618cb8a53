"""An ensemble of stored predictions, scored as a preset's evaluation is: no training, no model loaded.

Inputs: val and test (the splits), labels, summary, and the files params name. Outputs: metrics, predictions,
val_predictions, confusion, in results/ensembles/<run>/. Params: sources ({name, kind (seeds or tfidf), preset,
members: {run: {val_predictions, predictions, metrics}}, first seed first, tfidf: {val_predictions, predictions}
of the TF-IDF baseline, or empty}), weights (ensembles.weights), metric (report.selection_metric), keep
(data.keep_columns)."""

from pathlib import Path

from focalcls.core import cli
from focalcls.core.atomic import read_json
from focalcls.core.spreadsheets import read_table
from focalcls.evaluate.ensembles import ensemble_on_splits, stored_probs
from focalcls.evaluate.outputs import write_evaluation
from focalcls.evaluate.prediction_table import label_ids


def main(rule) -> None:
    params, sources = rule.params, rule.params.sources
    labels = read_json(rule.input.labels)
    counts = read_json(rule.input.summary)["counts"]["train"]
    frames = {"val": read_table(rule.input.val), "test": read_table(rule.input.test)}
    members = [stored_probs(files, frames, labels) for files in sources["members"].values()]
    tfidf = stored_probs(sources["tfidf"], frames, labels) if sources["tfidf"] else None
    probs, chosen = ensemble_on_splits(
        members, tfidf, label_ids(frames["val"], labels), labels, counts, params.weights, params.metric
    )
    first = read_json(next(iter(sources["members"].values()))["metrics"])
    write_evaluation(
        Path(rule.output.metrics).parent,
        frames,
        probs,
        labels,
        counts,
        keep_columns=params.keep,
        extra={
            "preset": sources["name"],
            "loss": first["loss"],
            # What predict needs to give these predictions again: the runs' adapters, and TF-IDF at this weight.
            "ensemble": {
                "kind": sources["kind"],
                "preset": sources["preset"],
                "runs": list(sources["members"]),
                **chosen,
            },
        },
    )


if __name__ == "__main__":
    cli.run_rule(main)
