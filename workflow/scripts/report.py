"""Build results/report.html from the outputs of every other stage (the report rule's script)."""

import sys
from pathlib import Path

from focalcls.core import cli
from focalcls.env.provenance import provenance
from focalcls.report.page import build_report
from focalcls.report.runs import SPLITS, declared_paths


def main(rule) -> None:
    inputs, params = rule.input, rule.params
    # params.files maps every run, baseline and evaluated file to its paths by name; each is an input too.
    files = declared_paths(params.files, [str(path) for path in inputs])
    answer = build_report(
        config=params.config,
        labels=Path(inputs.labels),
        summary=Path(inputs.summary),
        splits={split: Path(getattr(inputs, split)) for split in SPLITS},
        **files,  # presets, training, baselines, adjusted, ensembles, evaluations: report_files() in common.smk
        tune=[Path(path) for path in inputs.tune],
        audit=Path(inputs.audit[0]) if inputs.audit else None,
        provenance=provenance(params.config, repo=Path(params.repo), benchmarks=Path(params.benchmarks)),
        out=Path(rule.output.html),
        findings=Path(rule.output.findings),
    )
    print(f"best preset: {answer['best']}; test macro-F1 {answer['macro_f1']:.3f}", file=sys.stderr)


if __name__ == "__main__":
    cli.run_rule(main)
