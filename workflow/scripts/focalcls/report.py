"""results/report.html: one self-contained page that says which preset to use and what it buys."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape

from . import plots
from .atomic import read_json, write_text
from .doctor import pinned_versions
from .inference import label_ids
from .metrics import BOOTSTRAP_RESAMPLES, bootstrap_f1_difference
from .selection import pick_best
from .tables import read_table

TABLE_COLUMNS = ["macro_f1", "minority_f1", "balanced_accuracy", "accuracy", "f1_std", "hard_sample_accuracy", "ece"]
LOWER_IS_BETTER = {"f1_std", "ece"}


def collect(results: Path, presets: Sequence[str], baselines: Sequence[str]) -> dict:
    """Read every stage's outputs; the report never recomputes a figure another stage wrote."""
    runs = {}
    for name in presets:
        folder = results / "presets" / name
        runs[name] = {
            "kind": "preset",
            "metrics": read_json(folder / "eval" / "metrics.json"),
            "binary": read_json(folder / "binary" / "metrics.json"),
            "train": read_json(folder / "train_summary.json"),
            "log": pd.read_csv(folder / "train_log.csv"),
            "confusion": pd.read_csv(folder / "eval" / "confusion.csv", index_col=0),
            "predictions": folder / "eval" / "predictions.xlsx",
        }
    for name in baselines:
        folder = results / "baselines" / name
        runs[name] = {
            "kind": "baseline",
            "metrics": read_json(folder / "metrics.json"),
            "predictions": folder / "predictions.xlsx",
        }
    return runs


METRIC_WORDS = {"macro_f1": "macro-F1", "minority_f1": "minority-class F1"}
LEVEL = 5e-4  # differences below this print as 0.000: called level, never a gain


Interval = tuple[float, float]


def compared_with(runs: Mapping[str, dict], best: str, baselines: Sequence[str]) -> list[str]:
    """What the chosen preset is set against in the headline: ce, then each baseline."""
    return [name for name in ("ce", *baselines) if name in runs and name != best]


def difference_intervals(runs: Mapping[str, dict], best: str, others: Sequence[str], labels: Sequence[str]) -> dict:
    """{other: {metric: 95% interval of best minus other}} from both models' test predictions, with the
    classes each metric averages over (every class in the test split; the minority classes)."""
    index = {label: i for i, label in enumerate(labels)}
    chosen = read_table(runs[best]["predictions"])
    truth = label_ids(chosen, labels, "true_label", missing=-1)
    metrics = runs[best]["metrics"]
    classes = {
        "macro_f1": [index[x] for x, c in metrics["per_class"].items() if c["support"] > 0],
        "minority_f1": [index[x] for x in metrics["minority_labels"]],
    }
    intervals = {}
    for other in others:
        theirs = read_table(runs[other]["predictions"])
        if list(theirs["text"]) != list(chosen["text"]):
            continue  # not the same test rows: no paired interval
        mine, their_ids = (label_ids(t, labels, "predicted_label", missing=-1) for t in (chosen, theirs))
        keep = (mine >= 0) & (their_ids >= 0) & (truth >= 0)
        intervals[other] = {
            m: bootstrap_f1_difference(truth[keep], mine[keep], their_ids[keep], c) for m, c in classes.items()
        }
    return intervals


def _interval_words(interval: Interval | None) -> str:
    return "" if interval is None else f"; 95% interval {interval[0]:+.3f} to {interval[1]:+.3f}"


