import pandas as pd
import pytest
from openpyxl import load_workbook

from focalcls.core.atomic import atomic_path
from focalcls.core.errors import UserError
from focalcls.core.spreadsheets import csv_safe, read_table, write_xlsx
from hostile import hostile_workbook


def test_formula_like_texts_are_written_as_text(tmp_path):
    texts = ["=1+1", "+SUM(A1:A2)", "-2", "@cmd", '\t=HYPERLINK("x")', "普通文本"]
    path = tmp_path / "out.xlsx"
    write_xlsx(path, pd.DataFrame({"text": texts}))
    sheet = load_workbook(path).active
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in cells] == texts
    assert all(c.data_type == "s" for c in cells)


def test_a_formula_as_a_column_name_is_written_as_text(tmp_path):
    header = '=HYPERLINK("http://e.x","x")'
    path = tmp_path / "out.xlsx"
    write_xlsx(path, pd.DataFrame({header: ["a"], "text": ["b"]}))
    first = next(load_workbook(path).active.iter_rows(min_row=1, max_row=1))
    assert first[0].value == header and first[0].data_type == "s"
    assert list(read_table(path).columns) == [header, "text"]


def test_control_characters_become_spaces_when_read_and_written(tmp_path):
    """openpyxl refuses them (IllegalCharacterError): they would crash every write, predict's after inference."""
    texts = ["vertical\x0btab", "bell\x07", "line\nbreak stays"]
    pd.DataFrame({"text": texts}).to_csv(tmp_path / "in.csv", index=False)
    read = list(read_table(tmp_path / "in.csv")["text"])
    assert read == ["vertical tab", "bell ", "line\nbreak stays"]
    write_xlsx(tmp_path / "out.xlsx", pd.DataFrame({"text\x07": texts}))
    back = read_table(tmp_path / "out.xlsx")
    assert list(back.columns) == ["text "] and list(back["text "]) == read


def test_csv_cells_that_a_spreadsheet_would_run_get_an_apostrophe():
    assert [csv_safe(x) for x in ["=1+1", "+cmd", "@SUM(A1)", "-x", "\t=1", "-1", "+2.5", "体育", ""]] == [
        "'=1+1",
        "'+cmd",
        "'@SUM(A1)",
        "'-x",
        "'\t=1",
        "-1",
        "+2.5",
        "体育",
        "",
    ]


def test_read_every_supported_format(tmp_path):
    frame = pd.DataFrame({"文本": ["一", "二"], "标签": ["甲", "乙"]})
    frame.to_csv(tmp_path / "a.csv", index=False, encoding="utf-8-sig")
    frame.to_json(tmp_path / "a.jsonl", orient="records", lines=True, force_ascii=False)
    write_xlsx(tmp_path / "a.xlsx", frame)
    for name in ("a.csv", "a.jsonl", "a.xlsx"):
        assert read_table(tmp_path / name).to_dict("list") == frame.to_dict("list")


def test_all_sheets_are_concatenated_and_a_missing_sheet_is_named(tmp_path):
    path = tmp_path / "multi.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"text": ["a"], "label": ["x"]}).to_excel(writer, sheet_name="one", index=False)
        pd.DataFrame({"text": ["b"], "label": ["y"]}).to_excel(writer, sheet_name="two", index=False)
    assert list(read_table(path, "all")["text"]) == ["a", "b"]
    assert list(read_table(path, "two")["text"]) == ["b"]
    with pytest.raises(UserError, match="'three' not found.*one"):
        read_table(path, "three")


def test_bad_files_name_the_file_and_the_fix(tmp_path):
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("文本,标签\n你好,甲\n".encode("gbk"))
    with pytest.raises(UserError, match="gbk.csv: not UTF-8"):
        read_table(gbk)
    with pytest.raises(UserError, match="file not found"):
        read_table(tmp_path / "missing.xlsx")
    with pytest.raises(UserError, match="unsupported file type"):
        read_table(gbk.with_suffix(".txt").write_text("x") and gbk.with_suffix(".txt"))


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "keep.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]


def test_messages_name_the_config_section_the_file_came_from(tmp_path):
    write_xlsx(tmp_path / "new.xlsx", pd.DataFrame({"text": ["一"]}))
    with pytest.raises(UserError, match="predict.sheet must be one of"):
        read_table(tmp_path / "new.xlsx", "Sheet9", section="predict")
    with pytest.raises(UserError, match=r"\(predict.files\)"):
        read_table(tmp_path / "missing.xlsx", section="predict")


def test_jsonl_integer_labels_stay_integers_beside_a_null(tmp_path):
    lines = ['{"text": "一", "label": 1}', '{"text": "二", "label": null}', '{"text": "三", "label": 2}']
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    assert list(read_table(tmp_path / "a.jsonl")["label"]) == ["1", "", "2"]  # not "1.0", "nan", "2.0"
    (tmp_path / "b.jsonl").write_text('["not", "an", "object"]\n')
    with pytest.raises(UserError, match="b.jsonl: every line must be a JSON object"):
        read_table(tmp_path / "b.jsonl")


