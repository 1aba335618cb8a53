"""Runs, named: a preset trained with one seed is a run, and this module is the one place that says what a
run is called and where its files lie. Rules and scripts pass explicit {run: files} maps built here;
nothing pairs files by their position in a list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

PRESETS_FOLDER = "results/presets"
# What a run's stages write, by kind, inside its folder.
RUN_FILES = {
    "adapter": "adapter",
    "train_log": "train_log.csv",
    "train_summary": "train_summary.json",
    "metrics": "eval/metrics.json",
    "predictions": "eval/predictions.xlsx",
    "val_predictions": "eval/val_predictions.xlsx",
    "confusion": "eval/confusion.csv",
    "binary": "binary/metrics.json",
    "adjusted_metrics": "adjusted/metrics.json",
    "adjusted_predictions": "adjusted/predictions.xlsx",
    # calibrate's, beside the predictions it reads: a temperature and a review threshold fitted on validation.
    "calibration": "eval/calibrated/calibration.json",
    "calibrated": "eval/calibrated/predictions.xlsx",
    "calibrated_val": "eval/calibrated/val_predictions.xlsx",
    "adjusted_calibration": "adjusted/calibrated/calibration.json",
    "model_card": "model_card/README.md",
}
# What a baseline's stages write, by kind, inside results/baselines/<name>.
BASELINE_FILES = {
    "metrics": "metrics.json",
    "predictions": "predictions.xlsx",
    "calibration": "calibrated/calibration.json",
}


def run_name(preset: str, seed: int, seeds: Sequence[int]) -> str:
    """A preset trained with one of `seeds` (train.seeds): the first seed's run keeps the preset's own folder
    (what predict, merge and evaluate.files use), each further seed's lies in a sub-folder, so every run
    is its own target."""
    return preset if seed == seeds[0] else f"{preset}/seed-{seed}"


def run_folder(run: str) -> str:
    return f"{PRESETS_FOLDER}/{run}"


def run_files(
    runs: Mapping[str, Sequence[str]], kinds: Mapping[str, str] | Sequence[str]
) -> dict[str, list[dict[str, str]]]:
    """{preset: [{name: path} for each of its runs]} from `runs` ({preset: its run names, first seed first})
    and `kinds`: RUN_FILES' kinds, or {name: kind} to name them otherwise."""
    named = kinds if isinstance(kinds, Mapping) else {kind: kind for kind in kinds}
    return {
        preset: [{name: f"{run_folder(run)}/{RUN_FILES[kind]}" for name, kind in named.items()} for run in names]
        for preset, names in runs.items()
    }


def all_paths(files: Mapping[str, Sequence[Mapping[str, str]]]) -> list[str]:
    """Every path of a run_files map: a rule's inputs, so Snakemake makes them before the job runs."""
    return [path for runs in files.values() for run in runs for path in run.values()]
