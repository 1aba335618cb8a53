"""Baseline: TF-IDF + logistic regression (class_weight balanced), evaluated like every preset."""

import sys
from pathlib import Path

from focalcls import cli
from focalcls.atomic import read_json
from focalcls.baselines import tfidf_probs
from focalcls.evaluation import write_evaluation
from focalcls.tables import read_table


def main(args) -> None:
    labels = read_json(args.labels)
    train = read_table(args.train)
    frames = {"val": read_table(args.val), "test": read_table(args.test)}
    probs = tfidf_probs(train, frames, labels, seed=args.seed)
    write_evaluation(
        Path(args.out_dir),
        frames,
        probs,
        labels,
        read_json(args.summary)["counts"]["train"],
        keep_columns=args.keep_columns,
        extra={"preset": "tfidf", "loss": {"loss": "logistic (balanced)"}},
    )


def build_parser():
    p = cli.parser(__doc__, paths=("train", "val", "test", "labels", "summary", "out-dir"))
    p.add_argument("--keep-columns", type=cli.json_arg, default=[])
    p.add_argument("--seed", type=int, default=42)
    return p


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