def comparison_sentence(
    best: str, other: str, runs: Mapping[str, dict], intervals: Mapping[str, Interval] | None = None
) -> str:
    """One plain sentence with signed differences, e.g. 'Against ce, balanced is higher on macro-F1 by
    +0.018 (0.788 to 0.806; 95% interval -0.010 to +0.047) and ...'; a relative change is given for the
    minority classes, and the interval (when given) is what resampling the test rows produces."""
    parts = []
    for metric, words in METRIC_WORDS.items():
        mine, theirs = runs[best]["metrics"][metric], runs[other]["metrics"][metric]
        delta = mine - theirs
        interval = _interval_words((intervals or {}).get(metric))
        if abs(delta) < LEVEL:
            parts.append(f"level on {words} ({mine:.3f}{interval})")
            continue
        part = f"{'higher' if delta > 0 else 'lower'} on {words} by {delta:+.3f} ({theirs:.3f} to {mine:.3f}"
        if metric == "minority_f1" and theirs > 0:
            part += f", {delta / theirs:+.1%} relative"
        parts.append(part + interval + ")")
    return f"Against {other}, {best} is " + " and ".join(parts) + "."


def headline(
    runs: Mapping[str, dict],
    best: str,
    metric: str,
    baselines: Sequence[str],
    intervals: Mapping[str, Mapping[str, Interval]] | None = None,
) -> dict:
    """The answer to 'which preset, and does it help the rare classes?' in figures and in words. With
    intervals, a gain counts only when its whole 95% interval is above zero."""
    intervals = intervals or {}
    chosen = runs[best]["metrics"]
    others = compared_with(runs, best, baselines)
    if "ce" not in runs:
        verdict = "There is no ce preset in this run, so the gain of focal loss over cross-entropy is not measured."
    elif best == "ce":
        verdict = "Plain cross-entropy (ce) is the best on validation: no focal-loss preset beat it on this data."
    else:
        delta = chosen["minority_f1"] - runs["ce"]["metrics"]["minority_f1"]
        interval = intervals.get("ce", {}).get("minority_f1")
        figures = f"minority-class F1 {delta:+.3f} against ce on test{_interval_words(interval)}"
        if interval is None:
            effect = "helps" if delta >= LEVEL else "makes no difference" if delta > -LEVEL else "does not help"
            verdict = f"For the rare classes, {best} {effect}: {figures}."
        elif interval[0] > 0:
            verdict = f"For the rare classes, {best} helps: {figures}, above zero."
        elif interval[1] < 0:
            verdict = f"For the rare classes, {best} does worse than ce: {figures}, below zero."
        else:
            verdict = (
                f"For the rare classes, {best} and ce cannot be told apart on this test split: {figures}, "
                "which spans zero."
            )
    return {
        "best": best,
        "metric": metric,
        "macro_f1": chosen["macro_f1"],
        "minority_f1": chosen["minority_f1"],
        "minority_labels": chosen["minority_labels"],
        "val_value": chosen["val"][metric],
        "sentences": [comparison_sentence(best, other, runs, intervals.get(other)) for other in others],
        "verdict": verdict,
    }


def comparison_rows(runs: Mapping[str, dict]) -> tuple[list[dict], dict]:
    rows = []
    for name, run in runs.items():
        m, loss = run["metrics"], run["metrics"].get("loss", {})
        rows.append(
            {
                "name": name,
                "kind": run["kind"],
                "loss": loss.get("loss", ""),
                "form": loss.get("form", ""),
                "alpha": _short(loss.get("alpha")),
                "gamma": loss.get("gamma", ""),
                "val_macro_f1": m["val"]["macro_f1"],
                **{c: m[c] for c in TABLE_COLUMNS},
                "seconds": run.get("train", {}).get("seconds"),
            }
        )
    best = {}
    for column in ["val_macro_f1", *TABLE_COLUMNS]:
        values = [r[column] for r in rows]
        best[column] = min(values) if column in LOWER_IS_BETTER else max(values)
    return rows, best


def _short(alpha) -> str:
    if isinstance(alpha, list):
        return "per-class [" + ", ".join(f"{a:.2f}" for a in alpha[:3]) + (", ...]" if len(alpha) > 3 else "]")
    return "" if alpha is None else str(alpha)


