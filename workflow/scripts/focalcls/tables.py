"""Read labelled tables (Excel, CSV, JSON lines) and write Excel files that cannot run formulas."""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from .atomic import atomic_path
from .errors import UserError

READABLE_SUFFIXES = (".xlsx", ".xlsm", ".csv", ".jsonl")
ORIGIN = "_origin"  # where a row came from ("row 7", "sheet 'b' row 3"), for messages and the dropped-rows file


def read_table(
    path: str | os.PathLike, sheet: str | int | None = 0, *, origin: bool = False, section: str = "data"
) -> pd.DataFrame:
    """Read one table as strings. `sheet` is a name, an index, or None/'all' for all sheets concatenated.

    With origin=True an ORIGIN column says where each row sits in the file, as a spreadsheet shows it.
    `section` is the config section the path and sheet come from, for the messages.
    """
    p = Path(path)
    if not p.is_file():
        where = "data.raw / data.train / ..." if section == "data" else f"{section}.files"
        raise UserError(f"{p}: file not found; check the path in the config ({where})")
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        frames = _read_excel(p, sheet, section)
    elif suffix == ".csv":
        frames = {None: _read_csv(p)}
    elif suffix == ".jsonl":
        frames = {None: _read_jsonl(p)}
    elif suffix == ".xls":
        raise UserError(f"{p}: the old .xls format is not read; open it in Excel or LibreOffice and save it as .xlsx")
    else:
        raise UserError(f"{p}: unsupported file type {suffix!r}; use one of {', '.join(READABLE_SUFFIXES)}")
    frames = {name: frame.map(_clean_cell) for name, frame in frames.items()}
    if origin:
        first_row = 1 if suffix == ".jsonl" else 2  # the header is row 1 in a spreadsheet or CSV
        for name, frame in frames.items():
            where = f"sheet {name!r} row " if len(frames) > 1 else "row "
            frame[ORIGIN] = [f"{where}{i + first_row}" for i in range(len(frame))]
    return pd.concat(list(frames.values()), ignore_index=True) if len(frames) > 1 else next(iter(frames.values()))


def _clean_cell(v: object) -> object:
    return without_control_characters(v) if isinstance(v, str) else v


def _read_csv(p: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(
            f"{p}: not UTF-8 text ({e.reason} at byte {e.start}); save the CSV as UTF-8 "
            "(in Excel: 'CSV UTF-8'), or give the .xlsx file instead"
        ) from None
    except pd.errors.ParserError as e:
        raise UserError(f"{p}: not a valid CSV ({e}); check quoting and the number of fields per line") from None
    except pd.errors.EmptyDataError:
        raise UserError(f"{p}: the file is empty; it needs a header row and labelled rows") from None


def _read_jsonl(p: Path) -> pd.DataFrame:
    """Values as the file writes them: an integer label stays "1" even where another row's is null
    (pandas would read the column as floats: "1.0")."""
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{p}: not valid JSON lines ({e}); write one JSON object per line, in UTF-8") from None
    if not all(isinstance(r, dict) for r in records):
        raise UserError(f'{p}: every line must be a JSON object ({{"text": ..., "label": ...}})')
    frame = pd.DataFrame(records, dtype=object)
    return frame.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))


def _read_excel(p: Path, sheet: str | int | None, section: str) -> dict:
    all_sheets = sheet is None or sheet == "all"
    try:
        book = pd.ExcelFile(p, engine="openpyxl")
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as e:
        raise UserError(
            f"{p}: not a readable Excel file ({type(e).__name__}: {e}); open it in Excel and save it again as .xlsx"
        ) from None
    names = book.sheet_names
    if not all_sheets:
        if isinstance(sheet, int) and not 0 <= sheet < len(names):
            raise UserError(
                f"{p}: sheet index {sheet} not found; {section}.sheet must be one of {names} or 0..{len(names) - 1}"
            )
        if isinstance(sheet, str) and sheet not in names:
            raise UserError(f"{p}: sheet {sheet!r} not found; {section}.sheet must be one of {names} or an index")
        names = [names[sheet] if isinstance(sheet, int) else sheet]
    frames = {name: book.parse(name, dtype=str, keep_default_na=False) for name in names}
    headers = {name: sorted(map(str, f.columns)) for name, f in frames.items()}
    if len({tuple(h) for h in headers.values()}) > 1:  # concatenated, a missing column would read as "nan"
        raise UserError(
            f"{p}: {section}.sheet is 'all' but the sheets have different columns ({headers}); give every sheet "
            f"the same header row, or choose one sheet with {section}.sheet"
        )
    return frames


def write_xlsx(path: str | os.PathLike, frame: pd.DataFrame, sheet: str = "data") -> None:
    """Write `frame` to xlsx atomically; every string cell is stored as text, never as a formula."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append([_cell_value(str(c)) for c in frame.columns])
    for row in frame.itertuples(index=False, name=None):
        ws.append([_cell_value(v) for v in row])
    for cells in ws.iter_rows(min_row=1):  # the header too: a column name can start with '=' as well
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
    if isinstance(v, str):
        return without_control_characters(v)
    return v


def without_control_characters(text: str) -> str:
    """Control characters (\\x07, \\x0b, ...) cannot be stored in xlsx: each becomes a space. Tables are
    cleaned this way when read, so the texts the model sees are the texts every output file shows."""
    return ILLEGAL_CHARACTERS_RE.sub(" ", text)


def csv_safe(text: str) -> str:
    """A cell a spreadsheet opening the CSV will not run: text starting with =, +, -, @ (or a tab or
    carriage return) gets a leading apostrophe, as OWASP advises; numbers such as -1 stay as they are."""
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text
