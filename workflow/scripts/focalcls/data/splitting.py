"""The splits: stratified train/val/test without leakage (or a missing split cut from the training file),
balancing of the training split, and what they hold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from focalcls.core.errors import UserError
from focalcls.data.cleaning import LABEL, SPLITS, TEXT, class_counts


def stratified_split(
    rows: pd.DataFrame,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    small_classes: str,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str]]:
    """Split into train/val/test per class. Texts are unique (extract_labels), so no text leaks.

    A class needs a row in every split; with small_classes='train_only' a class too small for that
    stays whole in train (returned in the last element) instead of raising.
    """
    need = _rows_needed(val_fraction, test_fraction)
    small, detail = _too_small(rows, need)
    if small and small_classes != "train_only":
        raise UserError(
            f"too few rows to stratify: {detail}; each class needs {need} for val_fraction={val_fraction} "
            f"and test_fraction={test_fraction}. Add rows, raise data.min_count to drop the class, "
            "or set split.small_classes: train_only"
        )
    if small and len(small) == rows[LABEL].nunique():  # train_only would leave nothing to cut val and test from
        fractions = {"val_fraction": val_fraction, "test_fraction": test_fraction}
        named = " and ".join(f"split.{key}={value}" for key, value in fractions.items() if value > 0)
        raise UserError(
            f"every class is too small to stratify ({detail}; each class needs {need} rows for {named}), so "
            "split.small_classes: train_only would keep every row in train and leave the other splits empty. "
            "Add rows, or lower the fractions"
        )
    held = rows[rows[LABEL].isin(small)]
    rest = rows[~rows[LABEL].isin(small)]
    parts = []
    remaining = rest
    for fraction, taken_from in ((test_fraction, 1.0), (val_fraction, 1.0 - test_fraction)):
        if fraction <= 0:
            parts.append(rest.iloc[0:0])
            continue
        remaining, part = train_test_split(
            remaining, test_size=fraction / taken_from, stratify=remaining[LABEL], random_state=seed
        )
        parts.append(part)
    test, val = parts
    train = pd.concat([remaining, held])
    return (_shuffle(train, seed), _shuffle(val, seed), _shuffle(test, seed), small)


def cut_from_training_file(
    parts: Mapping[str, pd.DataFrame],
    missing: str,
    *,
    fraction: float,
    seed: int,
    small_classes: str,
    source: str,
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Pre-split data without a `missing` (val or test) file: that split is cut from the training rows,
    stratified by label as data.raw is split, the rest stays train. No text lands on both sides: the
    training file's texts are unique (extract_labels) and a text of the other given file that is also in
    the training file was dropped from that file (extract_presplit). Returns every split and the classes
    too small to cut from, kept whole in train (split.small_classes: train_only)."""
    need = _rows_needed(fraction, 0.0)
    small, detail = _too_small(parts["train"], need)
    if small and small_classes != "train_only":
        raise UserError(
            f"{source}: too few rows to cut the {missing} split from this training file (data.{missing} is not "
            f"set): {detail}; each class needs {need} for split.{missing}_fraction={fraction}. Give a {missing} "
            f"file as data.{missing}, add rows, raise data.min_count to drop the class, or set "
            f"split.small_classes: train_only (the class then stays in train, with no {missing} rows)"
        )
    fractions = {"val_fraction": 0.0, "test_fraction": 0.0, f"{missing}_fraction": fraction}
    train, val, test, small = stratified_split(parts["train"], **fractions, seed=seed, small_classes="train_only")
    return {**parts, "train": train, missing: {"val": val, "test": test}[missing]}, small


def split_sources(files: Mapping[str, str | None], split: Mapping) -> dict[str, dict]:
    """Where each split's rows come from (summary.json's `sources`): {"file": path} for a file the user gave;
    for a split cut from a file (every split of data.raw; with pre-split data, a val or test the user gave no
    file for) also the config key of that file (cut_from), the configured fraction of its rows per class,
    stratified: true and the seed; train, when something was cut from its file, the fraction left to it."""
    key = "data.raw" if files["raw"] else "data.train"
    cuts = [name for name in ("val", "test") if files["raw"] or not files[name]]
    sources = {name: {"file": files[name] or files["raw"] or files["train"]} for name in SPLITS}
    for name in cuts:
        sources[name].update(cut_from=key, fraction=split[f"{name}_fraction"], stratified=True, seed=split["seed"])
    if cuts:  # the rest: what no cut took
        sources["train"]["fraction"] = round(1.0 - sum(split[f"{name}_fraction"] for name in cuts), 6)
    return sources


