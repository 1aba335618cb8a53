"""The report's headline in words: which preset, signed differences against ce and each baseline, and
the verdict on the rare classes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from focalcls.report.intervals import Interval

METRIC_WORDS = {"macro_f1": "macro-F1", "minority_f1": "minority-class F1"}
# Differences below this print as 0.000: they are called level, never a gain.
TIE_TOLERANCE = 5e-4


def compared_with(runs: Mapping[str, dict], best: str, baselines: Sequence[str]) -> list[str]:
    """What the chosen preset is set against in the headline: ce, then each baseline."""
    return [name for name in ("ce", *baselines) if name in runs and name != best]


def interval_words(interval: Interval | None) -> str:
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
        interval = interval_words((intervals or {}).get(metric))
        if abs(delta) < TIE_TOLERANCE:
            parts.append(f"level on {words} ({mine:.3f}{interval})")
            continue
        part = f"{'higher' if delta > 0 else 'lower'} on {words} by {delta:+.3f} ({theirs:.3f} to {mine:.3f}"
        if metric == "minority_f1" and theirs > 0:
            part += f", {delta / theirs:+.1%} relative"
        parts.append(part + interval + ")")
    return f"Against {other}, {best} is " + " and ".join(parts) + "."


def rare_class_verdict(runs: Mapping[str, dict], best: str, interval: Interval | None) -> str:
    """Does the chosen preset help the rare classes over ce? With an interval, a gain counts only when
    the whole 95% interval is above zero; without one, any difference of at least TIE_TOLERANCE."""
    if "ce" not in runs:
        return "There is no ce preset in this run, so the gain of focal loss over cross-entropy is not measured."
    if best == "ce":
        return "Plain cross-entropy (ce) is the best on validation: no focal-loss preset beat it on this data."
    delta = runs[best]["metrics"]["minority_f1"] - runs["ce"]["metrics"]["minority_f1"]
    figures = f"minority-class F1 {delta:+.3f} against ce on test{interval_words(interval)}"
    if runs[best].get("ensemble", {}).get("preset") == "ce":
        # A gain here is the ensemble's (seeds averaged, TF-IDF blended), not a loss's: say so, not "helps".
        return (
            f"{best} is an ensemble of plain cross-entropy (ce): no focal-loss preset beat it on this data; "
            f"the ensemble against ce alone: {figures}."
        )
    if interval is None:
        effect = (
            "helps" if delta >= TIE_TOLERANCE else "makes no difference" if delta > -TIE_TOLERANCE else "does not help"
        )
        return f"For the rare classes, {best} {effect}: {figures}."
    decision = told_apart(interval)
    if decision == "better":
        return f"For the rare classes, {best} helps: {figures}, above zero."
    if decision == "worse":
        return f"For the rare classes, {best} does worse than ce: {figures}, below zero."
    return f"For the rare classes, {best} and ce cannot be told apart: {figures}, which includes zero."


def told_apart(interval: Interval) -> str:
    """The decision a 95% interval of a difference supports: better or worse only when it excludes zero."""
    if interval[0] > 0:
        return "better"
    if interval[1] < 0:
        return "worse"
    return "cannot be told apart"


def against_ce(runs: Mapping[str, dict], intervals: Mapping[str, Mapping[str, Interval]]) -> list[dict]:
    """Every model that has an interval against ce: its signed differences, their intervals, and the decision
    each supports, so a preset no better than ce is never read as a gain."""
    rows = []
    for name, by_metric in intervals.items():
        row = {"name": name}
        for metric, interval in by_metric.items():
            delta = runs[name]["metrics"][metric] - runs["ce"]["metrics"][metric]
            row[metric] = {"delta": delta, "interval": interval, "decision": told_apart(interval)}
        rows.append(row)
    return rows


def cheap_model_advice(best: str, interval: Interval | None) -> str | None:
    """The headline's advice when the chosen model is not clearly better than TF-IDF on macro-F1 (the 95%
    interval of the difference does not lie above zero): the cheap model, more data or a larger model. None
    when it is clearly better, or when there is no interval (no TF-IDF baseline on the same test rows)."""
    if interval is None or told_apart(interval) == "better":
        return None
    where = "includes zero" if told_apart(interval) == "cannot be told apart" else "lies below zero"
    return (
        f"{best} is not clearly better than TF-IDF: its macro-F1 minus TF-IDF's has a 95% interval of "
        f"{interval[0]:+.3f} to {interval[1]:+.3f}, which {where}. The honest advice: use the TF-IDF model, which "
        "trains in seconds on a CPU, or label more data, or try a larger base model (model.checkpoint)."
    )


def undertrained_warning(names: Sequence[str]) -> str | None:
    """The headline's warning when presets stopped at their epoch limit while still learning."""
    if not names:
        return None
    return (
        f"Under-trained: {', '.join(names)} stopped at train.epochs while validation was still improving, so "
        "this comparison measures how fast each preset learns, not what it learns. Raise train.epochs (early "
        "stopping then decides when to stop) and run again."
    )


def headline(
    runs: Mapping[str, dict],
    best: str,
    metric: str,
    baselines: Sequence[str],
    intervals: Mapping[str, Mapping[str, Interval]] | None = None,
    undertrained: Sequence[str] = (),
) -> dict:
    """The answer to 'which preset, and does it help the rare classes?' in figures and in words."""
    intervals = intervals or {}
    chosen = runs[best]["metrics"]
    others = compared_with(runs, best, baselines)
    return {
        "best": best,
        "metric": metric,
        "macro_f1": chosen["macro_f1"],
        "minority_f1": chosen["minority_f1"],
        "minority_labels": chosen["minority_labels"],
        "val_value": chosen["val"][metric],
        "sentences": [comparison_sentence(best, other, runs, intervals.get(other)) for other in others],
        "verdict": rare_class_verdict(runs, best, intervals.get("ce", {}).get("minority_f1")),
        "warning": undertrained_warning(undertrained),
        "advice": cheap_model_advice(best, intervals.get("tfidf", {}).get("macro_f1")),
    }
