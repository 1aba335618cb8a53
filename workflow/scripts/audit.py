"""Suspect labels of every split (results/audit/): confident learning on out-of-sample probabilities.

Inputs: train (the split), sources (the user's data files), labels, and the files params.runs names. Outputs:
suspects (suspect_labels.xlsx), summary (counts per split and class). Params: runs ({preset: {metrics: [each
run's eval/metrics.json], calibrated_val, calibrated: the first run's calibrated rows}}), metric
(report.selection_metric), folds (audit.folds), seed, data (the data section); with audit.model a preset, model
(its name) and held ({fold run: its held-out rows' predictions}), which score the training rows instead of
TF-IDF."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from focalcls.core import cli
from focalcls.core.atomic import read_json, write_json
from focalcls.core.spreadsheets import read_table, write_xlsx
from focalcls.data.cleaning import LABEL
from focalcls.evaluate.calibration import CALIBRATED, probabilities
from focalcls.evaluate.label_audit import (
    audit_split,
    audited_training_rows,
    held_out_probs,
    out_of_fold_probs,
    row_origins,
)
from focalcls.evaluate.selection import pick_best
from focalcls.report.seed_summary import mean_over_seeds


def main(rule) -> None:
    params = rule.params
    labels = read_json(rule.input.labels)
    runs = params.runs
    metrics = {name: mean_over_seeds([read_json(path) for path in files["metrics"]]) for name, files in runs.items()}
    chosen = pick_best(metrics, params.metric)  # as the report and predict choose: on validation
    where = row_origins(list(rule.input.sources), params.data)
    train = audited_training_rows(read_table(rule.input.train))
    scored = {"train": (train, training_probs(train, labels, params))}
    for split, kind in (("val", "calibrated_val"), ("test", "calibrated")):
        table = read_table(runs[chosen][kind])  # the chosen preset's rows, in the split's order, with their labels
        scored[split] = (table.rename(columns={"true_label": LABEL}), probabilities(table, labels, f"{CALIBRATED}p_"))
    tables, summary = [], {"model": {"train": training_model(params), "val": chosen, "test": chosen}}
    for split, (frame, probs) in scored.items():
        table, counts = audit_split(split, frame, probs, labels, where, params.data["keep_columns"])
        tables.append(table)
        summary[split] = counts
        print(f"{split}: {counts['flagged']} of {counts['rows']} rows flagged", file=sys.stderr)
    write_xlsx(Path(rule.output.suspects), pd.concat(tables, ignore_index=True))
    write_json(Path(rule.output.summary), summary)


def training_probs(train: pd.DataFrame, labels: list[str], params) -> np.ndarray:
    """The training rows' out-of-fold probabilities: the fold runs' predictions of their held-out rows with
    audit.model a preset (params.held), else TF-IDF cross-fitted here."""
    held = getattr(params, "held", None)  # only with a preset: the default's params are as before it existed
    if held:
        return held_out_probs(train, [read_table(path) for path in held.values()], labels)
    return out_of_fold_probs(train, labels, params.folds, params.seed)


def training_model(params) -> str:
    """What scored the training split, and its cost: "moderate, 5-fold: 5 trainings" or "tfidf, 5-fold"."""
    if getattr(params, "held", None):
        return f"{params.model}, {params.folds}-fold: {len(params.held)} trainings"
    return f"tfidf, {params.folds}-fold"


if __name__ == "__main__":
    cli.run_rule(main)
