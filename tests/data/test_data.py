import re

import pandas as pd
import pytest

from focalcls.core.errors import UserError
from focalcls.core.spreadsheets import cell_text, read_table
from focalcls.data.cleaning import LEAKED, extract_labels, extract_presplit
from focalcls.data.splitting import (
    balance,
    cut_from_training_file,
    describe_sources,
    longtail_targets,
    split_sources,
    split_summary,
    stratified_split,
)
from hostile import hostile_workbook

EXTRACT = {"text_column": "文本", "label_column": "类别", "labels": [], "min_count": 1, "empty_labels": "error"}


def limits(**given) -> dict:
    """balance()'s limits as a complete config gives them (none set), with the test's own."""
    return {"max_per_class": None, "min_per_class": None, "imbalance_ratio": 10, **given}


def frame(rows):
    return pd.DataFrame(rows, columns=["文本", "类别"])


def test_extract_cleans_and_counts_every_drop():
    raw = frame(
        [
            ["  ＡＢＣ新闻 ", "体育"],  # full-width letters and spaces: NFKC + strip
            ["ABC新闻", "体育"],  # exact duplicate after cleaning
            ["", "体育"],  # empty text
            ["两队打平", "sport"],  # renamed onto 体育
            ["同一句话", "财经"],  # conflicting duplicate ...
            ["同一句话", "体育"],  # ... both dropped
            ["股市上涨", "财经"],
            ["银行加息", "财经"],
            ["稀有类别", "其他"],  # below min_count
        ]
    )
    out = extract_labels(raw, **{**EXTRACT, "min_count": 2}, rename={"sport": "体育"}, source="x.xlsx")
    assert list(out.rows["text"]) == ["ABC新闻", "两队打平", "股市上涨", "银行加息"]
    assert out.labels == ["体育", "财经"]
    assert out.report["dropped"] == {
        "empty text": 1,
        "empty label": 0,
        "duplicate": 1,
        "same text, conflicting labels": 2,
        "label with fewer than data.min_count=2 rows": 1,
    }
    assert out.report["dropped_rare_labels"] == {"其他": 1}
    dropped = out.dropped.set_index("where")
    assert dropped.loc["row 3", "reason"] == "duplicate" and dropped.loc["row 4", "reason"] == "empty text"
    assert set(dropped[dropped.reason == "same text, conflicting labels"].text) == {"同一句话"}


def test_label_order_follows_config_else_frequency():
    raw = frame([["a", "x"], ["b", "y"], ["c", "y"], ["d", "z"], ["e", "z"], ["f", "z"]])
    assert extract_labels(raw, **EXTRACT).labels == ["z", "y", "x"]
    chosen = extract_labels(raw, **{**EXTRACT, "labels": ["x", "z"]})
    assert chosen.labels == ["x", "z"] and set(chosen.rows["label"]) == {"x", "z"}


def test_missing_column_and_unknown_label_name_the_fix():
    raw = frame([["a", "x"], ["b", "y"]])
    with pytest.raises(UserError, match="data.text_column"):
        extract_labels(raw, **{**EXTRACT, "text_column": "text"}, source="in.xlsx")
    with pytest.raises(UserError, match="'w'"):
        extract_labels(raw, **{**EXTRACT, "labels": ["x", "w"]})


def test_split_is_stratified_without_leakage(imbalanced_rows):
    train, val, test, held = stratified_split(
        imbalanced_rows, val_fraction=0.2, test_fraction=0.2, seed=3, small_classes="error"
    )
    assert not held
    assert len(train) + len(val) + len(test) == len(imbalanced_rows)
    assert (
        not (set(train.text) & set(val.text))
        and not (set(train.text) & set(test.text))
        and not (set(val.text) & set(test.text))
    )
    for label, n in imbalanced_rows["label"].value_counts().items():
        assert abs((test["label"] == label).sum() - 0.2 * n) <= 1
    again = stratified_split(imbalanced_rows, val_fraction=0.2, test_fraction=0.2, seed=3, small_classes="error")
    assert list(again[2].text) == list(test.text)


def test_too_small_class_is_an_error_or_stays_in_train(imbalanced_rows):
    rows = pd.concat(
        [imbalanced_rows, pd.DataFrame({"text": ["孤单1", "孤单2"], "label": ["rare", "rare"], "id": ["r1", "r2"]})]
    )
    with pytest.raises(UserError, match="'rare' has 2 rows"):
        stratified_split(rows, val_fraction=0.2, test_fraction=0.2, seed=0, small_classes="error")
    train, val, test, held = stratified_split(
        rows, val_fraction=0.2, test_fraction=0.2, seed=0, small_classes="train_only"
    )
    assert held == ["rare"] and (train.label == "rare").sum() == 2 and "rare" not in set(val.label) | set(test.label)


