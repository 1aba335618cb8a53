"""Binary (one-vs-rest) test of one preset: threshold on validation predictions, metrics on test."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from focalcls import cli  # noqa: E402
from focalcls.atomic import read_json, write_json  # noqa: E402
from focalcls.binary import binary_test, positive_labels  # noqa: E402
from focalcls.tables import read_table  # noqa: E402


def main(args) -> None:
    labels = read_json(args.labels)
    positive = positive_labels(args.binary.get("positive"), labels, read_json(args.summary)["counts"]["train"])
    result = binary_test(
        read_table(args.val_predictions), read_table(args.test_predictions), positive,
        metric=args.binary.get("threshold_metric", "f1"),
    )
    write_json(args.out, result)


def build_parser():
    return cli.parser(
        __doc__, paths=("labels", "summary", "val-predictions", "test-predictions", "out"), sections=("binary",)
    )


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
