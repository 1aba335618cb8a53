"""Suspect labels: rows whose given label a model that never saw them disagrees with confidently (confident
learning, Northcutt et al. 2021, as cleanlab implements it).

Only out-of-sample probabilities are used: the validation and test rows are scored by the chosen preset, which
never trained on them; the training rows by k-fold cross-fitting (audit.model): the TF-IDF + logistic-regression
baseline, or a preset trained k times, each fold scored by a model fitted on the other folds. A training text
that balancing repeated (oversample) is audited once, as a copy in another fold would give its own label away."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from cleanlab.filter import find_label_issues
from sklearn.model_selection import StratifiedKFold

from focalcls.core.errors import UserError
from focalcls.core.spreadsheets import EXCEL_CELL_LIMIT, ORIGIN, read_table
from focalcls.data.cleaning import LABEL, TEXT, normalise
from focalcls.evaluate.baselines import tfidf_probs
from focalcls.evaluate.prediction_table import label_ids


def fold_parts(
    train: pd.DataFrame, labels: Sequence[str], folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fitted, held) row positions of each fold of `train` (audited_training_rows), stratified by label and
    shuffled with `seed`: every row is held out exactly once, and the same inputs give the same folds (a class
    with fewer rows than folds is spread over as many folds as it has rows)."""
    truth = label_ids(train, labels)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # "the least populated class has only n members": handled as said above
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return list(splitter.split(np.zeros(len(truth)), truth))


def out_of_fold_probs(train: pd.DataFrame, labels: Sequence[str], folds: int, seed: int) -> np.ndarray:
    """Probabilities for every training row from a TF-IDF model fitted on the other folds (fold_parts)."""
    probs = np.zeros((len(train), len(labels)))
    for fitted, held in fold_parts(train, labels, folds, seed):
        probs[held] = tfidf_probs(train.iloc[fitted], {"held": train.iloc[held]}, labels, seed=seed)["held"]
    return probs


def fold_split(
    split: pd.DataFrame, labels: Sequence[str], folds: int, seed: int, fold: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fold `fold` (1-based) of the training split, for a preset trained without it: (its training rows, the
    held-out rows). The folds are those of the audited rows (each text once); the training rows are the split's
    rows whose text is not held out, oversampling's copies included, so no copy gives a held text away."""
    audited = audited_training_rows(split)
    held = audited.iloc[fold_parts(audited, labels, folds, seed)[fold - 1][1]]
    return split[~split[TEXT].isin(set(held[TEXT]))].reset_index(drop=True), held.reset_index(drop=True)


def held_out_probs(train: pd.DataFrame, folds: Sequence[pd.DataFrame], labels: Sequence[str]) -> np.ndarray:
    """The audited rows' probabilities from the fold runs' predictions of their held-out rows, matched by text
    (each text is once in `train`, audited_training_rows); every row must be scored by exactly one fold."""
    columns = [f"p_{label}" for label in labels]
    scored = pd.concat([frame[[TEXT, *columns]] for frame in folds], ignore_index=True)
    if scored[TEXT].duplicated().any() or set(scored[TEXT]) != set(train[TEXT]):
        raise UserError(
            "the audit folds' predictions do not cover the training split once each; "
            "delete results/audit/folds/ and results/presets/audit/ and run again"
        )
    return scored.set_index(TEXT).loc[train[TEXT], columns].to_numpy(dtype=float)


def suspects(probs: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows confident learning flags (most suspect first), and every row's score: the out-of-sample
    probability of its given label (cleanlab's self-confidence; the lower, the more suspect)."""
    probs = np.clip(probs, 1e-12, None)
    probs = probs / probs.sum(axis=1, keepdims=True)  # a class no fold saw has probability 0 everywhere
    flagged = find_label_issues(truth, probs, return_indices_ranked_by="self_confidence", n_jobs=1)
    return flagged, probs[np.arange(len(truth)), truth]


def audit_split(
    name: str,
    frame: pd.DataFrame,
    probs: np.ndarray,
    labels: Sequence[str],
    where: Mapping[str, str],
    keep: Sequence[str] = (),
) -> tuple[pd.DataFrame, dict]:
    """The flagged rows of one split as suspect_labels.xlsx lists them (with the data.keep_columns it has),
    and its counts per given label."""
    truth = label_ids(frame, labels)
    flagged, score = suspects(probs, truth)
    rows = frame.iloc[flagged]
    table = pd.DataFrame(
        {
            "split": name,
            "where": [where.get(text, "") for text in rows[TEXT]],
            **{column: rows[column].values for column in keep if column in rows.columns},
            "text": rows[TEXT].values,
            "given_label": rows[LABEL].values,
            "likely_label": [labels[i] for i in probs[flagged].argmax(axis=1)],
            "score": score[flagged],
        }
    )
    counts = {
        "rows": int(len(frame)),
        "flagged": int(len(flagged)),
        "per_class": {
            label: {"rows": int((truth == i).sum()), "flagged": int((truth[flagged] == i).sum())}
            for i, label in enumerate(labels)
        },
    }
    return table, counts


def row_origins(files: Sequence[str], data: Mapping) -> dict[str, str]:
    """Where each text sits in the user's files ("raw.xlsx row 7"), as the data section reads them; a text's
    first row when it appears more than once (cleaning kept that one)."""
    where: dict[str, str] = {}
    for path in files:
        table = read_table(path, data["sheet"], origin=True)
        texts = table[data["text_column"]].map(normalise).str.slice(0, EXCEL_CELL_LIMIT)
        for text, origin in zip(texts, table[ORIGIN], strict=True):
            where.setdefault(text, f"{path} {origin}")
    return where


def audited_training_rows(train: pd.DataFrame) -> pd.DataFrame:
    """The training split with each text once: oversampling's copies left out (cleaning dropped every other
    duplicate before the split)."""
    return train.drop_duplicates(subset=[TEXT]).reset_index(drop=True)
