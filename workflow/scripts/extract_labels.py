"""Raw Excel/CSV/JSONL -> cleaned rows of the chosen labels, the label map and a cleaning report.

Outputs: rows (extracted.xlsx), labels (labels.json), report (what cleaning did), dropped (every dropped
row, where it was and why). Params: data, the config section."""

from focalcls.config.checks import check_data_files
from focalcls.core import cli
from focalcls.core.atomic import write_json
from focalcls.core.spreadsheets import read_table, write_xlsx
from focalcls.data.cleaning import SPLITS, extract_labels, extract_presplit


def main(rule) -> None:
    data = rule.params.data
    options = dict(
        text_column=data["text_column"],
        label_column=data["label_column"],
        rename=data["rename"],
        keep_columns=data["keep_columns"],
        empty_labels=data["empty_labels"],
        labels=data["labels"],
        min_count=data["min_count"],
    )
    check_data_files(data)
    if data["raw"]:
        found = extract_labels(read_table(data["raw"], data["sheet"], origin=True), source=data["raw"], **options)
        found.dropped = found.dropped.assign(file=data["raw"])
    else:
        sources = {name: data[name] for name in SPLITS if data[name]}
        frames = {name: read_table(path, data["sheet"], origin=True) for name, path in sources.items()}
        found = extract_presplit(frames, sources, **options)
    cut = write_xlsx(rule.output.dropped, found.dropped) + write_xlsx(rule.output.rows, found.rows)
    if cut:  # cells of data.keep_columns longer than an Excel cell (texts were cut, and counted, before)
        found.report["cells_cut"] = cut
    # The data section the labels come from: the workflow trusts labels.json at load only while it is the same.
    write_json(rule.output.report, {**found.report, "data_section": data})
    write_json(rule.output.labels, found.labels)


if __name__ == "__main__":
    cli.run_rule(main)
