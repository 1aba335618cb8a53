"""Labelled rows in: labels extracted and cleaned (one file, pre-split files, or a file to evaluate on)."""

from __future__ import annotations

import functools
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from focalcls.core.errors import UserError
from focalcls.core.spreadsheets import EXCEL_CELL_LIMIT, EXCEL_ERRORS, HIDDEN_SKIPPED, ORIGIN

TEXT, LABEL = "text", "label"
SPLITS = ("train", "val", "test")
LEAKED = "also in the training file"
DUPLICATE, CONFLICTING = "duplicate", "same text, conflicting labels"
# Longer is a text in the label column, not a class name: it would fill every figure and table of the report,
# and past EXCEL_CELL_LIMIT the xlsx splits would cut it, so labels.json and the splits disagree.
MAX_LABEL_CHARS = 200


def class_counts(frame: pd.DataFrame, labels: Sequence[str]) -> dict[str, int]:
    """Rows per label, in label order, 0 for a label with no rows."""
    return {k: int(v) for k, v in frame[LABEL].value_counts().reindex(labels, fill_value=0).items()}


def normalise(value: str) -> str:
    """NFKC (full-width to half-width, compatibility forms), invisible format characters (zero-width space and
    joiner, byte-order mark, word joiner, ...: Unicode category Cf) removed, outer whitespace stripped, so that
    "spam" and "spam\u200b" are one label and one text."""
    return unicodedata.normalize("NFKC", str(value)).translate(_format_characters()).strip()