def test_balancing_strategies(imbalanced_rows):
    labels = ["sports", "finance", "tech", "health"]
    under, info = balance(imbalanced_rows, labels, **limits(max_per_class=40), strategy="undersample", seed=0)
    assert info["after"] == {"sports": 40, "finance": 40, "tech": 40, "health": 30}
    over, info = balance(imbalanced_rows, labels, **limits(min_per_class=100), strategy="oversample", seed=0)
    assert info["after"]["health"] == 100 and info["after"]["sports"] == 120
    tail, info = balance(
        imbalanced_rows, labels, **limits(max_per_class=80, imbalance_ratio=8), strategy="longtail", seed=0
    )
    assert info["after"] == {"sports": 80, "finance": 40, "tech": 20, "health": 10}
    same, _ = balance(imbalanced_rows, labels, **limits(), strategy="none", seed=0)
    assert len(same) == len(imbalanced_rows)
    with pytest.raises(UserError, match="balance.max_per_class"):
        balance(imbalanced_rows, labels, **limits(), strategy="undersample", seed=0)


def test_longtail_targets_decay_geometrically():
    assert longtail_targets(["a", "b", "c"], 100, 4) == {"a": 100, "b": 50, "c": 25}


def test_split_summary_counts_every_label(imbalanced_rows):
    summary = split_summary({"train": imbalanced_rows}, ["sports", "finance", "tech", "health", "none"])
    assert summary["counts"]["train"]["none"] == 0 and sum(summary["counts"]["train"].values()) == len(imbalanced_rows)


PRESPLIT = {"train": "tr.xlsx", "val": "va.xlsx", "test": "te.xlsx"}
CLEANING = {"text_column": "text", "label_column": "label", "keep_columns": ["id"], "empty_labels": "error"}


def presplit_frames(rows):
    return {"train": rows.iloc[:200], "val": rows.iloc[200:240], "test": rows.iloc[240:]}


def test_presplit_keeps_each_files_rows_and_drops_texts_seen_in_training(imbalanced_rows):
    frames = presplit_frames(imbalanced_rows)
    leaky = pd.concat([frames["test"], frames["train"].iloc[:4], frames["val"].iloc[:1]])
    found = extract_presplit({**frames, "test": leaky}, PRESPLIT, labels=[], min_count=1, **CLEANING)
    assert found.labels == list(frames["train"].label.value_counts().index)  # the training file's, by frequency
    kept = {**frames, "test": pd.concat([frames["test"], frames["val"].iloc[:1]])}  # a val/test overlap stays
    for name, frame in kept.items():
        assert sorted(found.rows[found.rows.split == name].id) == sorted(frame.id)
    assert found.report["overlap"] == {"train/val": 0, "train/test": 4, "val/test": 1}  # val/test only reported
    assert found.report["test"]["dropped"][LEAKED] == 4 and found.report["val"]["dropped"][LEAKED] == 0
    leaked = found.dropped[found.dropped.reason == LEAKED]
    assert sorted(leaked.id) == sorted(frames["train"].id.iloc[:4]) and set(leaked.file) == {"te.xlsx"}


def test_presplit_keeps_the_chosen_labels_in_every_file(imbalanced_rows):
    found = extract_presplit(
        presplit_frames(imbalanced_rows), PRESPLIT, labels=["tech", "sports"], min_count=1, **CLEANING
    )
    assert found.labels == ["tech", "sports"]
    assert found.rows.groupby("split").label.unique().map(set).to_dict() == {s: {"tech", "sports"} for s in PRESPLIT}


def test_presplit_refuses_unseen_labels_and_different_columns(imbalanced_rows):
    frames = presplit_frames(imbalanced_rows)
    unseen = frames["val"].copy()
    unseen.iloc[:3, unseen.columns.get_loc("label")] = "unknown"
    with pytest.raises(UserError, match="va.xlsx: labels \\['unknown'\\] never occur in the training file tr.xlsx"):
        extract_presplit({**frames, "val": unseen}, PRESPLIT, labels=[], min_count=1, **CLEANING)
    with pytest.raises(UserError, match=r"different columns: .*val \(va.xlsx\) \['label', 'text'\]"):
        extract_presplit(
            {**frames, "val": frames["val"].drop(columns="id")}, PRESPLIT, labels=[], min_count=1, **CLEANING
        )


