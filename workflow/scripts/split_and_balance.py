"""Stratified train/val/test split (or the user's own split) and balancing of the training split.

Inputs: rows, labels, report (extract_labels' outputs). Outputs: train, val, test, summary. Params: split,
balance, model (config sections), files (data.raw, data.train, data.val, data.test: which files were given)
and checkpoint, the model folder whose tokenizer measures lengths in tokens."""

from focalcls.core import cli
from focalcls.core.atomic import read_json, write_json
from focalcls.core.spreadsheets import read_table, write_xlsx
from focalcls.data.cleaning import SPLITS
from focalcls.data.splitting import balance, cut_from_training_file, split_sources, split_summary, stratified_split
from focalcls.train.model import load_tokenizer


def main(rule) -> None:
    split, rebalance, model, files = rule.params.split, rule.params.balance, rule.params.model, rule.params.files
    labels = read_json(rule.input.labels)
    rows = read_table(rule.input.rows)
    options = {"seed": split["seed"], "small_classes": split["small_classes"]}
    if files["raw"]:
        fractions = {key: split[key] for key in ("val_fraction", "test_fraction")}
        train, val, test, train_only = stratified_split(rows, **fractions, **options)
        parts = {"train": train, "val": val, "test": test}
    else:  # the user's own split (extract_labels marks each row); a split without a file is cut from train
        parts = {name: rows[rows["split"] == name].drop(columns="split").reset_index(drop=True) for name in SPLITS}
        train_only = []
        for name in [name for name in ("val", "test") if not files[name]]:  # at most one: check_data_files
            fraction = split[f"{name}_fraction"]
            parts, train_only = cut_from_training_file(parts, name, fraction=fraction, source=files["train"], **options)
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
    tokenizer = load_tokenizer(rule.params.checkpoint, trust_remote_code=model["trust_remote_code"])
    summary = split_summary(parts, labels, tokenizer, model["max_length"])
    summary["before_balance"] = before["counts"]
    summary["balance"] = balanced
    summary["train_only_labels"] = train_only
    summary["cleaning"] = read_json(rule.input.report)
    summary["sources"] = split_sources(files, split)
    for name in SPLITS:
        write_xlsx(getattr(rule.output, name), parts[name])
    write_json(rule.output.summary, summary)


if __name__ == "__main__":
    cli.run_rule(main)
