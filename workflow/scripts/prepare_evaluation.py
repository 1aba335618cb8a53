"""A new labelled file (evaluate.files) -> its cleaned rows, ready to score every trained preset on.

Inputs: rows (the user's file), labels (labels.json), train (the training split). Outputs: rows
(rows.xlsx), report (what cleaning did), dropped (every dropped row and why). Params: data (the config
section: columns, rename, sheet, empty_labels, keep_columns)."""

from focalcls import cli
from focalcls.atomic import read_json, write_json
from focalcls.data import extract_evaluation_rows
from focalcls.tables import read_table, write_xlsx


def main(rule) -> None:
    data = rule.params.data
    found = extract_evaluation_rows(
        read_table(rule.input.rows, data["sheet"], origin=True, section="evaluate"),
        read_json(rule.input.labels),
        read_table(rule.input.train),
        source=rule.input.rows,
        text_column=data["text_column"],
        label_column=data["label_column"],
        rename=data["rename"],
        keep_columns=data["keep_columns"],
        empty_labels=data["empty_labels"],
    )
    write_xlsx(rule.output.dropped, found.dropped)
    write_xlsx(rule.output.rows, found.rows)
    write_json(rule.output.report, found.report)


if __name__ == "__main__":
    cli.run_rule(main)