def test_a_test_file_whose_every_text_is_in_training_is_refused(imbalanced_rows):
    """Otherwise test.xlsx has 0 rows, the run goes on, and the TF-IDF baseline fails later."""
    frames = presplit_frames(imbalanced_rows)
    with pytest.raises(UserError, match="te.xlsx: no row left after cleaning \\(5 of its texts are also in"):
        extract_presplit({**frames, "test": frames["train"].iloc[:5]}, PRESPLIT, labels=[], min_count=1, **CLEANING)


def parts_of(found) -> dict:
    """extract_presplit's rows as {split: frame}, as split_and_balance reads them."""
    return {name: rows.drop(columns="split") for name, rows in found.rows.groupby("split")}


CUT = {"seed": 7, "small_classes": "error", "source": "tr.xlsx"}


def test_a_missing_test_split_is_cut_from_the_training_file_stratified_without_leakage(imbalanced_rows):
    frames = presplit_frames(imbalanced_rows)
    given = {"train": frames["train"], "val": pd.concat([frames["val"], frames["train"].iloc[:6]])}
    found = extract_presplit(given, PRESPLIT, labels=[], min_count=1, **CLEANING)
    assert found.report["val"]["dropped"][LEAKED] == 6 and "test" not in found.report  # no test file
    parts, held = cut_from_training_file(parts_of(found), "test", fraction=0.15, **CUT)
    assert not held and sorted(parts["val"].id) == sorted(frames["val"].id)  # the val file is kept whole
    assert sorted([*parts["train"].id, *parts["test"].id]) == sorted(frames["train"].id)
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not set(parts[a].text) & set(parts[b].text), (a, b)
    for label, n in frames["train"].label.value_counts().items():  # each class's own 15%, not 15% overall
        assert abs((parts["test"].label == label).sum() - 0.15 * n) <= 1, label
    again, _ = cut_from_training_file(parts_of(found), "test", fraction=0.15, **CUT)
    other, _ = cut_from_training_file(parts_of(found), "test", fraction=0.15, **{**CUT, "seed": 8})
    assert list(again["test"].id) == list(parts["test"].id) and set(other["test"].id) != set(parts["test"].id)


def test_a_missing_val_split_is_cut_from_the_training_file(imbalanced_rows):
    frames = presplit_frames(imbalanced_rows)
    found = extract_presplit(
        {"train": frames["train"], "test": frames["test"]}, PRESPLIT, labels=[], min_count=1, **CLEANING
    )
    parts, _ = cut_from_training_file(parts_of(found), "val", fraction=0.2, **CUT)
    assert sorted(parts["test"].id) == sorted(frames["test"].id) and not set(parts["val"].text) & set(
        parts["train"].text
    )
    for label, n in frames["train"].label.value_counts().items():
        assert abs((parts["val"].label == label).sum() - 0.2 * n) <= 1, label


def test_a_class_too_small_to_cut_a_test_split_from_names_file_class_and_fix(imbalanced_rows):
    rare = pd.DataFrame({"text": ["孤单1", "孤单2", "孤单3"], "label": ["rare"] * 3, "id": ["r1", "r2", "r3"]})
    parts = {"train": pd.concat([imbalanced_rows.iloc[:200], rare]), "val": imbalanced_rows.iloc[200:]}
    with pytest.raises(UserError) as error:
        cut_from_training_file(parts, "test", fraction=0.1, **CUT)
    message = str(error.value)
    assert message.startswith("tr.xlsx: too few rows to cut the test split") and "'rare' has 3 rows" in message
    assert "needs 11 for split.test_fraction=0.1" in message and "data.test" in message and "train_only" in message
    kept, held = cut_from_training_file(parts, "test", fraction=0.1, **{**CUT, "small_classes": "train_only"})
    assert held == ["rare"] and (kept["train"].label == "rare").sum() == 3 and "rare" not in set(kept["test"].label)


def test_a_class_only_in_the_val_file_is_refused_with_two_files(imbalanced_rows):
    frames = presplit_frames(imbalanced_rows)
    val = frames["val"].assign(label=["unknown"] * 3 + list(frames["val"].label[3:]))
    with pytest.raises(UserError, match=r"va.xlsx: labels \['unknown'\] never occur in the training file tr.xlsx"):
        extract_presplit({"train": frames["train"], "val": val}, PRESPLIT, labels=[], min_count=1, **CLEANING)


