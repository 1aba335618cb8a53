"""Raw Excel/CSV/JSONL -> cleaned rows of the chosen labels, the label map and a cleaning report."""

import sys

import pandas as pd

from focalcls import cli
from focalcls.atomic import write_json
from focalcls.data import check_presplit, extract_labels
from focalcls.errors import UserError
from focalcls.tables import ORIGIN, read_table, write_xlsx

SPLITS = ("train", "val", "test")


def main(args) -> None:
    data = args.data
    options = dict(
        text_column=data["text_column"],
        label_column=data["label_column"],
        rename=data.get("rename") or {},
        keep_columns=data.get("keep_columns") or [],
        empty_labels=data.get("empty_labels", "error"),
    )
    if data.get("raw"):
        found = extract_labels(
            read_table(data["raw"], data.get("sheet", 0), origin=True),
            labels=data.get("labels") or [],
            min_count=data.get("min_count", 1),
            source=data["raw"],
            **options,
        )
        rows, labels, report, dropped = found.rows, found.labels, found.report, found.dropped.assign(file=data["raw"])
    elif all(data.get(s) for s in SPLITS):
        rows, labels, report, dropped = _presplit(data, options)
    else:
        raise UserError("set data.raw (one file to split) or all of data.train, data.val and data.test")
    write_xlsx(args.dropped, dropped)
    write_xlsx(args.out, rows)
    write_json(args.report, report)
    write_json(args.labels, labels)


def _presplit(data: dict, options: dict):
    frames = {s: read_table(data[s], data.get("sheet", 0), origin=True) for s in SPLITS}
    columns = {s: set(map(str, f.columns)) - {ORIGIN} for s, f in frames.items()}
    if columns["val"] != columns["train"] or columns["test"] != columns["train"]:
        raise UserError(
            f"the pre-split files have different columns: train {sorted(columns['train'])}, "
            f"val {sorted(columns['val'])}, test {sorted(columns['test'])}; give all three the same columns"
        )
    train = extract_labels(
        frames["train"],
        labels=data.get("labels") or [],
        min_count=data.get("min_count", 1),
        source=data["train"],
        **options,
    )
    labels = train.labels
    parts, report, dropped = {"train": train.rows}, {"train": train.report}, [train.dropped.assign(file=data["train"])]
    for s in ("val", "test"):
        found = extract_labels(frames[s], labels=[], min_labels=1, source=data[s], **options)
        wanted = data.get("labels") or list(set(found.labels) | set(labels))
        parts[s], report[s] = found.rows[found.rows["label"].isin(wanted)], found.report
        dropped.append(found.dropped.assign(file=data[s]))
    report["overlap"] = check_presplit(parts, labels, {s: data[s] for s in SPLITS})
    for s in ("val", "test"):
        parts[s] = parts[s][parts[s]["label"].isin(labels)]
        # A text the model trained on says nothing about how it generalises: keep it out of val/test.
        leaked = parts[s]["text"].isin(set(parts["train"]["text"]))
        dropped.append(parts[s][leaked].assign(reason="also in the training file", file=data[s]))
        parts[s] = parts[s][~leaked]
        report[s]["dropped"]["also in the training file"] = int(leaked.sum())
    rows = pd.concat([p.assign(split=s) for s, p in parts.items()], ignore_index=True)
    return rows, labels, report, pd.concat(dropped, ignore_index=True)


def build_parser():
    # out: extracted.xlsx; report: what cleaning did; dropped: every dropped row, where it was and why
    return cli.parser(__doc__, paths=("out", "labels", "report", "dropped"), sections=("data",))


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
