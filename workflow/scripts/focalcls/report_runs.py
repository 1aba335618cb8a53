"""The report's inputs: each preset's and baseline's stage outputs, read as the stages wrote them.

The report never recomputes a figure another stage wrote; it reads only the files its rule declares."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from .atomic import read_json
from .tables import read_table

# The files of one preset, and of one baseline, the report reads (the report rule's input names).
PRESET_FILES = ("metrics", "predictions", "confusion", "binary", "train_summary", "train_log")
BASELINE_FILES = ("metrics", "predictions")
SPLITS = ("train", "val", "test")


def files_by_name(names: Sequence[str], files: Mapping[str, Sequence[str | os.PathLike]]) -> dict[str, dict[str, Path]]:
    """{name: {kind: path}} from one list of paths per kind, each listed in the order of `names`,
    as a rule's expand() lists them."""
    for kind, paths in files.items():
        if len(paths) != len(names):
            raise ValueError(f"{len(paths)} {kind} files for {len(names)} names ({', '.join(names)})")
    return {name: {kind: Path(paths[i]) for kind, paths in files.items()} for i, name in enumerate(names)}


def read_runs(
    presets: Mapping[str, Mapping[str, Path]],
    baselines: Mapping[str, Mapping[str, Path]],
    adjusted: Mapping[str, Mapping[str, Path]],
) -> dict:
    """{name: run}, presets first, then their logit-adjusted variants and the baselines: every figure the
    stages wrote, and where each model's test predictions are."""
    runs = {}
    for name, files in presets.items():
        runs[name] = {
            "kind": "preset",
            "metrics": read_json(files["metrics"]),
            "binary": read_json(files["binary"]),
            "train": read_json(files["train_summary"]),
            "log": pd.read_csv(files["train_log"]),
            "confusion": pd.read_csv(files["confusion"], index_col=0),
            "predictions": Path(files["predictions"]),
        }
    for preset, files in adjusted.items():
        metrics = read_json(files["metrics"])
        name = f"{preset} + logit adjustment (tau={metrics['logit_adjustment']['tau']:g})"
        runs[name] = {"kind": "adjusted", "metrics": metrics, "predictions": Path(files["predictions"])}
    for name, files in baselines.items():
        runs[name] = {
            "kind": "baseline",
            "metrics": read_json(files["metrics"]),
            "predictions": Path(files["predictions"]),
        }
    return runs


def text_lengths(splits: Mapping[str, Path]) -> dict[str, list[int]]:
    """Characters per text of each split; the training split as balancing left it."""
    return {
        ("train (balanced)" if split == "train" else split): read_table(splits[split])["text"]
        .astype(str)
        .str.len()
        .tolist()
        for split in SPLITS
    }