def hardest_examples(predictions: Path, n: int) -> list[dict]:
    frame = read_table(predictions)
    frame["confidence"] = frame["confidence"].astype(float)
    wrong = frame[frame["true_label"] != frame["predicted_label"]]
    top = wrong.sort_values("confidence", ascending=False).head(n)
    return top[["text", "true_label", "predicted_label", "confidence"]].to_dict("records")


def provenance(config: Mapping, results: Path, repo: Path) -> dict:
    versions = {}
    for package in pinned_versions(repo / "envs" / "requirements.txt"):  # every pinned package, as installed
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    timings = []
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        frame = pd.read_csv(tsv, sep="\t")
        timings.append(
            {
                "rule": str(tsv.relative_to(results / "benchmarks").with_suffix("")),
                "seconds": float(frame["s"].iloc[-1]),
            }
        )
    return {
        "config_yaml": yaml.safe_dump(dict(config), allow_unicode=True, sort_keys=False),
        "versions": versions,
        "commit": commit or "unknown (not a git checkout)",
        "python": platform.python_version(),
        "hardware": _hardware(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "timings": timings,
        "seeds": {"split": config["split"]["seed"], "train": config["train"]["seed"]},
    }


def _hardware() -> str:
    import torch

    gpus = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    )
    cpu = platform.processor() or platform.machine()
    return f"CPU {cpu}, {os.cpu_count()} cores" + (f"; GPUs: {', '.join(gpus)}" if gpus else "; no GPU")


def build_report(
    *, results: Path, config: Mapping, presets: Sequence[str], baselines: Sequence[str], out: Path, repo: Path
) -> dict:
    labels = read_json(results / "data" / "labels.json")
    summary = read_json(results / "data" / "summary.json")
    runs = collect(results, presets, baselines)
    metric = config["report"]["selection_metric"]
    best = pick_best({name: runs[name]["metrics"] for name in presets}, metric)
    train_counts = summary["counts"]["train"]
    by_count = sorted(labels, key=lambda x: -train_counts.get(x, 0))
    rows, best_values = comparison_rows(runs)
    counts = {"train (before balancing)": summary["before_balance"]["train"], **summary["counts"]}
    lengths = {
        ("train (balanced)" if split == "train" else split): read_table(results / "data" / f"{split}.xlsx")["text"]
        .astype(str)
        .str.len()
        .tolist()
        for split in ("train", "val", "test")
    }
    figures = {
        "counts": plots.class_counts(counts, labels),
        "lengths": plots.text_lengths(lengths),
        "per_class": plots.per_class_f1(
            {n: {x: r["metrics"]["per_class"][x]["f1"] for x in labels} for n, r in runs.items()}, by_count
        ),
        "curves": plots.training_curves({n: runs[n]["log"] for n in presets}, {n: runs[n]["train"] for n in presets}),
        "confusion": [
            plots.confusion_matrix(runs[n]["confusion"], f"{n} (rows normalised)")
            for n in dict.fromkeys([best, "ce"])
            if n in presets
        ],
        "binary": plots.binary_curves({n: runs[n]["binary"] for n in presets}),
    }
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(default=True)
    )
    env.filters["num"] = lambda v, d=3: "" if v is None else (f"{v:.{d}f}" if isinstance(v, float) else str(v))
    answer = headline(
        runs, best, metric, baselines, difference_intervals(runs, best, compared_with(runs, best, baselines), labels)
    )
    html = env.get_template("report.html.j2").render(
        headline=answer,
        resamples=f"{BOOTSTRAP_RESAMPLES:,}",
        rows=rows,
        best_values=best_values,
        columns=["val_macro_f1", *TABLE_COLUMNS],
        labels=labels,
        summary=summary,
        figures=figures,
        binary={n: runs[n]["binary"] for n in presets},
        hardest=hardest_examples(runs[best]["predictions"], config["report"]["hardest_examples"]),
        provenance=provenance(config, results, repo),
    )
    write_text(out, html)
    return answer
