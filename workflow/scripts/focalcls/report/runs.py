"""The report's inputs: each preset's and baseline's stage outputs, read as the stages wrote them.

The report never recomputes a figure another stage wrote; it reads only the files its rule declares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from focalcls.core.atomic import read_json
from focalcls.core.errors import UserError
from focalcls.core.spreadsheets import read_table
from focalcls.report.seed_summary import mean_over_seeds, spread_over_seeds
from focalcls.report.tables import TABLE_COLUMNS

SPLITS = ("train", "val", "test")
SPREAD_COLUMNS = ("val_macro_f1", *TABLE_COLUMNS)


def declared_paths(files, inputs: Sequence[str]):
    """`files` (the report rule's maps of paths by name, nested dicts and lists) with every path a Path, each
    checked to be one of the rule's `inputs`: the report reads only what its rule declares."""
    if isinstance(files, Mapping):
        return {key: declared_paths(value, inputs) for key, value in files.items()}
    if isinstance(files, (list, tuple)):
        return [declared_paths(value, inputs) for value in files]
    if str(files) not in inputs:
        raise ValueError(f"{files} is not among the report rule's inputs; list it there too")
    return Path(files)


def read_runs(
    presets: Mapping[str, Sequence[Mapping[str, Path]]],
    training: Mapping[str, Sequence[Mapping[str, Path]]],
    baselines: Mapping[str, Mapping[str, Path]],
    adjusted: Mapping[str, Sequence[Mapping[str, Path]]],
    ensembles: Mapping[str, Sequence[Mapping[str, Path]]] | None = None,
) -> dict:
    """{name: run}, presets first, then their logit-adjusted variants, the ensembles (read_ensembles) and the
    baselines: every figure the
    stages wrote, and where each model's test predictions are. A preset (and its adjusted variant) comes
    with one set of files per training seed: its figures are their means, `spread` their standard
    deviations (None for one seed); its curves, confusion matrix and binary test are the first seed's. An
    adjusted variant whose every seed chose tau 0 gets no row: its preset says so ("adjustment").
    A preset missing from `training` (the presets' training files) is an adapter trained elsewhere: kind
    "adapter", with no training summaries or curves."""
    both = sorted(set(presets) & set(baselines))
    if both:  # one row would replace the other (the workflow refuses such a preset name at load)
        raise UserError(f"the report has a preset and a baseline named {both[0]!r}; rename the preset (presets)")
    runs = {}
    for name, seeds in presets.items():
        first = seeds[0]
        runs[name] = {
            "kind": "preset" if name in training else "adapter",
            **over_seeds([calibrated_metrics(files) for files in seeds], seeds),
            "calibrated": [Path(files["calibrated"]) for files in seeds],
            "binary": read_json(first["binary"]),
            "confusion": pd.read_csv(first["confusion"], index_col=0),
            **training_record(training.get(name, [])),
        }
    for preset, seeds in adjusted.items():
        per_seed = [calibrated_metrics(files) for files in seeds]
        if all(m["logit_adjustment"]["tau"] == 0 for m in per_seed):
            # tau 0 is the preset as trained: its row would repeat the preset's figures.
            runs[preset]["adjustment"] = "logit adjustment: tau 0, unchanged"
            continue
        taus = ", ".join(f"{m['logit_adjustment']['tau']:g}" for m in per_seed)
        runs[f"{preset} + logit adjustment (tau={taus})"] = {"kind": "adjusted", **over_seeds(per_seed, seeds)}
    runs.update(read_ensembles(ensembles or {}, runs))
    for name, files in baselines.items():
        runs[name] = {"kind": "baseline", **over_seeds([calibrated_metrics(files)], [files])}
    return runs


def read_ensembles(ensembles: Mapping[str, Sequence[Mapping[str, Path]]], runs: Mapping[str, dict]) -> dict:
    """{name: run} of kind "ensemble", one set of files per ensemble run (a blend has one per seed, the seeds'
    average one). A blend whose every run chose weight 1 is its preset unchanged: no row, a note on the preset's."""
    found = {}
    for name, seeds in ensembles.items():
        per_seed = [calibrated_metrics(files) for files in seeds]
        chosen = [m["ensemble"] for m in per_seed]
        if all(e["weight"] == 1 for e in chosen):
            runs[chosen[0]["preset"]]["blend"] = "TF-IDF blend: weight 1, unchanged"
            continue
        found[name] = {
            "kind": "ensemble",
            **over_seeds(per_seed, seeds),
            "calibrated": [Path(files["calibrated"]) for files in seeds],
            "ensemble": {**chosen[0], "weights": [e["weight"] for e in chosen]},
            "adjustment": ensemble_note(chosen),
        }
    return found


def ensemble_note(chosen: Sequence[Mapping]) -> str:
    """The comparison table's note on an ensemble row: what it combines, and the weights chosen on validation."""
    if chosen[0]["kind"] == "seeds":
        return f"mean of {len(chosen[0]['runs'])} seeds' log-probabilities"
    weights = ", ".join(f"{e['weight']:g}" for e in chosen)
    return f"blended with tfidf, LLM weight {weights} (chosen on validation)"


def calibrated_metrics(files: Mapping[str, Path]) -> dict:
    """A run's metrics.json with its test ECE after calibration beside the raw one (calibration.json)."""
    return {**read_json(files["metrics"]), "ece_calibrated": read_json(files["calibration"])["test"]["ece_after"]}


def training_record(seeds: Sequence[Mapping[str, Path]]) -> dict:
    """A trained preset's summaries and logs per seed, and the first seed's (its curves); none without files."""
    if not seeds:
        return {"seed_train": [], "seed_logs": []}
    return {
        "train": read_json(seeds[0]["train_summary"]),
        "seed_train": [read_json(files["train_summary"]) for files in seeds],
        "seed_logs": [pd.read_csv(files["train_log"]) for files in seeds],
        "log": pd.read_csv(seeds[0]["train_log"]),
    }


def over_seeds(per_seed: Sequence[Mapping], files: Sequence[Mapping[str, Path]]) -> dict:
    """A model's figures over its seeds (one for a baseline): their mean, spread, each seed's, and predictions."""
    return {
        "metrics": mean_over_seeds(per_seed),
        "spread": spread_over_seeds(per_seed, SPREAD_COLUMNS),
        "seed_metrics": list(per_seed),
        "predictions": Path(files[0]["predictions"]),
        "seed_predictions": [Path(f["predictions"]) for f in files],
        "calibrations": [read_json(f["calibration"]) for f in files],
    }


def text_lengths(splits: Mapping[str, Path]) -> dict[str, list[int]]:
    """Characters per text of each split; the training split as balancing left it."""
    return {
        ("train (balanced)" if split == "train" else split): read_table(splits[split])["text"]
        .astype(str)
        .str.len()
        .tolist()
        for split in SPLITS
    }