def test_split_sources_say_where_each_split_comes_from():
    split = {"val_fraction": 0.1, "test_fraction": 0.15, "seed": 3}
    cut = {"stratified": True, "seed": 3}
    two = split_sources({"raw": None, "train": "tr.xlsx", "val": "va.xlsx", "test": None}, split)
    assert two == {
        "train": {"file": "tr.xlsx", "fraction": 0.85},
        "val": {"file": "va.xlsx"},
        "test": {"file": "tr.xlsx", "cut_from": "data.train", "fraction": 0.15, **cut},
    }
    assert describe_sources(two) == (
        "train: the rest of tr.xlsx; val: the file va.xlsx; test: 15% of the training file tr.xlsx, "
        "stratified by label (seed 3); no test file was given"
    )
    no_val = split_sources({"raw": None, "train": "tr.xlsx", "val": None, "test": "te.xlsx"}, split)
    assert describe_sources(no_val).endswith("test: the file te.xlsx; no val file was given")
    three = split_sources({"raw": None, "train": "tr.xlsx", "val": "va.xlsx", "test": "te.xlsx"}, split)
    assert three == {name: {"file": f"{name[:2]}.xlsx"} for name in ("train", "val", "test")}
    assert describe_sources(three) == "train: the file tr.xlsx; val: the file va.xlsx; test: the file te.xlsx"
    raw = split_sources({"raw": "all.csv", "train": None, "val": None, "test": None}, split)
    assert raw["train"] == {"file": "all.csv", "fraction": 0.75}
    assert raw["val"] == {"file": "all.csv", "cut_from": "data.raw", "fraction": 0.1, **cut}
    assert describe_sources(raw) == (
        "train: the rest of all.csv; val: 10% of all.csv, stratified by label (seed 3); "
        "test: 15% of all.csv, stratified by label (seed 3)"
    )


def test_texts_longer_than_an_excel_cell_are_cut_before_duplicates_are_found():
    """Excel cells hold 32,767 characters: 20 distinct 100k-character texts used to become 2 after the
    xlsx round trip, shared between train and test. Cut first, they are duplicates here, counted."""
    head = "长" * 40_000
    raw = pd.DataFrame({"文本": [f"{head}{i}" for i in range(20)] + ["短", "另一个"], "类别": ["a"] * 20 + ["b", "b"]})
    out = extract_labels(raw, **EXTRACT)
    assert out.report["truncated"] == 20 and out.report["dropped"]["duplicate"] == 19
    assert out.rows["text"].str.len().max() == 32_767 and len(out.rows) == 3


def test_evaluation_rows_drop_the_labels_training_left_out_and_refuse_unknown_ones(imbalanced_rows):
    from focalcls.data.cleaning import extract_evaluation_rows

    labels = ["sports", "finance"]
    train = imbalanced_rows[imbalanced_rows.label.isin(labels)].iloc[:50]
    new = pd.DataFrame({"text": ["新一", "新二", "新三", "新四"], "label": ["sports", "finance", "rare", "tech"]})
    options = {"text_column": "text", "label_column": "label", "empty_labels": "error", "source": "new.xlsx"}
    with pytest.raises(UserError, match=r"new.xlsx: labels \['tech'\] \(tech: 1 rows\) are not among the model's"):
        extract_evaluation_rows(new, labels, train, left_out={"rare": "too rare"}, others_left_out=None, **options)
    found = extract_evaluation_rows(
        pd.concat([new, train.head(2)[["text", "label"]]]), labels, train,
        left_out={"rare": "too rare"}, others_left_out="label not in data.labels", **options,
    )  # fmt: skip
    assert sorted(found.rows.text) == ["新一", "新二"]
    dropped = found.report["dropped"]
    assert dropped["too rare"] == 1 and dropped["label not in data.labels"] == 1
    assert dropped["also in the training file"] == 2


def test_excel_error_cells_are_empty_labels_never_a_class(tmp_path):
    """A VLOOKUP label column's #N/A read as a class "nan" (xlsx) or "#N/A" (CSV); it is an empty label."""
    hostile_workbook(tmp_path / "h.xlsx")
    pd.DataFrame({"文本": ["甲文", "乙文", "丙文", "丁文"], "类别": ["a", "#N/A", "#VALUE!", "b"]}).to_csv(
        tmp_path / "h.csv", index=False
    )
    cases = {
        "h.xlsx": (read_table(tmp_path / "h.xlsx", "data"), "label"),
        "h.csv": (read_table(tmp_path / "h.csv"), "类别"),
    }
    for name, (raw, column) in cases.items():
        options = {**EXTRACT, "text_column": raw.columns[0], "label_column": column, "source": name}
        with pytest.raises(UserError, match=rf"{name}: . row\(s\) have a text but an empty .* Excel error value"):
            extract_labels(raw, **options)
        out = extract_labels(raw, **{**options, "empty_labels": "drop"})
        assert not {"nan", "#N/A", "#REF!", "#DIV/0!", "#VALUE!"} & set(out.labels), out.labels
        errors = 3 if name == "h.xlsx" else 2
        assert out.report["error_cells"] == {"text": 0, "label": errors}
        assert out.report["dropped"]["empty label"] == errors
    errors_as_texts = frame([["#NAME?", "a"], ["#NUM!", "b"], ["文", "a"], ["字", "b"]])
    out = extract_labels(errors_as_texts, **EXTRACT)
    assert out.report["error_cells"]["text"] == 2 and out.report["dropped"]["empty text"] == 2


