"""Suspect labels: confident learning on out-of-sample probabilities finds labels flipped on purpose."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import synthetic_rows
from focalcls.core.errors import UserError
from focalcls.core.spreadsheets import read_table
from focalcls.evaluate.label_audit import (
    audited_training_rows,
    fold_split,
    held_out_probs,
    out_of_fold_probs,
    suspects,
)
from focalcls.evaluate.prediction_table import label_ids
from helpers import run_rule_script, section

LABELS = ["sports", "finance", "tech", "health"]


def flipped(rows: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """`rows` with `share` of their labels moved to another class at random, and which rows were moved."""
    rng = np.random.default_rng(seed)
    moved = rng.random(len(rows)) < share
    noisy = rows.copy()
    noisy.loc[moved, "label"] = [rng.choice([x for x in LABELS if x != y]) for y in rows.label[moved]]
    return noisy, moved


def test_the_audit_finds_injected_flips_far_above_chance():
    rows = synthetic_rows({"sports": 150, "finance": 100, "tech": 60, "health": 40}, seed=3)
    noisy, moved = flipped(rows, 0.1, seed=0)
    flagged, score = suspects(out_of_fold_probs(noisy, LABELS, 5, 0), label_ids(noisy, LABELS))
    found = np.zeros(len(rows), dtype=bool)
    found[flagged] = True
    precision, recall = (found & moved).sum() / found.sum(), (found & moved).sum() / moved.sum()
    # By chance a flag is a flip 10% of the time, and flagging as many rows at random finds as many of them.
    assert precision > 0.8 and recall > 0.5, (precision, recall)
    assert score[flagged].max() < np.median(score)  # ranked: the flagged rows are those the model doubts most
    # The clean labels give few flags: the check above is not every row flagged.
    clean, _ = suspects(out_of_fold_probs(rows, LABELS, 5, 0), label_ids(rows, LABELS))
    assert len(clean) < moved.sum() / 3


def test_oversampled_copies_are_audited_once():
    rows = synthetic_rows({"sports": 10, "health": 3})
    repeated = pd.concat([rows, rows[rows.label == "health"]] * 1, ignore_index=True)
    assert len(audited_training_rows(repeated)) == len(rows)


def test_each_training_text_is_held_out_by_exactly_one_fold_stratified_and_the_same_every_time():
    rows = synthetic_rows({"sports": 40, "finance": 20, "tech": 10, "health": 5}, seed=1)
    split = pd.concat([rows, rows[rows.label == "health"]], ignore_index=True)  # oversampled copies
    folds = [fold_split(split, LABELS, 5, 7, fold) for fold in range(1, 6)]
    held = pd.concat([held for _, held in folds], ignore_index=True)
    assert sorted(held.text) == sorted(rows.text)  # each text once, the copies not twice
    for trained, held in folds:
        assert not set(trained.text) & set(held.text)  # no copy of a held text is trained on
        assert len(trained) + len(held) + held.label.eq("health").sum() == len(split)
        assert held.label.value_counts().to_dict() == {"sports": 8, "finance": 4, "tech": 2, "health": 1}
    again = fold_split(split, LABELS, 5, 7, 3)
    pd.testing.assert_frame_equal(again[1], folds[2][1])
    assert not fold_split(split, LABELS, 5, 8, 3)[1].text.equals(folds[2][1].text)  # the seed decides


def test_held_out_predictions_are_matched_to_training_rows_by_text_and_must_cover_them_once():
    rows = synthetic_rows({"sports": 6, "health": 4})
    probs = pd.DataFrame({f"p_{x}": np.linspace(0, 1, len(rows)) for x in LABELS})
    scored = pd.concat([rows, probs], axis=1)
    shuffled = [scored.iloc[5:].sample(frac=1.0, random_state=0), scored.iloc[:5]]
    assert np.array_equal(held_out_probs(rows, shuffled, LABELS), probs.to_numpy())
    for broken in ([scored.iloc[5:]], [scored, scored.iloc[:1]]):  # a row unscored; a row scored twice
        with pytest.raises(UserError, match="do not cover the training split once each"):
            held_out_probs(rows, broken, LABELS)


@pytest.mark.slow
def test_audit_script_lists_suspects_with_their_rows_in_the_users_file(stages, tmp_path):
    eval_dir = "p/balanced/eval/calibrated"
    data = section("data", {"raw": "raw.xlsx", "text_column": "内容", "label_column": "类别", "keep_columns": ["id"]})
    output = {"suspects": str(tmp_path / "suspect_labels.xlsx"), "summary": str(tmp_path / "summary.json")}
    # A worse preset listed first: the audit reads the preset chosen on validation, by name.
    worse = tmp_path / "worse.json"
    worse.write_text(json.dumps({"val": {"macro_f1": -1.0}}))
    chosen = {"calibrated_val": f"{eval_dir}/val_predictions.xlsx", "calibrated": f"{eval_dir}/predictions.xlsx"}
    runs = {
        "worse": {"metrics": [str(worse)], "calibrated_val": "missing.xlsx", "calibrated": "missing.xlsx"},
        "balanced": {"metrics": ["p/balanced/eval/metrics.json"], **chosen},
    }
    run_rule_script(
        "audit.py",
        cwd=stages,
        input={"train": "d/train.xlsx", "sources": ["raw.xlsx"], "labels": "d/labels.json"},
        output=output,
        params={"runs": runs, "metric": "macro_f1", "folds": 3, "seed": 0, "data": data},
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["model"] == {"train": "tfidf, 3-fold", "val": "balanced", "test": "balanced"}
    assert summary["test"]["rows"] == len(read_table(stages / "d/test.xlsx"))
    table = read_table(output["suspects"])
    assert list(table.columns) == ["split", "where", "id", "text", "given_label", "likely_label", "score"]
    assert sum(summary[s]["flagged"] for s in ("train", "val", "test")) == len(table) > 0
    raw = read_table(stages / "raw.xlsx")
    for _, row in table.iterrows():  # "raw.xlsx row 7": the header is row 1
        line = raw.iloc[int(row["where"].split(" row ")[1]) - 2]
        assert line["内容"] == row["text"] and line["类别"] == row["given_label"] and line["id"] == row["id"]
