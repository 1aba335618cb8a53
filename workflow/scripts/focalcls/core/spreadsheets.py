"""Read labelled tables (Excel, CSV, JSON lines) and write Excel files that cannot run formulas."""

from __future__ import annotations

import datetime
import itertools
import json
import logging
import math
import os
import zipfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from focalcls.core.atomic import atomic_path
from focalcls.core.errors import UserError

READABLE_SUFFIXES = (".xlsx", ".xlsm", ".csv", ".jsonl")
ORIGIN = "_origin"  # where a row came from ("row 7", "sheet 'b' row 3"), for messages and the dropped-rows file
HIDDEN_SKIPPED = "hidden_sheets_skipped"  # read_table's attrs key, and the cleaning report's
EXCEL_CELL_LIMIT = 32_767  # characters an xlsx cell holds; openpyxl cuts longer strings
EXCEL_MAX_ROWS = 1_048_576  # rows of an xlsx sheet, the header included
# Excel's error values (a failed VLOOKUP's #N/A, ...), openpyxl's list and the newer dynamic-array ones: an
# error cell, or its text in a CSV export, is no text and no label.
EXCEL_ERRORS = frozenset(ERROR_CODES) | {"#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!"}

log = logging.getLogger(__name__)


def read_table(
    path: str | os.PathLike, sheet: str | int | None = 0, *, origin: bool = False, section: str = "data"
) -> pd.DataFrame:
    """Read one table as strings. `sheet` is a name, an index, or None/'all' for all sheets concatenated.

    Cells read as the user sees them (cell_text): TRUE, not "True"; 2020-01-01, not "2020-01-01 00:00:00";
    1, not "1.0". With origin=True an ORIGIN column says where each row sits in the file, as a spreadsheet
    shows it. `section` is the config section the path and sheet come from, for the messages. Hidden sheets
    that 'all' left out are listed in the frame's attrs[HIDDEN_SKIPPED] (for the cleaning report).
    """
    p = Path(path)
    if not p.is_file():
        where = "data.raw / data.train / ..." if section == "data" else f"{section}.files"
        raise UserError(f"{p}: file not found; check the path in the config ({where})")
    suffix = p.suffix.lower()
    skipped: list[str] = []
    if suffix in (".xlsx", ".xlsm"):
        frames, skipped = _read_excel(p, sheet, section)
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
    table = pd.concat(list(frames.values()), ignore_index=True) if len(frames) > 1 else next(iter(frames.values()))
    table.attrs[HIDDEN_SKIPPED] = skipped
    return table


def cell_text(value: object) -> str:
    """A cell or JSON value as the text a spreadsheet shows, so one label is one string whatever the file
    type: empty for nothing, TRUE/FALSE for a boolean (as Excel writes them), an integral number without
    ".0" (JSON 1 and 1.0, as xlsx stores both), a date as ISO 8601 (2020-01-01; with its time of day when it
    has one), whatever the cell's display format."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


def _clean_cell(v: object) -> object:
    return without_control_characters(v) if isinstance(v, str) else v


def _header(names: Sequence[object], p: Path) -> list[str]:
    """Column names from a header row: an empty one becomes "Unnamed: <i>" (as pandas names it); a name given
    twice is refused, since reading either column silently could train on the wrong one."""
    header = [cell_text(name) or f"Unnamed: {i}" for i, name in enumerate(names)]
    for name, count in Counter(header).items():
        if count > 1:
            places = [f"{i + 1} ({get_column_letter(i + 1)})" for i, x in enumerate(header) if x == name]
            raise UserError(
                f"{p}: the header {name!r} names {count} columns: {', '.join(places)}; give each column its own "
                "name in the header row (rename or delete the extra ones)"
            )
    return header


def _read_csv(p: Path) -> pd.DataFrame:
    try:
        # header=None: pandas would rename a repeated header ("label.1"); _header refuses it instead
        rows = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig", header=None)
    except UnicodeDecodeError as e:
        raise UserError(
            f"{p}: not UTF-8 text ({e.reason} at byte {e.start}); save the CSV as UTF-8 "
            "(in Excel: 'CSV UTF-8'), or give the .xlsx file instead"
        ) from None
    except pd.errors.ParserError as e:
        raise UserError(f"{p}: not a valid CSV ({e}); check quoting and the number of fields per line") from None
    except pd.errors.EmptyDataError:
        raise UserError(f"{p}: the file is empty; it needs a header row and labelled rows") from None
    frame = rows.iloc[1:].reset_index(drop=True)
    frame.columns = _header(list(rows.iloc[0]), p)
    return frame


def _read_jsonl(p: Path) -> pd.DataFrame:
    """Values as a spreadsheet shows them (cell_text): an integer label stays "1" even where another row's is
    null (pandas would read the column as floats: "1.0"). An object or a list as a value is refused: it has
    no text a label or a text could be, and Python's spelling of it would pass for one."""
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
        records = {n: json.loads(x, object_pairs_hook=_unique_keys) for n, x in enumerate(lines, 1) if x.strip()}
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{p}: not valid JSON lines ({e}); write one JSON object per line, in UTF-8") from None
    if not all(isinstance(r, dict) for r in records.values()):
        raise UserError(f'{p}: every line must be a JSON object ({{"text": ..., "label": ...}})')
    for n, record in records.items():
        nested = [key for key, value in record.items() if isinstance(value, (dict, list))]
        if nested:
            kind = "an object" if isinstance(record[nested[0]], dict) else "a list"
            raise UserError(
                f"{p}: line {n}: {nested[0]!r} holds {kind}; every value must be a string, a number, true/false "
                "or null. Write it as one string, or leave the key out"
            )
    frame = pd.DataFrame(list(records.values()), dtype=object)
    return frame.map(cell_text)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """json.loads keeps the last of two equal keys; a line naming its label twice is refused instead."""
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"the key(s) {repeated} appear twice in one object")
    return dict(pairs)


