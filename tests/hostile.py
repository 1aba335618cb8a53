"""Inputs careless and hostile users really give, kept here so that no later change reads them wrong again."""

import datetime

from openpyxl import Workbook


def hostile_workbook(path) -> None:
    """What people really export: Excel error values where a VLOOKUP failed, TRUE as a boolean beside TRUE
    as text, dates, 1.0 stored as a number, and sheets Excel does not show (the first one hidden)."""
    book = Workbook()
    book.active.title = "lookup"
    book.active.sheet_state = "hidden"
    book.active.append(["text", "label"])
    book.active.append(["隐藏的行", "x"])
    data = book.create_sheet("data")
    data.append(["text", "label", "date"])
    data.append(["一", True, datetime.datetime(2020, 1, 1)])
    data.append(["二", "TRUE", datetime.datetime(2020, 1, 1, 8, 30)])
    data.append(["三", 1.0, datetime.date(2021, 2, 3)])
    data.append(["四", "#N/A", None])
    for row, error in ((6, "#REF!"), (7, "#DIV/0!")):
        data.append([f"错误{row}", None, None])
        data.cell(row, 2).value = error
        data.cell(row, 2).data_type = "e"  # an error cell, as Excel writes one
    secret = book.create_sheet("secret")
    secret.sheet_state = "veryHidden"
    secret.append(["text", "label"])
    secret.append(["机密", "y"])
    book.save(path)