@functools.cache
def _format_characters() -> dict[int, None]:
    """str.translate's table deleting every character of Unicode category Cf."""
    return {c: None for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"}


@dataclass
class Extracted:
    rows: pd.DataFrame
    labels: list[str]
    report: dict = field(default_factory=dict)
    dropped: pd.DataFrame = field(default_factory=pd.DataFrame)  # every dropped row, where it was, and why


class _Dropper:
    """Removes rows by reason, keeping each removed row (with its origin) for the user's dropped-rows file."""

    def __init__(self, rows: pd.DataFrame) -> None:
        self.rows = rows
        self.dropped: list[pd.DataFrame] = []
        self.counts: dict[str, int] = {}

    def drop(self, mask: pd.Series, reason: str) -> None:
        self.counts[reason] = int(mask.sum())
        if mask.any():
            self.dropped.append(self.rows[mask].assign(reason=reason))
        self.rows = self.rows[~mask]

    def table(self) -> pd.DataFrame:
        columns = [ORIGIN, TEXT, LABEL, "reason"]
        if not self.dropped:
            return pd.DataFrame(columns=columns)
        out = pd.concat(self.dropped)
        return out[[c for c in columns if c in out.columns]].rename(columns={ORIGIN: "where"}).reset_index(drop=True)


def extract_labels(
    frame: pd.DataFrame,
    *,
    text_column: str,
    label_column: str,
    labels: Sequence[str] = (),
    rename: Mapping[str, str] | None = None,
    keep_columns: Sequence[str] = (),
    min_count: int,
    empty_labels: str,
    min_labels: int = 2,
    source: str = "input",
) -> Extracted:
    """Clean rows, keep the chosen labels and fix their order (config order, else by frequency).

    Drops, each counted and listed with its reason: empty texts, empty labels (with
    empty_labels='drop'; an error otherwise), labels outside `labels`, exact duplicates, texts carrying
    conflicting labels (every copy), labels with fewer than `min_count` rows. Texts longer than an Excel
    cell holds are cut to its limit first (counted), so two texts that differ only beyond it are duplicates
    here rather than after a silent cut on the way to xlsx.
    """
    rows, errors = _columns(frame, text_column, label_column, keep_columns, source)
    _refuse_unlabelled(rows, label_column, empty_labels, source, errors[LABEL])
    cut = rows.index[rows[TEXT].str.len() > EXCEL_CELL_LIMIT]
    report: dict = {"rows_read": int(len(rows)), "truncated": len(cut), "error_cells": errors}
    report[HIDDEN_SKIPPED] = list(frame.attrs.get(HIDDEN_SKIPPED, []))
    rows[TEXT] = rows[TEXT].str.slice(0, EXCEL_CELL_LIMIT)
    rename = {normalise(k): normalise(v) for k, v in (rename or {}).items()}
    report["renamed"] = int(rows[LABEL].isin(list(rename)).sum())
    rows[LABEL] = rows[LABEL].replace(rename)
    wanted = chosen_labels(labels)
    cleaner, rare = _clean(rows, wanted, min_count, source)
    _refuse_long_labels(cleaner.rows, label_column, source)
    report["dropped"] = cleaner.counts
    report["dropped_rare_labels"] = {label: int(n) for label, n in rare.items()}
    rows = cleaner.rows.drop(columns=[ORIGIN])
    if wanted:
        order = [x for x in wanted if x not in rare]
    else:
        counts = rows[LABEL].value_counts()
        order = sorted(counts.index, key=lambda x: (-counts[x], x))
    if len(order) < min_labels:
        raise UserError(
            f"{source}: {len(order)} label(s) left after cleaning ({order}); a classifier needs at least two. "
            f"{_cut_duplicates(cleaner, cut)}Check data.label_column, data.labels and data.min_count"
        )
    report["rows_kept"] = int(len(rows))
    return Extracted(rows.reset_index(drop=True), order, report, cleaner.table())


def chosen_labels(labels: Sequence[str]) -> list[str]:
    """data.labels as the rows' labels are normalised; two entries that normalise to one label (full-width and
    half-width, a zero-width space) would make a class twice, so they are refused."""
    wanted = [normalise(x) for x in labels]
    first: dict[str, int] = {}
    for i, label in enumerate(wanted):
        if label in first:
            j = first[label]
            raise UserError(
                f"data.labels: entries {j + 1} ({labels[j]!r}) and {i + 1} ({labels[i]!r}) are the same label "
                f"{label!r} once normalised (full-width to half-width, invisible characters removed, spaces "
                "stripped); list each label once"
            )
        first[label] = i
    return wanted


def _cut_duplicates(cleaner: _Dropper, cut: pd.Index) -> str:
    """Why so few labels are left, when texts cut to an Excel cell's length became duplicates of each other."""
    dropped = [frame for frame in cleaner.dropped if frame.reason.iloc[0] in (DUPLICATE, CONFLICTING)]
    lost = sum(int(frame.index.isin(cut).sum()) for frame in dropped)
    if not lost:
        return ""
    return (
        f"{len(cut)} text(s) were longer than an Excel cell holds ({EXCEL_CELL_LIMIT:,} characters) and were cut "
        f"to that length; {lost} of them then were the same text as another row and were dropped as duplicates "
        "or conflicting labels. Shorten those texts in the file so that they differ in their first "
        f"{EXCEL_CELL_LIMIT:,} characters. "
    )


def _columns(
    frame: pd.DataFrame, text_column: str, label_column: str, keep: Sequence[str], source: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The text, label and kept columns, normalised, with where each row sits in the file; Excel error values
    (#N/A, ...) made empty, so they count as empty texts and labels, and their count per column."""
    present = [str(c) for c in frame.columns if c != ORIGIN]
    missing = [c for c in (text_column, label_column, *keep) if c not in frame.columns]
    if missing:
        raise UserError(
            f"{source}: missing column(s) {missing}; the file has columns {present}. "
            "Set data.text_column / data.label_column / data.keep_columns to existing columns"
        )
    rows = pd.DataFrame(
        {TEXT: frame[text_column].map(normalise).values, LABEL: frame[label_column].map(normalise).values}
    )
    errors = {}
    for column in (TEXT, LABEL):
        failed = rows[column].isin(EXCEL_ERRORS)
        errors[column] = int(failed.sum())
        rows[column] = rows[column].where(~failed, "")
    for column in keep:
        rows[column] = frame[column].values
    rows[ORIGIN] = frame[ORIGIN].values if ORIGIN in frame.columns else [f"row {i + 2}" for i in range(len(frame))]
    if len(rows) and (rows[TEXT] == "").all():
        raise UserError(
            f"{source}: every cell of the text column {text_column!r} is empty; is data.text_column the right column?"
        )
    return rows, errors


def _refuse_unlabelled(rows: pd.DataFrame, label_column: str, empty_labels: str, source: str, errors: int) -> None:
    unlabelled = (rows[LABEL] == "") & (rows[TEXT] != "")
    if unlabelled.any() and empty_labels == "error":
        why = f" or an Excel error value such as #N/A ({errors} of them)" if errors else ""
        raise UserError(
            f"{source}: {int(unlabelled.sum())} row(s) have a text but an empty {label_column!r} cell{why} "
            f"({_some(rows[ORIGIN][unlabelled])}); fill in the labels, delete those rows, "
            "or set data.empty_labels: drop"
        )


def _refuse_long_labels(rows: pd.DataFrame, label_column: str, source: str) -> None:
    long = rows[LABEL].str.len() > MAX_LABEL_CHARS
    if long.any():
        raise UserError(
            f"{source}: {int(long.sum())} row(s) have a label longer than {MAX_LABEL_CHARS} characters in "
            f"{label_column!r} ({_some(rows[ORIGIN][long])}); a label is a class name. Is data.label_column the "
            "label column? Shorten those labels, map them onto short ones with data.rename, or leave them out "
            "with data.labels"
        )


def _some(places: pd.Series, shown: int = 5) -> str:
    """The first few places of a row list, for a message ("row 3, row 7, ...")."""
    return ", ".join(places.head(shown)) + (", ..." if len(places) > shown else "")


def _clean(rows: pd.DataFrame, wanted: list[str], min_count: int, source: str) -> tuple[_Dropper, pd.Series]:
    """Every drop, in order, counted with its reason; returns the cleaner and the rare labels' counts."""
    cleaner = _Dropper(rows)
    cleaner.drop(cleaner.rows[TEXT] == "", "empty text")
    cleaner.drop(cleaner.rows[LABEL] == "", "empty label")
    if wanted:
        unknown = [x for x in wanted if x not in set(cleaner.rows[LABEL])]
        if unknown:
            raise UserError(
                f"{source}: data.labels names {unknown}, which no row carries; labels present: "
                f"{sorted(set(cleaner.rows[LABEL]))}. Fix data.labels or add a data.rename entry"
            )
        cleaner.drop(~cleaner.rows[LABEL].isin(wanted), "label not in data.labels")
    cleaner.drop(cleaner.rows.duplicated([TEXT, LABEL]), DUPLICATE)
    cleaner.drop(cleaner.rows[TEXT].duplicated(keep=False), CONFLICTING)
    counts = cleaner.rows[LABEL].value_counts()
    rare = counts[counts < min_count].sort_index()
    cleaner.drop(cleaner.rows[LABEL].isin(rare.index), f"label with fewer than data.min_count={min_count} rows")
    return cleaner, rare


def check_presplit(splits: Mapping[str, pd.DataFrame], labels: Sequence[str], sources: Mapping[str, str]) -> dict:
    """Labels unseen in train are an error; texts shared between files are reported."""
    seen = set(splits["train"][LABEL])
    for name in [name for name in splits if name != "train"]:
        unseen = sorted(set(splits[name][LABEL]) - seen)
        if unseen:
            raise UserError(
                f"{sources[name]}: labels {unseen} never occur in the training file {sources['train']}; "
                "add training rows for them or drop them with data.labels"
            )
    overlap = {}
    names = list(splits)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            overlap[f"{a}/{b}"] = int(len(set(splits[a][TEXT]) & set(splits[b][TEXT])))
    return overlap


def extract_presplit(
    frames: Mapping[str, pd.DataFrame],
    sources: Mapping[str, str],
    *,
    labels: Sequence[str],
    min_count: int,
    **options,
) -> Extracted:
    """The user's own train file and val and/or test files, each cleaned by extract_labels, as one frame with a
    `split` column (a split without a file is cut from the training rows later: cut_from_training_file).

    The label map comes from the training file (`labels` and `min_count` apply there); a val/test label the
    training file lacks is an error (check_presplit), and a val/test text also in the training file is dropped,
    counted and listed, since a text the model trained on says nothing about how it generalises. `options`
    are extract_labels' cleaning options; the dropped rows carry the file they came from.
    """
    _check_same_columns(frames, sources)
    train = extract_labels(frames["train"], labels=labels, min_count=min_count, source=sources["train"], **options)
    parts, report = {"train": train.rows}, {"train": train.report}
    dropped = [train.dropped.assign(file=sources["train"])]
    others = [name for name in SPLITS if name != "train" and name in frames]
    for name in others:
        found = extract_labels(frames[name], labels=[], min_count=1, min_labels=1, source=sources[name], **options)
        wanted = list(labels) or list(set(found.labels) | set(train.labels))
        parts[name], report[name] = found.rows[found.rows[LABEL].isin(wanted)], found.report
        dropped.append(found.dropped.assign(file=sources[name]))
    report["overlap"] = check_presplit(parts, train.labels, sources)
    seen = set(parts["train"][TEXT])
    for name in others:
        part = parts[name][parts[name][LABEL].isin(train.labels)]
        leaked = part[TEXT].isin(seen)
        dropped.append(part[leaked].assign(reason=LEAKED, file=sources[name]))
        parts[name] = part[~leaked]
        report[name]["dropped"][LEAKED] = int(leaked.sum())
        if parts[name].empty:
            raise UserError(
                f"{sources[name]}: no row left after cleaning ({int(leaked.sum())} of its texts are also in the "
                f"training file {sources['train']}); a {name} split needs rows the model never trained on"
            )
    rows = pd.concat([part.assign(split=name) for name, part in parts.items()], ignore_index=True)
    return Extracted(rows, train.labels, report, pd.concat(dropped, ignore_index=True))


def _check_same_columns(frames: Mapping[str, pd.DataFrame], sources: Mapping[str, str]) -> None:
    columns = {name: sorted(set(map(str, frame.columns)) - {ORIGIN}) for name, frame in frames.items()}
    if any(columns[name] != columns["train"] for name in frames):
        listed = ", ".join(f"{name} ({sources[name]}) {columns[name]}" for name in frames)
        raise UserError(f"the pre-split files have different columns: {listed}; give every file the same columns")


def extract_evaluation_rows(
    frame: pd.DataFrame,
    labels: Sequence[str],
    train: pd.DataFrame,
    *,
    left_out: Mapping[str, str],
    others_left_out: str | None,
    source: str,
    **options,
) -> Extracted:
    """A new labelled file to score trained adapters on, cleaned as the training data was (`options` are
    extract_labels' cleaning options). Rows of a label the training data left out on purpose are dropped
    and counted: `left_out` (label -> why: rarer than data.min_count) and, when `others_left_out` says why
    (data.labels chose the labels), every label not among `labels`. Any other label the model never saw
    is an error, not a silent drop. A text the model trained on is dropped, counted and listed."""
    found = extract_labels(frame, labels=[], min_count=1, min_labels=1, source=source, **options)
    others = sorted(set(found.labels) - set(labels) - set(left_out)) if others_left_out else []
    for label, reason in {**left_out, **dict.fromkeys(others, others_left_out)}.items():
        chosen = found.rows[LABEL] == label
        found.report["dropped"][reason] = found.report["dropped"].get(reason, 0) + int(chosen.sum())
        found.dropped = pd.concat([found.dropped, found.rows[chosen].assign(reason=reason)], ignore_index=True)
        found.rows = found.rows[~chosen]
    unseen = sorted(set(found.rows[LABEL]) - set(labels))
    if unseen:
        counts = found.rows[LABEL].value_counts()
        raise UserError(
            f"{source}: labels {unseen} ({', '.join(f'{x}: {counts[x]} rows' for x in unseen)}) are not among the "
            f"model's labels {list(labels)}; remove those rows, or map them onto the model's labels with data.rename "
            "(which retrains every preset)"
        )
    leaked = found.rows[TEXT].isin(set(train[TEXT]))
    found.report["dropped"][LEAKED] = int(leaked.sum())
    dropped = pd.concat([found.dropped, found.rows[leaked].assign(reason=LEAKED)], ignore_index=True)
    rows = found.rows[~leaked].reset_index(drop=True)
    if rows.empty:
        raise UserError(f"{source}: no row left to evaluate after cleaning ({found.report['dropped']})")
    found.report["rows_kept"] = int(len(rows))
    return Extracted(rows, list(labels), found.report, dropped.assign(file=source))
