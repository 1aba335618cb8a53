"""A new labelled file (evaluate.files) -> its cleaned rows, ready to score every trained preset on.

Inputs: rows (the user's file), labels (labels.json), train (the training split), cleaning (what
extract_labels dropped, for the labels the training data left out). Outputs: rows
(rows.xlsx), report (what cleaning did), dropped (every dropped row and why). Params: data (the config
section: columns, rename, empty_labels, keep_columns), sheet (evaluate.sheet)."""

from focalcls.core import cli
from focalcls.core.atomic import read_json, write_json
from focalcls.core.spreadsheets import read_table, write_xlsx
from focalcls.data.cleaning import extract_evaluation_rows


def main(rule) -> None:
    data = rule.params.data
    labels = read_json(rule.input.labels)
    found = extract_evaluation_rows(
        read_table(rule.input.rows, rule.params.sheet, origin=True, section="evaluate"),
        labels,
        read_table(rule.input.train),
        left_out=rare_labels(data, read_json(rule.input.cleaning)),
        others_left_out="label not in data.labels" if data["labels"] else None,
        source=rule.input.rows,
        text_column=data["text_column"],
        label_column=data["label_column"],
        rename=data["rename"],
        keep_columns=data["keep_columns"],
        empty_labels=data["empty_labels"],
    )
    cut = write_xlsx(rule.output.dropped, found.dropped) + write_xlsx(rule.output.rows, found.rows)
    if cut:  # cells of data.keep_columns longer than an Excel cell (texts were cut, and counted, before)
        found.report["cells_cut"] = cut
    write_json(rule.output.report, found.report)


def rare_labels(data: dict, cleaning: dict) -> dict[str, str]:
    """Labels the training data dropped as rarer than data.min_count, with why (for pre-split data, the
    training file's report decides)."""
    report = cleaning.get("train", cleaning)
    reason = f"label with fewer than data.min_count={data['min_count']} training rows"
    return dict.fromkeys(report["dropped_rare_labels"], reason)


if __name__ == "__main__":
    cli.run_rule(main)
