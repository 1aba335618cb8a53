"""Build results/report.html from the outputs of every other stage (the report rule's script)."""

import sys
from pathlib import Path

from focalcls import cli
from focalcls.provenance import provenance
from focalcls.report import build_report
from focalcls.report_runs import BASELINE_FILES, PRESET_FILES, SPLITS, TRAINING_FILES, files_by_name, files_by_seed


def main(rule) -> None:
    inputs, params = rule.input, rule.params
    # Adapters trained elsewhere (evaluate.adapters) have no training files: those inputs list the others alone.
    trained = {name: runs for name, runs in params.presets.items() if name not in params.config["evaluate"]["adapters"]}
    answer = build_report(
        config=params.config,
        labels=Path(inputs.labels),
        summary=Path(inputs.summary),
        splits={split: Path(getattr(inputs, split)) for split in SPLITS},
        # Each named input lists one file per run (baseline), in the order of params.presets (baselines).
        presets=files_by_seed(params.presets, {kind: getattr(inputs, kind) for kind in PRESET_FILES}),
        training=files_by_seed(trained, {kind: getattr(inputs, kind) for kind in TRAINING_FILES}),
        baselines=files_by_name(
            params.baselines, {kind: getattr(inputs, f"baseline_{kind}") for kind in BASELINE_FILES}
        ),
        adjusted=files_by_seed(params.adjusted, {kind: getattr(inputs, f"adjusted_{kind}") for kind in BASELINE_FILES}),
        # One metrics.json per (file, preset) pair of params.evaluations, in that order.
        evaluations=evaluations_by_file(params.evaluations, inputs.evaluations),
        tune=[Path(path) for path in inputs.tune],
        audit=Path(inputs.audit[0]) if inputs.audit else None,
        provenance=provenance(params.config, repo=Path(params.repo), benchmarks=Path(params.benchmarks)),
        out=Path(rule.output.html),
        findings=Path(rule.output.findings),
    )
    print(f"best preset: {answer['best']}; test macro-F1 {answer['macro_f1']:.3f}", file=sys.stderr)


def evaluations_by_file(pairs, paths) -> dict:
    found: dict = {}
    for (file, preset), path in zip(pairs, paths, strict=True):
        found.setdefault(file, {})[preset] = Path(path)
    return found


if __name__ == "__main__":
    cli.run_rule(main)
