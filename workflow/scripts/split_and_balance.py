"""Stratified train/val/test split (or the user's own split) and balancing of the training split.

Inputs: rows, labels, report (extract_labels' outputs). Outputs: train, val, test, summary. Params: split,
balance, model (config sections) and checkpoint, the model folder whose tokenizer measures lengths in tokens."""

from focalcls import cli
from focalcls.atomic import read_json, write_json
from focalcls.data import SPLITS, balance, split_summary, stratified_split
from focalcls.model import load_tokenizer
from focalcls.tables import read_table, write_xlsx


def main(rule) -> None:
    split, rebalance, model = rule.params.split, rule.params.balance, rule.params.model
    tokenizer = load_tokenizer(rule.params.checkpoint, trust_remote_code=model["trust_remote_code"])
    labels = read_json(rule.input.labels)
    rows = read_table(rule.input.rows)
    if "split" in rows.columns:  # the user's own split (extract_labels marks each row)
        parts = {name: rows[rows["split"] == name].drop(columns="split").reset_index(drop=True) for name in SPLITS}
        train_only = []
    else:
        train, val, test, train_only = stratified_split(
            rows,
            val_fraction=split["val_fraction"],
            test_fraction=split["test_fraction"],
            seed=split["seed"],
            small_classes=split["small_classes"],
        )
        parts = {"train": train, "val": val, "test": test}
    before = split_summary(parts, labels)
    parts["train"], balanced = balance(
        parts["train"],
        labels,
        strategy=rebalance["strategy"],
        seed=split["seed"],
        max_per_class=rebalance["max_per_class"],
        min_per_class=rebalance["min_per_class"],
        imbalance_ratio=rebalance["imbalance_ratio"],
    )
    summary = split_summary(parts, labels, tokenizer, model["max_length"])
    summary["before_balance"] = before["counts"]
    summary["balance"] = balanced
    summary["train_only_labels"] = train_only
    summary["cleaning"] = read_json(rule.input.report)
    for name in SPLITS:
        write_xlsx(getattr(rule.output, name), parts[name])
    write_json(rule.output.summary, summary)


if __name__ == "__main__":
    cli.run_rule(main)
