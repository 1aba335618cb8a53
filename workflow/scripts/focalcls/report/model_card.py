"""A model card (README.md) for a trained run, in the Hugging Face convention: YAML front matter (base_model,
library_name, pipeline_tag, the labels, the test metrics as model-index) and what the workflow knows of the
model: its data, loss, test figures with intervals, calibration, review threshold, seeds, commit and limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import yaml

from focalcls.core.metrics import f1_from_counts
from focalcls.evaluate.review import target_words
from focalcls.report.differences import BOOTSTRAP_RESAMPLES, Interval, statistic_intervals
from focalcls.report.intervals import averaged_classes

# A class with fewer test rows than this has an F1 that a handful of rows can swing: the card names it.
FEW_TEST_ROWS = 30
FOLDERS = {
    "peft": "the adapter alone: load it over the base model with peft",
    "transformers": "the adapter merged into the base weights: it loads with transformers alone",
}
CARD_METRICS = {"macro_f1": "macro-F1", "minority_f1": "minority-class F1", "accuracy": "accuracy"}


def test_intervals(truth: np.ndarray, predicted: np.ndarray, metrics: Mapping, labels: Sequence[str]) -> dict:
    """{metric: (value, 95% interval)} of CARD_METRICS for one run, its test rows resampled."""
    sets = averaged_classes(metrics, labels)

    def statistic(y: np.ndarray, p: np.ndarray) -> np.ndarray:
        f1 = f1_from_counts(y, p, len(labels))
        return np.array([f1[sets["macro_f1"]].mean(), f1[sets["minority_f1"]].mean(), (y == p).mean()])

    means, intervals = statistic_intervals([(truth, predicted)], statistic)
    return {name: (float(value), interval) for name, value, interval in zip(CARD_METRICS, means, intervals)}


def front_matter(
    *, run: str, library: str, base_model: str, labels: Sequence[str], figures: Mapping, data_name: str
) -> dict:
    """The card's metadata: what the Hub reads (model-index holds the test figures)."""
    results = [
        {
            "type": "f1" if name != "accuracy" else "accuracy",
            "name": f"{words} (test)",
            "value": round(figures[name][0], 4),
        }
        for name, words in CARD_METRICS.items()
    ]
    return {
        "base_model": base_model,
        "library_name": library,
        "pipeline_tag": "text-classification",
        "tags": ["text-classification", "focal-loss", "lora", "imbalanced-classification"],
        "labels": list(labels),
        "metrics": ["f1", "accuracy"],
        "model-index": [
            {
                "name": run,
                "results": [
                    {
                        "task": {"type": "text-classification", "name": "Text Classification"},
                        "dataset": {"name": data_name, "type": data_name, "split": "test"},
                        "metrics": results,
                    }
                ],
            }
        ],
    }


def interval_text(value: float, interval: Interval | None) -> str:
    return f"{value:.3f}" + (f" (95% interval {interval[0]:.3f} to {interval[1]:.3f})" if interval else "")


