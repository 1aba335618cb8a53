"""Read labelled tables (Excel, CSV, JSON lines) and write Excel files that cannot run formulas."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import pandas as pd
from openpyxl import Workbook

from .atomic import atomic_path
from .errors import UserError

READABLE_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv", ".jsonl")


def read_table(path: str | os.PathLike, sheet: str | int | None = 0) -> pd.DataFrame:
    """Read one table as strings. `sheet` is a name, an index, or None/'all' for all sheets concatenated."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: file not found; check the path in the config (data.raw / data.train / ...)")
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return _read_excel(p, sheet)
    if suffix == ".csv":
        try:
            return pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except UnicodeDecodeError as e:
            raise UserError(
                f"{p}: not UTF-8 text ({e.reason} at byte {e.start}); save the CSV as UTF-8 "
                "(in Excel: 'CSV UTF-8'), or give the .xlsx file instead"
            ) from None
    if suffix == ".jsonl":
        try:
            frame = pd.read_json(p, lines=True, dtype=False)
        except ValueError as e:
            raise UserError(f"{p}: not valid JSON lines ({e}); write one JSON object per line") from None
        return frame.astype(str).where(frame.notna(), "")
    raise UserError(f"{p}: unsupported file type {suffix!r}; use one of {', '.join(READABLE_SUFFIXES)}")


def _read_excel(p: Path, sheet: str | int | None) -> pd.DataFrame:
    all_sheets = sheet is None or sheet == "all"
    try:
        frames = pd.read_excel(
            p, sheet_name=None if all_sheets else sheet, dtype=str, keep_default_na=False, engine=None
        )
    except ValueError as e:
        if "Worksheet" in str(e) or "not found" in str(e) or "index" in str(e).lower():
            names = pd.ExcelFile(p).sheet_names
            raise UserError(f"{p}: sheet {sheet!r} not found; data.sheet must be one of {names} or an index") from None
        raise UserError(f"{p}: cannot read as Excel ({e})") from None
    if all_sheets:
        return pd.concat(list(frames.values()), ignore_index=True)
    return frames


def require_columns(frame: pd.DataFrame, columns: Sequence[str], path: str | os.PathLike, keys: Sequence[str]) -> None:
    """Raise a UserError naming the file, the missing column, the config key and the columns there are."""
    for column, key in zip(columns, keys):
        if column not in frame.columns:
            raise UserError(
                f"{path}: no column {column!r} (config key {key}); the file has columns "
                f"{[str(c) for c in frame.columns]}: set {key} to one of them"
            )


def write_xlsx(path: str | os.PathLike, frame: pd.DataFrame, sheet: str = "data") -> None:
    """Write `frame` to xlsx atomically; every string cell is stored as text, never as a formula."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append([str(c) for c in frame.columns])
    for row in frame.itertuples(index=False, name=None):
        ws.append([_cell_value(v) for v in row])
    for cells in ws.iter_rows(min_row=2):
        for cell in cells:
            # openpyxl turns any string starting with '=' into a formula; force it back to text.
            if isinstance(cell.value, str):
                cell.data_type = "s"
    with atomic_path(path) as tmp:
        wb.save(tmp)


def _cell_value(v: object) -> object:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return None
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return v
