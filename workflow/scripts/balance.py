"""Stratified train/val/test split (or the user's own split) and balancing of the training split."""

import sys

from focalcls import cli
from focalcls.atomic import read_json, write_json
from focalcls.data import balance, split_summary, stratified_split
from focalcls.tables import read_table, write_xlsx


def main(args) -> None:
    labels = read_json(args.labels)
    rows = read_table(args.extracted)
    split, rebalance = args.split, args.balance
    if "split" in rows.columns:
        parts = {
            s: rows[rows["split"] == s].drop(columns="split").reset_index(drop=True) for s in ("train", "val", "test")
        }
        train_only = []
    else:
        train, val, test, train_only = stratified_split(
            rows,
            val_fraction=split["val_fraction"],
            test_fraction=split["test_fraction"],
            seed=split["seed"],
            small_classes=split.get("small_classes", "error"),
        )
        parts = {"train": train, "val": val, "test": test}
    before = split_summary(parts, labels)
    tokenizer = None
    if args.checkpoint:
        from focalcls.model import load_tokenizer

        tokenizer = load_tokenizer(args.checkpoint, trust_remote_code=args.model.get("trust_remote_code", False))
    parts["train"], balanced = balance(
        parts["train"],
        labels,
        strategy=rebalance["strategy"],
        seed=split["seed"],
        max_per_class=rebalance.get("max_per_class"),
        min_per_class=rebalance.get("min_per_class"),
        imbalance_ratio=rebalance.get("imbalance_ratio", 10.0),
    )
    summary = split_summary(parts, labels, tokenizer, args.model.get("max_length"))
    summary["before_balance"] = before["counts"]
    summary["balance"] = balanced
    summary["train_only_labels"] = train_only
    summary["cleaning"] = read_json(args.extract_report)
    for name in ("train", "val", "test"):
        write_xlsx(getattr(args, name), parts[name])
    write_json(args.summary, summary)


def build_parser():
    p = cli.parser(
        __doc__,
        paths=("extracted", "labels", "extract-report", "train", "val", "test", "summary"),
        sections=("split", "balance", "model"),
    )
    p.add_argument("--checkpoint", default="", help="model folder whose tokenizer measures lengths in tokens")
    return p


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
