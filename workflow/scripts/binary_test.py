"""Binary (one-vs-rest) test of one preset: threshold on validation predictions, metrics on test.

Inputs: val and test (the preset's predictions), labels, summary. Output: metrics. Params: binary, the config
section."""

from focalcls.core import cli
from focalcls.core.atomic import read_json, write_json
from focalcls.core.spreadsheets import read_table
from focalcls.evaluate.binary import binary_test, positive_labels


def main(rule) -> None:
    binary = rule.params.binary
    labels = read_json(rule.input.labels)
    positive = positive_labels(binary["positive"], labels, read_json(rule.input.summary)["counts"]["train"])
    result = binary_test(
        read_table(rule.input.val), read_table(rule.input.test), positive, metric=binary["threshold_metric"]
    )
    write_json(rule.output.metrics, result)


if __name__ == "__main__":
    cli.run_rule(main)