def test_all_sheets_with_different_columns_are_refused_naming_them(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "a"
    book.active.append(["text", "label"])
    book.active.append(["一", "x"])
    other = book.create_sheet("b")
    other.append(["text", "notes"])
    other.append(["二", "y"])
    book.save(tmp_path / "two.xlsx")
    with pytest.raises(UserError, match=r"data.sheet is 'all' but the sheets have different columns .*'notes'"):
        read_table(tmp_path / "two.xlsx", "all")


def test_a_killed_writes_leftovers_are_removed_by_the_next_write(tmp_path):
    (tmp_path / ".out.xlsx.k1ll3d00.tmp").write_bytes(b"half")
    (tmp_path / ".other.xlsx.k1ll3d00.tmp").write_bytes(b"someone else's")
    (tmp_path / ".out.xlsx.xlsx.wr1t1ng0.tmp").write_bytes(b"out.xlsx.xlsx being written")
    write_xlsx(tmp_path / "out.xlsx", pd.DataFrame({"text": ["a"]}))
    left = [".other.xlsx.k1ll3d00.tmp", ".out.xlsx.xlsx.wr1t1ng0.tmp", "out.xlsx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == left


def test_cells_read_as_a_spreadsheet_shows_them(tmp_path):
    """TRUE (boolean) and "TRUE" (text) were two labels, dates "2020-01-01 00:00:00", error cells "nan"."""
    hostile_workbook(tmp_path / "h.xlsx")
    frame = read_table(tmp_path / "h.xlsx", "data")
    assert list(frame["label"]) == ["TRUE", "TRUE", "1", "#N/A", "#REF!", "#DIV/0!"]
    assert list(frame["date"]) == ["2020-01-01", "2020-01-01 08:30:00", "2021-02-03", "", "", ""]


def test_hidden_sheets_are_read_only_when_named(tmp_path):
    hostile_workbook(tmp_path / "h.xlsx")
    with pytest.raises(UserError, match=r"data.sheet is 0, which is the hidden sheet 'lookup'.*\['data'\]"):
        read_table(tmp_path / "h.xlsx")
    every = read_table(tmp_path / "h.xlsx", "all")
    assert "隐藏的行" not in set(every["text"]) and "机密" not in set(every["text"]) and len(every) == 6
    assert every.attrs["hidden_sheets_skipped"] == ["lookup", "secret"]
    assert list(read_table(tmp_path / "h.xlsx", "secret")["text"]) == ["机密"]  # named: the user chose it


def test_a_repeated_header_is_refused_naming_the_columns(tmp_path):
    """pandas read the first "label" column and called the second "label.1": the run used either silently."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["text", "label", "note", "label"])
    book.active.append(["一", "a", "", "b"])
    book.save(tmp_path / "twice.xlsx")
    (tmp_path / "twice.csv").write_text("text,label,note,label\n一,a,,b\n", encoding="utf-8")
    for name in ("twice.xlsx", "twice.csv"):
        with pytest.raises(UserError, match=rf"{name}: the header 'label' names 2 columns: 2 \(B\), 4 \(D\)"):
            read_table(tmp_path / name)


def test_jsonl_objects_and_lists_are_refused_and_numbers_read_as_xlsx_reads_them(tmp_path):
    lines = ['{"text": "一", "label": 1}', "", '{"text": "二", "label": 1.0}', '{"text": "三", "label": true}']
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    assert list(read_table(tmp_path / "a.jsonl")["label"]) == ["1", "1", "TRUE"]
    for n, value, kind in ((3, '{"name": "x"}', "an object"), (3, '["x", "y"]', "a list")):
        lines[2] = f'{{"text": {value}, "label": "a"}}'
        (tmp_path / "b.jsonl").write_text("\n".join(lines) + "\n")
        with pytest.raises(UserError, match=f"b.jsonl: line {n}: 'text' holds {kind}"):
            read_table(tmp_path / "b.jsonl")
    (tmp_path / "c.jsonl").write_text('{"text": "一", "label": "a", "label": "b"}\n')
    with pytest.raises(UserError, match=r"c.jsonl: not valid JSON lines .*\['label'\] appear twice"):
        read_table(tmp_path / "c.jsonl")


def test_write_xlsx_streams_rows_and_refuses_more_than_a_sheet_holds(tmp_path):
    """Writing kept every cell as an object (about 330 bytes each): a 2M-row input needed gigabytes."""
    import tracemalloc

    n = 5_000
    frame = pd.DataFrame({"text": [f"第{i}条" for i in range(n)], "label": ["甲"] * n, "id": range(n), "p": [0.5] * n})
    tracemalloc.start()
    try:
        write_xlsx(tmp_path / "big.xlsx", frame)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * frame.size, peak  # was about 300 bytes a cell
    assert read_table(tmp_path / "big.xlsx").equals(frame.astype(str).assign(p="0.5"))
    too_many = pd.DataFrame({"id": [0] * 1_048_576})
    with pytest.raises(UserError, match=r"huge.xlsx: 1,048,576 rows do not fit in an Excel sheet \(1,048,575"):
        write_xlsx(tmp_path / "huge.xlsx", too_many)
    assert not (tmp_path / "huge.xlsx").exists()


def test_cells_longer_than_excel_holds_are_counted_and_logged(tmp_path, caplog):
    frame = pd.DataFrame({"text": ["长" * 40_000, "=" + "x" * 40_000, "短"]})
    assert write_xlsx(tmp_path / "cut.xlsx", frame) == 2
    assert "cut.xlsx: 2 cell(s) longer than 32767 characters cut" in caplog.text
    assert read_table(tmp_path / "cut.xlsx")["text"].str.len().tolist() == [32_767, 32_767, 1]
