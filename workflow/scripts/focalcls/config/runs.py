"""Runs, named: a preset trained with one seed is a run, and this module is the one place that says what a
run is called and where its files lie. Rules and scripts pass explicit {run: files} maps built here;
nothing pairs files by their position in a list."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

PRESETS_FOLDER = "results/presets"
ENSEMBLES_FOLDER = "results/ensembles"
AUDIT_FOLDS_FOLDER = "results/audit/folds"
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
    # an audit fold run's (audit.model a preset): its held-out rows, scored as evaluate.files are.
    "held_predictions": "held/predictions.xlsx",
}
# What a baseline's stages write, by kind, inside results/baselines/<name>.
BASELINE_FILES = {
    "metrics": "metrics.json",
    "predictions": "predictions.xlsx",
    "calibration": "calibrated/calibration.json",
}


# What an ensemble's stages write, by kind, inside results/ensembles/<run>: the files of a run's evaluation and
# calibration, under the same kinds, so the report and predict read an ensemble as they read a preset.
ENSEMBLE_FILES = {
    "metrics": "metrics.json",
    "predictions": "predictions.xlsx",
    "val_predictions": "val_predictions.xlsx",
    "confusion": "confusion.csv",
    "calibration": "calibrated/calibration.json",
    "calibrated": "calibrated/predictions.xlsx",
    "calibrated_val": "calibrated/val_predictions.xlsx",
}
# An ensemble is named after its preset; "+" is in no preset's name (the schema's pattern), so none clashes.
SEEDS_ENSEMBLE, TFIDF_BLEND = "+seeds", "+tfidf"


def run_name(preset: str, seed: int, seeds: Sequence[int]) -> str:
    """A preset trained with one of `seeds` (train.seeds): the first seed's run keeps the preset's own folder
    (what predict, merge and evaluate.files use), each further seed's lies in a sub-folder, so every run
    is its own target."""
    return preset if seed == seeds[0] else f"{preset}/seed-{seed}"


def audit_run(fold: int) -> str:
    """The run of audit.model's preset trained without fold `fold` (1-based) of the training split: its own
    folder, results/presets/audit/fold-<fold>/, no report row."""
    return f"audit/fold-{fold}"


def audit_fold_files(fold: int | str) -> dict[str, str]:
    """{train: the rows fold `fold`'s run trains on, held: the rows it scores}."""
    return {name: f"{AUDIT_FOLDS_FOLDER}/fold-{fold}/{name}.xlsx" for name in ("train", "held")}


def run_files(
    runs: Mapping[str, Sequence[str]],
    kinds: Mapping[str, str] | Sequence[str],
    *,
    folder: str = PRESETS_FOLDER,
    layout: Mapping[str, str] = RUN_FILES,
) -> dict[str, list[dict[str, str]]]:
    """{preset: [{name: path} for each of its runs]} from `runs` ({preset: its run names, first seed first})
    and `kinds`: RUN_FILES' kinds, or {name: kind} to name them otherwise. An ensemble's: `folder`
    ENSEMBLES_FOLDER and `layout` ENSEMBLE_FILES."""
    named = kinds if isinstance(kinds, Mapping) else {kind: kind for kind in kinds}
    return {
        preset: [{name: f"{folder}/{run}/{layout[kind]}" for name, kind in named.items()} for run in names]
        for preset, names in runs.items()
    }


def ensembles(
    presets: Sequence[str], seeds: Sequence[int], one_run: Collection[str], settings: Mapping, tfidf: bool
) -> dict[str, dict]:
    """The ensembles the config asks for (`settings`: its ensembles section), by name: {name: {kind, preset,
    runs: {ensemble run: [the preset's runs it combines]}}}. `<preset>+seeds` averages the runs of a preset
    trained with several `seeds` (not those of `one_run`, the adapters trained elsewhere); `<preset>+tfidf`
    blends each run with TF-IDF (`tfidf`: the baseline is run), one ensemble run per seed, named as runs are."""
    found = {}
    for preset in presets:
        runs = [run_name(preset, seed, seeds) for seed in (seeds[:1] if preset in one_run else seeds)]
        if settings["seeds"] and len(runs) > 1:
            name = preset + SEEDS_ENSEMBLE
            found[name] = {"kind": "seeds", "preset": preset, "runs": {name: runs}}  # one run: the seeds' average
        if settings["tfidf"] and tfidf:
            name = preset + TFIDF_BLEND
            blends = {name + run.removeprefix(preset): [run] for run in runs}  # ce/seed-1 -> ce+tfidf/seed-1
            found[name] = {"kind": "tfidf", "preset": preset, "runs": blends}
    return found


def all_paths(files: Mapping[str, Sequence[Mapping[str, str]]]) -> list[str]:
    """Every path of a run_files map: a rule's inputs, so Snakemake makes them before the job runs."""
    return [path for runs in files.values() for run in runs for path in run.values()]
