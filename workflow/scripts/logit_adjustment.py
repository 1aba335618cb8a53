"""Post-hoc logit adjustment of one preset: tau chosen on its validation predictions, scored on test.

Inputs: val and test (the splits), val_predictions and predictions (the preset's), labels, summary. Outputs:
metrics (with tau and every tau's validation score), predictions, val_predictions, confusion, in one folder.
Params: adjustment (the logit_adjustment config section), keep (data.keep_columns)."""

from pathlib import Path

from focalcls.core import cli
from focalcls.core.atomic import read_json
from focalcls.core.spreadsheets import read_table
from focalcls.evaluate.outputs import write_evaluation
from focalcls.evaluate.prediction_table import label_ids
from focalcls.train.logit_adjustment import adjusted_probs, choose_tau, log_prior


def main(rule) -> None:
    labels = read_json(rule.input.labels)
    counts = read_json(rule.input.summary)["counts"]["train"]
    frames = {"val": read_table(rule.input.val), "test": read_table(rule.input.test)}
    scored = {"val": read_table(rule.input.val_predictions), "test": read_table(rule.input.predictions)}
    probs = {split: table[[f"p_{x}" for x in labels]].to_numpy(dtype=float) for split, table in scored.items()}
    settings = rule.params.adjustment
    tau, scores = choose_tau(
        probs["val"], label_ids(frames["val"], labels), labels, counts, settings["taus"], settings["metric"]
    )
    prior = log_prior(labels, counts)
    preset = read_json(rule.input.preset_metrics)
    write_evaluation(
        Path(rule.output.metrics).parent,
        frames,
        {split: adjusted_probs(p, prior, tau) for split, p in probs.items()},
        labels,
        counts,
        keep_columns=rule.params.keep,
        extra={
            "preset": preset["preset"],
            "loss": preset["loss"],
            # What predict needs to give the predictions scored here: tau and the prior it shifts by.
            "logit_adjustment": {
                "tau": tau,
                "log_prior": prior.tolist(),
                "metric": settings["metric"],
                "val_scores": scores,
            },
        },
    )


if __name__ == "__main__":
    cli.run_rule(main)
