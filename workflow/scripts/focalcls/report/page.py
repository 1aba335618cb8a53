"""results/report.html: one self-contained page that says which preset to use and what it buys.

This module assembles the page; its parts live in report_runs (reading the stages' outputs),
report_intervals (paired bootstrap intervals), report_headline (the answer in words), report_tables,
report_figures and provenance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from focalcls.core.atomic import read_json, write_json, write_text
from focalcls.data.splitting import describe_sources
from focalcls.evaluate.selection import pick_best
from focalcls.report import plots
from focalcls.report.differences import BOOTSTRAP_RESAMPLES
from focalcls.report.figures import report_figures
from focalcls.report.headline import against_ce, compared_with, headline
from focalcls.report.intervals import difference_intervals, intervals_against
from focalcls.report.review import review_summary
from focalcls.report.runs import read_runs, text_lengths
from focalcls.report.tables import TABLE_COLUMNS, comparison_rows, hardest_examples
from focalcls.train.convergence import still_improving

TEMPLATES = Path(__file__).parent / "templates"


def build_report(
    *,
    config: Mapping,
    labels: Path,
    summary: Path,
    splits: Mapping[str, Path],
    presets: Mapping[str, Sequence[Mapping[str, Path]]],
    training: Mapping[str, Sequence[Mapping[str, Path]]],
    baselines: Mapping[str, Mapping[str, Path]],
    adjusted: Mapping[str, Sequence[Mapping[str, Path]]],
    evaluations: Mapping[str, Mapping[str, Path]],
    provenance: Mapping,
    out: Path,
    tune: Sequence[Path] = (),
    findings: Path | None = None,
    audit: Path | None = None,
    ensembles: Mapping[str, Sequence[Mapping[str, Path]]] | None = None,
) -> dict:
    """Write the page to `out` and return its headline. `splits`: the train/val/test files; `presets`:
    {name: [{kind: path} per run]} of its metrics, predictions, confusion, binary and calibration files
    (focalcls.config.runs names them); `training`: {name: [{train_summary, train_log} per run]} for the presets
    trained here (an adapter trained elsewhere has none); `baselines`: {name: {metrics, predictions,
    calibration}}; `adjusted`: {preset: [{metrics, predictions, calibration} per run]} of each preset's
    logit-adjusted rows; `ensembles`: {name: [{metrics, predictions, calibration, calibrated} per ensemble run]},
    chosen from as the presets are; `evaluations`: {file: {preset or baseline: metrics.json}} of evaluate.files; `tune`:
    the search's stages, in order; `findings`: where to write what the model cards quote of the page (the
    choice, each model against ce); `audit`: results/audit/summary.json, the suspect labels counted (None:
    audit.folds 0)."""
    label_names, data_summary = read_json(labels), read_json(summary)
    runs = read_runs(presets, training, baselines, adjusted, ensembles)
    metric = config["report"]["selection_metric"]
    best, answer, undertrained = decide(runs, list(presets), list(baselines), label_names, metric)
    versus = against_ce(runs, intervals_against(runs, "ce", label_names)) if "ce" in runs else []
    rows, best_values = comparison_rows(runs, undertrained)
    html = render_page(
        headline=answer,
        versus=versus,
        seeds=len(next(iter(presets.values()))),
        resamples=f"{BOOTSTRAP_RESAMPLES:,}",
        rows=rows,
        best_values=best_values,
        columns=["val_macro_f1", *TABLE_COLUMNS],
        **data_sections(runs, list(presets), best, label_names, data_summary, splits),
        elsewhere=[name for name in presets if name not in training],
        **tune_sections(tune),
        binary={name: runs[name]["binary"] for name in presets},
        hardest=hardest_examples(runs[best]["predictions"], config["report"]["hardest_examples"]),
        evaluations={file: {p: read_json(path) for p, path in by.items()} for file, by in evaluations.items()},
        baselines=list(baselines),
        provenance=provenance,
        audit=read_json(audit) if audit else None,
        **calibration_sections(runs[best], best, label_names),
    )
    write_text(out, html)
    if findings is not None:  # what the model cards quote of the page, and what a chosen ensemble needs
        found = {"best": best, "metric": metric, "verdict": answer["verdict"], "against_ce": versus}
        write_json(findings, {**found, "ensemble": runs[best].get("ensemble")})
    return answer


def decide(
    runs: Mapping[str, dict], presets: Sequence[str], baselines: Sequence[str], labels: Sequence[str], metric: str
) -> tuple[str, dict, list[str]]:
    """The model to use, the headline that says so with its intervals, and the presets still improving when
    their training stopped."""
    best = choose(runs, presets, metric)
    undertrained = [
        name for name in presets if any(map(still_improving, runs[name]["seed_train"], runs[name]["seed_logs"]))
    ]
    intervals = difference_intervals(runs, best, compared_with(runs, best, baselines), labels)
    return best, headline(runs, best, metric, baselines, intervals, undertrained), undertrained


def choose(runs: Mapping[str, dict], presets: Sequence[str], metric: str) -> str:
    """The model to use, on validation: an ensemble is chosen as a preset is; presets come first, so a tie
    keeps the preset."""
    candidates = [*presets, *(name for name, run in runs.items() if run["kind"] == "ensemble")]
    return pick_best({name: runs[name]["metrics"] for name in candidates}, metric)


def data_sections(
    runs: Mapping[str, dict],
    presets: Sequence[str],
    best: str,
    labels: Sequence[str],
    summary: Mapping,
    splits: Mapping[str, Path],
) -> dict:
    """The page's data section: the labels, the split summary, where the splits came from, and the figures."""
    return {
        "labels": labels,
        "summary": summary,
        "sources": describe_sources(summary["sources"]) if "sources" in summary else "",
        "figures": report_figures(runs, presets, best, labels, summary, text_lengths(splits)),
    }


def tune_sections(tune: Sequence[Path]) -> dict:
    """The search's stages, in order, and the figure of its path (none without a search)."""
    stages = [read_json(path) for path in tune]
    return {"tune": stages, "tune_path": plots.tune_path(stages) if stages else None}


def calibration_sections(chosen: Mapping, best: str, label_names: Sequence[str]) -> dict:
    """The page's calibration section and review queue, of the chosen model."""
    first = chosen["calibrations"][0]
    return {
        "calibration": {
            "first": first,
            "temperatures": [c["temperature"] for c in chosen["calibrations"]],
            "reliability": plots.reliability_diagram(first, best),
            "coverage": plots.coverage_accuracy(first, best),
        },
        "review": review_summary(
            chosen["calibrations"], chosen["calibrated"], label_names, chosen["metrics"]["minority_labels"]
        ),
    }


def render_page(**values) -> str:
    """report.html.j2 filled in; every value is escaped unless the template says otherwise."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
    env.filters["num"] = number
    return env.get_template("report.html.j2").render(**values)


def number(value, digits: int = 3) -> str:
    """The template's `num` filter: a float to `digits` decimals, anything else as it is, None as nothing."""
    if value is None:
        return ""
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)
