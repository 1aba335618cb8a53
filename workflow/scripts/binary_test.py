"""Binary (one-vs-rest) test of one preset: threshold on validation predictions, metrics on test."""

import sys

from focalcls import cli
from focalcls.atomic import read_json, write_json
from focalcls.binary import binary_test, positive_labels
from focalcls.tables import read_table


def main(args) -> None:
    labels = read_json(args.labels)
    positive = positive_labels(args.binary.get("positive"), labels, read_json(args.summary)["counts"]["train"])
    result = binary_test(
        read_table(args.val_predictions),
        read_table(args.test_predictions),
        positive,
        metric=args.binary.get("threshold_metric", "f1"),
    )
    write_json(args.out, result)


def build_parser():
    return cli.parser(
        __doc__, paths=("labels", "summary", "val-predictions", "test-predictions", "out"), sections=("binary",)
    )


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
