"""Calibrate one set of predictions (a preset's run, its logit-adjusted variant or a baseline): a temperature
fitted on its validation predictions, and the review threshold predict.review asks for, chosen there too.

Inputs: val and test (the predictions' val_predictions.xlsx and predictions.xlsx), labels. Outputs:
calibration (the record), val_predictions and predictions (the same tables with the calibrated columns).
Params: review (predict.review: null, {precision} or {share})."""

import sys
from pathlib import Path

from focalcls.core import cli
from focalcls.core.atomic import read_json, write_json
from focalcls.core.spreadsheets import read_table, write_xlsx
from focalcls.evaluate.calibration import calibrate_run


def main(rule) -> None:
    labels = read_json(rule.input.labels)
    tables = {"val": read_table(rule.input.val), "test": read_table(rule.input.test)}
    record, calibrated = calibrate_run(tables, labels, rule.params.review)
    write_xlsx(Path(rule.output.val_predictions), calibrated["val"])
    write_xlsx(Path(rule.output.predictions), calibrated["test"])
    write_json(Path(rule.output.calibration), record)
    print(
        f"temperature {record['temperature']:.3f}; test ECE {record['test']['ece_before']:.4f} -> "
        f"{record['test']['ece_after']:.4f}",
        file=sys.stderr,
    )
    if record["review"] and record["review"]["message"]:
        print(f"warning: {record['review']['message']}", file=sys.stderr)


if __name__ == "__main__":
    cli.run_rule(main)