def _read_excel(p: Path, sheet: str | int | None, section: str) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The chosen sheets' tables, and the hidden sheets that 'all' left out."""
    try:
        # read_only streams the rows; data_only reads a formula's value as Excel last computed it
        book = load_workbook(p, read_only=True, data_only=True, keep_links=False)
    except (zipfile.BadZipFile, InvalidFileException, OSError, KeyError, ValueError) as e:
        raise UserError(
            f"{p}: not a readable Excel file ({type(e).__name__}: {e}); open it in Excel and save it again as .xlsx"
        ) from None
    try:
        names, skipped = _chosen_sheets(p, book, sheet, section)
        frames = {name: _read_sheet(book[name], p) for name in names}
    finally:
        book.close()
    headers = {name: sorted(map(str, f.columns)) for name, f in frames.items()}
    if len({tuple(h) for h in headers.values()}) > 1:  # concatenated, a missing column would read as "nan"
        raise UserError(
            f"{p}: {section}.sheet is 'all' but the sheets have different columns ({headers}); give every sheet "
            f"the same header row, or choose one sheet with {section}.sheet"
        )
    if skipped:
        log.warning("%s: hidden sheet(s) %s not read (%s.sheet is 'all'); name one to read it", p, skipped, section)
    return frames, skipped


def _chosen_sheets(p: Path, book, sheet: str | int | None, section: str) -> tuple[list[str], list[str]]:
    """The sheets to read, and the hidden ones left out. A hidden (or very hidden) sheet is read only when
    named: the user cannot see it in Excel, so 'all' leaves it out and an index that lands on it stops."""
    names = book.sheetnames
    hidden = [ws.title for ws in book.worksheets if ws.sheet_state != "visible"]
    visible = [name for name in names if name not in hidden]
    if sheet is None or sheet == "all":
        return visible, hidden
    if isinstance(sheet, int) and not 0 <= sheet < len(names):
        raise UserError(
            f"{p}: sheet index {sheet} not found; {section}.sheet must be one of {names} or 0..{len(names) - 1}"
        )
    if isinstance(sheet, str) and sheet not in names:
        raise UserError(f"{p}: sheet {sheet!r} not found; {section}.sheet must be one of {names} or an index")
    if isinstance(sheet, int) and names[sheet] in hidden:
        raise UserError(
            f"{p}: {section}.sheet is {sheet}, which is the hidden sheet {names[sheet]!r}; Excel does not show it. "
            f"Set {section}.sheet to a visible sheet {visible}, or to the name {names[sheet]!r} to read the "
            "hidden one"
        )
    return [names[sheet] if isinstance(sheet, int) else sheet], []


def _read_sheet(ws, p: Path) -> pd.DataFrame:
    """One sheet: its first row the header, empty cells "", trailing empty rows and columns left out (a cell
    once formatted makes Excel count them)."""
    ws.reset_dimensions()  # a file's stated size can be wrong; read the rows that are there
    rows = [[cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    for row in rows:
        while row and row[-1] == "":
            row.pop()
    while rows and not rows[-1]:
        rows.pop()
    if not rows:
        return pd.DataFrame()
    width = max(map(len, rows))
    rows = [row + [""] * (width - len(row)) for row in rows]
    return pd.DataFrame(rows[1:], columns=_header(rows[0], p), dtype=object)


def write_xlsx(path: str | os.PathLike, frame: pd.DataFrame, sheet: str = "data") -> int:
    """Write `frame` to xlsx atomically, row by row (memory stays flat however many rows); every string cell is
    stored as text, never as a formula. Returns how many cells were longer than an Excel cell holds and were
    cut to EXCEL_CELL_LIMIT characters (logged). More rows than a sheet holds are refused."""
    if len(frame) > EXCEL_MAX_ROWS - 1:
        raise UserError(
            f"{path}: {len(frame):,} rows do not fit in an Excel sheet ({EXCEL_MAX_ROWS - 1:,} rows below the "
            "header), and the workflow's tables are xlsx files. Give fewer rows: sample the input file, or split a "
            "file of new rows into several predict.files entries"
        )
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet)
    cut = 0
    for row in itertools.chain([list(map(str, frame.columns))], frame.itertuples(index=False, name=None)):
        values = [_cell_value(v) for v in row]
        cut += sum(isinstance(v, str) and len(v) > EXCEL_CELL_LIMIT for v in values)
        ws.append([_as_text(ws, v) for v in values])  # the header too: a name can start with '=' as well
    if cut:
        log.warning("%s: %d cell(s) longer than %d characters cut to that length", path, cut, EXCEL_CELL_LIMIT)
    with atomic_path(path) as tmp:
        book.save(tmp)
    return cut


def _as_text(ws, value: object) -> object:
    """openpyxl stores a string starting with '=' as a formula; such a string goes in as a text cell."""
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


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
