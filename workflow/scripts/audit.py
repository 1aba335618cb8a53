"""Suspect labels of every split (results/audit/): confident learning on out-of-sample probabilities.

Inputs: train (the split), sources (the user's data files), labels, metrics (every run's eval/
metrics.json, preset by preset, seeds in order), val_predictions and predictions (each preset's first-seed
calibrated/ files, in params.presets order). Outputs: suspects (suspect_labels.xlsx), summary (counts per split
and class). Params: presets ({preset: its runs}), metric (report.selection_metric), folds (audit.folds), seed,
data (the data section)."""

import sys
from pathlib import Path

import pandas as pd

from focalcls import cli
from focalcls.atomic import read_json, write_json
from focalcls.audit import audit_split, audited_training_rows, out_of_fold_probs, row_origins
from focalcls.calibration import CALIBRATED, probabilities
from focalcls.data import LABEL
from focalcls.seed_summary import mean_over_seeds
from focalcls.selection import pick_best
from focalcls.tables import read_table, write_xlsx


def main(rule) -> None:
    params = rule.params
    labels = read_json(rule.input.labels)
    presets = list(params.presets)
    runs = iter(rule.input.metrics)
    metrics = {name: mean_over_seeds([read_json(next(runs)) for _ in params.presets[name]]) for name in presets}
    chosen = pick_best(metrics, params.metric)  # as the report and predict choose: on validation
    index = presets.index(chosen)
    where = row_origins(list(rule.input.sources), params.data)
    train = audited_training_rows(read_table(rule.input.train))
    scored = {"train": (train, out_of_fold_probs(train, labels, params.folds, params.seed))}
    for split, files in (("val", rule.input.val_predictions), ("test", rule.input.predictions)):
        table = read_table(files[index])  # the chosen preset's rows, in the split's order, with their labels
        scored[split] = (table.rename(columns={"true_label": LABEL}), probabilities(table, labels, f"{CALIBRATED}p_"))
    tables, summary = [], {"model": {"train": f"tfidf, {params.folds}-fold", "val": chosen, "test": chosen}}
    for split, (frame, probs) in scored.items():
        table, counts = audit_split(split, frame, probs, labels, where, params.data["keep_columns"])
        tables.append(table)
        summary[split] = counts
        print(f"{split}: {counts['flagged']} of {counts['rows']} rows flagged", file=sys.stderr)
    write_xlsx(Path(rule.output.suspects), pd.concat(tables, ignore_index=True))
    write_json(Path(rule.output.summary), summary)


if __name__ == "__main__":
    cli.run_rule(main)