def data_table(labels: Sequence[str], summary: Mapping) -> list[str]:
    """Rows per class and split, as summary.json counts them (the training split before and after balancing)."""
    columns = {"train (file)": summary["before_balance"]["train"], "train (trained on)": summary["counts"]["train"]}
    columns.update({split: summary["counts"][split] for split in ("val", "test")})
    lines = ["| label | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for label in labels:
        lines.append(f"| {cell(label)} | " + " | ".join(str(c.get(label, 0)) for c in columns.values()) + " |")
    return lines


def cell(text: str) -> str:
    """A label inside a Markdown table cell: a | would start a new cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def training_lines(metrics: Mapping, seeds: Mapping, elsewhere: str | None) -> list[str]:
    """The loss and the seeds; of an adapter trained elsewhere the workflow knows neither."""
    if elsewhere:
        return [f"- Trained elsewhere (evaluate.adapters: `{elsewhere}`): its loss and seeds are not known here."]
    return [
        f"- Loss: {loss_words(metrics['loss'])}.",
        f"- Seed of this run: {seeds['run']}; the preset was trained with seeds {seeds['train']}; "
        f"split seed {seeds['split']}.",
    ]


def loss_words(loss: Mapping) -> str:
    """The loss and its parameters, e.g. 'focal (form softmax, gamma 2, alpha [0.45, 0.67, 1.08])'."""
    shown = {k: short_number(v) for k, v in loss.items() if k != "loss" and v is not None}
    return f"{loss['loss']}" + (" (" + ", ".join(f"{k} {v}" for k, v in shown.items()) + ")" if shown else "")


def short_number(value) -> str:
    """A setting as a card shows it: numbers (and lists of them, as a per-class alpha) to 4 significant digits."""
    if isinstance(value, list):
        return "[" + ", ".join(map(short_number, value)) + "]"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def review_words(review: Mapping | None) -> str:
    if review is None:
        return "No review queue was set (predict.review); the calibrated confidence is written for every row."
    if not review["reached"]:
        return review["message"] + "."
    test = review["test"]
    precision = "no row" if test["precision"] is None else f"precision {test['precision']:.3f}"
    return (
        f"Rows whose calibrated confidence is at least {review['threshold']:.4f} are labelled automatically "
        f"(chosen on validation for {target_words(review['target'])}); on test {test['share_review']:.1%} of the rows "
        f"would go to a person, and the rest reach {precision}."
    )


def limits(preset: str, labels: Sequence[str], summary: Mapping, findings: Mapping) -> list[str]:
    """What a user of the model must know: classes with few test rows, what the comparison to ce found."""
    test = summary["counts"]["test"]
    few = [f"{label} ({test.get(label, 0)})" for label in labels if test.get(label, 0) < FEW_TEST_ROWS]
    lines = [
        f"- Classes with fewer than {FEW_TEST_ROWS} test rows, whose figures are uncertain: {', '.join(few)}."
        if few
        else f"- Every class has at least {FEW_TEST_ROWS} test rows."
    ]
    row = next((r for r in findings["against_ce"] if r["name"] == preset), None)
    if preset == "ce":
        lines.append("- This is the cross-entropy preset (ce), the reference the other presets are compared with.")
    elif row is None:
        lines.append("- No comparison with a cross-entropy preset (ce) was made in this run.")
    else:
        for metric, words in (("macro_f1", "macro-F1"), ("minority_f1", "minority-class F1")):
            d = row[metric]
            lines.append(
                f"- Against ce on test, {words} {d['delta']:+.3f} (95% interval {d['interval'][0]:+.3f} to "
                f"{d['interval'][1]:+.3f}): {d['decision']}."
            )
    chosen = findings["best"]
    lines.append(
        f"- The report chose {chosen} on validation {findings['metric']}"
        + (": this preset." if chosen == preset else f"; this card is of {preset}.")
    )
    ensemble = findings.get("ensemble")
    if ensemble and ensemble["preset"] == preset:
        lines.append(f"- {ensemble_needs(chosen, ensemble)}")
    lines.append(f"- {findings['verdict']}")
    return lines


def ensemble_needs(name: str, ensemble: Mapping) -> str:
    """What the chosen ensemble of this card's preset needs at prediction time, beyond this folder
    (predict.preset: the ensemble's name does it all)."""
    if ensemble["kind"] == "seeds":
        runs = ", ".join(f"results/presets/{run}/adapter" for run in ensemble["runs"])
        return (
            f"The chosen {name} averages the log-probabilities of every seed's adapter ({runs}) and renormalises; "
            "this folder alone gives one seed's predictions."
        )
    return (
        f"The chosen {name} blends this preset's first run with TF-IDF: log p = w log p_llm + (1 - w) log p_tfidf, "
        f"renormalised, with w = {ensemble['weight']:g} (chosen on validation), TF-IDF fitted again on the training "
        "split (results/data/train.xlsx) as the tfidf baseline is; this folder alone gives the preset's predictions."
    )


def test_lines(metrics: Mapping, figures: Mapping, calibration: Mapping) -> list[str]:
    """The card's test figures with their intervals, and its calibration and review section."""
    test = calibration["test"]
    return [
        "## Test figures",
        "",
        *(f"- {words}: {interval_text(*figures[name])}" for name, words in CARD_METRICS.items()),
        f"- Test rows: {metrics['n']}; the minority classes (the rarest third by training count): "
        f"{', '.join(metrics['minority_labels'])}.",
        f"- Intervals: {BOOTSTRAP_RESAMPLES:,} resamples of the test rows; they do not hold the spread between "
        "training seeds.",
        "",
        "## Calibration and review",
        "",
        f"- Temperature {calibration['temperature']:.4f}, fitted on the validation split; divide the log-probabilities "
        "by it and renormalise (softmax) for calibrated probabilities. No prediction changes.",
        f"- Expected calibration error on test: {test['ece_before']:.4f} before, {test['ece_after']:.4f} after.",
        f"- {review_words(calibration['review'])}",
    ]


def card_text(
    *,
    run: str,
    preset: str,
    library: str,
    base_model: str,
    labels: Sequence[str],
    metrics: Mapping,
    figures: Mapping,
    calibration: Mapping,
    summary: Mapping,
    findings: Mapping,
    seeds: Mapping,
    commit: str,
    data_name: str,
    elsewhere: str | None = None,
) -> str:
    """README.md of a run's adapter (library peft) or merged folder (library transformers); `elsewhere`: the
    folder an adapter trained elsewhere (evaluate.adapters) was imported from."""
    meta = front_matter(
        run=run, library=library, base_model=base_model, labels=labels, figures=figures, data_name=data_name
    )
    made_by = f"elsewhere; imported from `{elsewhere}`, scored and described by" if elsewhere else "by"
    body = [
        f"# {run}: a text classifier for {len(labels)} labels",
        "",
        f"Fine-tuned from `{base_model}` with LoRA as a sequence classifier {made_by} the focalcls workflow "
        f"({FOLDERS[library]}).",
        "",
        "## Labels",
        "",
        ", ".join(f"`{label}`" for label in labels),
        "",
        "## Data",
        "",
        *data_table(labels, summary),
        "",
        "## Training",
        "",
        *training_lines(metrics, seeds, elsewhere),
        "",
        *test_lines(metrics, figures, calibration),
        "",
        "## Limits",
        "",
        *limits(preset, labels, summary, findings),
        "",
        "## Provenance",
        "",
        f"- Workflow commit: {commit}",
    ]
    return "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n\n" + "\n".join(body) + "\n"