def describe_sources(sources: Mapping[str, Mapping]) -> str:
    """split_sources in one sentence for the report, e.g. "train: the rest of tr.xlsx; val: the file va.xlsx;
    test: 15% of the training file tr.xlsx, stratified by label (seed 42); no test file was given"."""
    phrases, missing = [], []
    for name, entry in sources.items():
        if "cut_from" in entry:
            whole = "the training file " if entry["cut_from"] == "data.train" else ""
            phrases.append(
                f"{name}: {entry['fraction'] * 100:g}% of {whole}{entry['file']}, stratified by label "
                f"(seed {entry['seed']})"
            )
            missing += [name] if whole else []
        else:
            phrases.append(f"{name}: {'the rest of' if 'fraction' in entry else 'the file'} {entry['file']}")
    return "; ".join(phrases + [f"no {name} file was given" for name in missing])


def _too_small(rows: pd.DataFrame, need: int) -> tuple[list[str], str]:
    """The classes with fewer than `need` rows, and a phrase listing each with its count."""
    counts = rows[LABEL].value_counts()
    small = sorted(counts[counts < need].index)
    return small, ", ".join(f"{x!r} has {counts[x]} rows" for x in small)


def _rows_needed(val_fraction: float, test_fraction: float) -> int:
    needed = 1
    for fraction in (val_fraction, test_fraction):
        if fraction > 0:
            needed = max(needed, int(np.ceil(1.0 / fraction)))
    return needed + 1


def _shuffle(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def balance(
    train: pd.DataFrame,
    labels: Sequence[str],
    *,
    strategy: str,
    seed: int,
    max_per_class: int | None,
    min_per_class: int | None,
    imbalance_ratio: float,
) -> tuple[pd.DataFrame, dict]:
    """Rebalance the training split only. Returns the new rows and the per-class before/after counts."""
    rng = np.random.default_rng(seed)
    before = class_counts(train, labels)
    if strategy == "none":
        out = train
    elif strategy == "undersample":
        cap = _required(max_per_class, "balance.max_per_class", strategy)
        out = pd.concat([_take(group, min(len(group), cap), rng) for _, group in train.groupby(LABEL)])
    elif strategy == "oversample":
        floor = _required(min_per_class, "balance.min_per_class", strategy)
        pieces = []
        for _, group in train.groupby(LABEL):
            extra = max(0, floor - len(group))
            pieces.append(group)
            if extra:
                pieces.append(group.iloc[rng.integers(0, len(group), size=extra)])
        out = pd.concat(pieces)
    elif strategy == "longtail":
        top = max_per_class or max(before.values())
        targets = longtail_targets(labels, top, imbalance_ratio)
        out = pd.concat(
            [_take(train[train[LABEL] == label], targets[label], rng) for label in labels if before[label] > 0]
        )
    else:
        raise UserError(f"balance.strategy {strategy!r} is unknown; use none, undersample, oversample or longtail")
    out = _shuffle(out, seed)
    return out, {"strategy": strategy, "before": before, "after": class_counts(out, labels)}


def longtail_targets(labels: Sequence[str], top: int, ratio: float) -> dict[str, int]:
    """Geometric decay from `top` rows for the first label to top/ratio for the last (at least 1)."""
    k = len(labels)
    return {
        label: max(1, int(round(top * ratio ** (-(i / (k - 1) if k > 1 else 0.0))))) for i, label in enumerate(labels)
    }


def _take(group: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if n >= len(group):
        return group
    return group.iloc[np.sort(rng.choice(len(group), size=n, replace=False))]


def _required(value: int | None, key: str, strategy: str) -> int:
    if not value or value < 1:
        raise UserError(f"balance.strategy {strategy!r} needs {key} (a positive integer); set it in the config")
    return int(value)


def split_summary(
    splits: Mapping[str, pd.DataFrame], labels: Sequence[str], tokenizer=None, max_length: int | None = None
) -> dict:
    """Counts per class per split, and length percentiles in characters (and tokens, given a tokenizer)."""
    out: dict = {"labels": list(labels), "counts": {}, "length": {}}
    for name, frame in splits.items():
        out["counts"][name] = class_counts(frame, labels)
        stats = {"chars": _percentiles(frame[TEXT].str.len())}
        if tokenizer is not None:
            tokens = pd.Series([len(ids) for ids in tokenizer(list(frame[TEXT]))["input_ids"]], dtype=float)
            stats["tokens"] = _percentiles(tokens)
            if max_length:
                stats["over_max_length"] = int((tokens > max_length).sum())
        out["length"][name] = stats
    return out


def _percentiles(lengths: pd.Series) -> dict:
    if lengths.empty:
        return {"mean": 0.0, "p50": 0.0, "p95": 0.0, "max": 0}
    return {
        "mean": round(float(lengths.mean()), 2),
        "p50": float(lengths.quantile(0.5)),
        "p95": float(lengths.quantile(0.95)),
        "max": int(lengths.max()),
    }