def test_hidden_sheets_left_out_are_in_the_cleaning_report(tmp_path):
    hostile_workbook(tmp_path / "h.xlsx")
    raw = read_table(tmp_path / "h.xlsx", "all", origin=True)
    out = extract_labels(raw, **{**EXTRACT, "text_column": "text", "label_column": "label", "empty_labels": "drop"})
    assert out.report["hidden_sheets_skipped"] == ["lookup", "secret"] and set(out.labels) == {"TRUE", "1"}


def test_true_and_text_true_are_one_label():
    raw = frame([["一", True], ["二", "TRUE"], ["三", 1.0], ["四", "1"]])
    out = extract_labels(raw.map(cell_text), **EXTRACT)
    assert sorted(out.labels) == ["1", "TRUE"]


def test_the_same_label_twice_in_data_labels_is_refused_naming_both():
    """A label listed twice, or once full-width, made a second, phantom class."""
    raw = frame([["一", "spam"], ["二", "ham"]])
    for other in ("spam", "ｓｐａｍ", "spam\u200b", " spam"):
        with pytest.raises(UserError, match=rf"data.labels: entries 1 \('spam'\) and 3 \({re.escape(repr(other))}\)"):
            extract_labels(raw, **{**EXTRACT, "labels": ["spam", "ham", other]})


def test_zero_width_characters_are_removed_from_labels_and_texts():
    """ "spam" and "spam\\u200b" were two classes; a text with a zero-width space could sit in train and test."""
    raw = frame(
        [
            ["免费领取", "spam"],
            ["免费\u200b领取", "spam\u200b"],  # the same row: a duplicate
            ["\ufeff开会通知", "ham\u2060"],
            ["开会\u200d通知", "ham"],  # the same row
            ["午饭吃什么", "\u200bham"],
            ["中奖了", "spam\u00ad"],  # a soft hyphen, Cf too
        ]
    )
    out = extract_labels(raw, **EXTRACT)
    assert out.labels == ["ham", "spam"] and out.report["dropped"]["duplicate"] == 2
    assert sorted(out.rows["text"]) == sorted(["免费领取", "开会通知", "午饭吃什么", "中奖了"])


def test_train_only_with_every_class_small_says_so():
    rows = pd.DataFrame({"text": list("abcdef"), "label": ["x", "x", "y", "y", "z", "z"]})
    with pytest.raises(UserError, match=r"every class is too small to stratify .*'x' has 2 rows.*train_only"):
        stratified_split(rows, val_fraction=0.1, test_fraction=0.1, seed=0, small_classes="train_only")
    with pytest.raises(UserError, match=r"every class is too small .*split.test_fraction=0.2\)"):
        cut_from_training_file(
            {"train": rows, "val": rows}, "test", fraction=0.2, **{**CUT, "small_classes": "train_only"}
        )


def test_labels_longer_than_the_bound_are_refused_naming_the_rows():
    """A 40,000-character label was cut in the xlsx splits but not in labels.json; 2,000 made huge figures."""
    raw = frame([["一", "a"], ["二", "b" * 201], ["三", "a"], ["四", "c" * 40_000], ["五", "d" * 200]])
    with pytest.raises(
        UserError, match=r"2 row\(s\) have a label longer than 200 characters in '类别' \(row 3, row 5\)"
    ):
        extract_labels(raw, **EXTRACT)
    assert extract_labels(raw, **EXTRACT, rename={"b" * 201: "b", "c" * 40_000: "c"}).labels[0] == "a"


def test_texts_differing_only_past_an_excel_cell_name_the_cut_as_the_cause():
    head = "长" * 40_000
    raw = frame([[f"{head}甲", "a"], [f"{head}乙", "b"], [f"{head}丙", "a"]])
    with pytest.raises(UserError, match=r"0 label\(s\) left.*3 text\(s\) were longer than an Excel cell holds"):
        extract_labels(raw, **EXTRACT)
