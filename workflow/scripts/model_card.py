"""Write one run's model card: README.md for its adapter folder (library peft) and for its merged folder (library
transformers, copied in by the merge rule).

Inputs: adapter, metrics, predictions (eval/), calibration, labels, summary, findings (the report's). Outputs:
adapter_card, merged_card. Params: run, preset, seed, seeds, split_seed, base_model, data_name, repo. The adapter
card is also written into the adapter folder, replacing the template peft saves there; the folder's timestamp,
which Snakemake reads, is left alone, so nothing downstream of training reruns."""

import shutil
from pathlib import Path

from focalcls.core import cli
from focalcls.core.atomic import atomic_path, read_json, write_text
from focalcls.core.spreadsheets import read_table
from focalcls.env.provenance import git_commit
from focalcls.evaluate.prediction_table import label_ids
from focalcls.report.model_card import card_text, test_intervals


def main(rule) -> None:
    params = rule.params
    labels = read_json(rule.input.labels)
    metrics = read_json(rule.input.metrics)
    table = read_table(rule.input.predictions)
    truth, predicted = (label_ids(table, labels, column, missing=-1) for column in ("true_label", "predicted_label"))
    known = (truth >= 0) & (predicted >= 0)
    common = {
        "run": params.run,
        "preset": params.preset,
        "base_model": params.base_model,
        "labels": labels,
        "metrics": metrics,
        "figures": test_intervals(truth[known], predicted[known], metrics, labels),
        "calibration": read_json(rule.input.calibration),
        "summary": read_json(rule.input.summary),
        "findings": read_json(rule.input.findings),
        "seeds": {"run": params.seed, "train": ", ".join(map(str, params.seeds)), "split": params.split_seed},
        "commit": git_commit(Path(params.repo)) or "unknown (not a git checkout)",
        "data_name": params.data_name,
        "elsewhere": params.elsewhere or None,
    }
    write_text(rule.output.adapter_card, card_text(library="peft", **common))
    write_text(rule.output.merged_card, card_text(library="transformers", **common))
    with atomic_path(Path(rule.input.adapter) / "README.md") as tmp:
        shutil.copyfile(rule.output.adapter_card, tmp)


if __name__ == "__main__":
    cli.run_rule(main)
