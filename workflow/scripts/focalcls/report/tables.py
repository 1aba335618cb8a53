"""The report's tables: every model side by side, and the chosen preset's most confident errors."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from focalcls.core.spreadsheets import read_table

TABLE_COLUMNS = [
    *("macro_f1", "minority_f1", "balanced_accuracy", "accuracy", "f1_std", "hard_sample_accuracy"),
    *("ece", "ece_calibrated"),
]
LOWER_IS_BETTER = {"f1_std", "ece", "ece_calibrated"}
# An adapter of evaluate.adapters: scored here, trained by another tool, so nothing is known of its training.
ELSEWHERE = {"seconds": None, "stopped": "trained elsewhere (evaluate.adapters)"}


def comparison_rows(runs: Mapping[str, dict], undertrained: Sequence[str] = ()) -> tuple[list[dict], dict]:
    """One row per model (its loss settings, validation macro-F1, test figures, training seconds, why its
    training stopped, or that it was trained elsewhere), and the best value of each figure column, which the
    page shows in bold."""
    rows = []
    for name, run in runs.items():
        m, loss = run["metrics"], run["metrics"].get("loss", {})  # a baseline's metrics have no loss
        seeds = run.get("seed_train", [])  # baselines: none
        training = ELSEWHERE if run["kind"] == "adapter" else training_columns(seeds, name in undertrained)
        rows.append(
            {
                "name": name,
                "kind": run["kind"],
                "loss": loss_cell(loss),
                "form": loss.get("form", ""),
                **alpha_cells(loss.get("alpha")),
                "note": "; ".join(note for note in (run.get("adjustment"), run.get("blend")) if note),
                "gamma": loss.get("gamma", ""),
                "val_macro_f1": m["val"]["macro_f1"],
                # tau is chosen on validation and scored there; a blend's validation rows are scored out of fold.
                "val_tuned": run["kind"] == "adjusted",
                **{c: m[c] for c in TABLE_COLUMNS},
                "spread": run["spread"],  # None with one seed
                **training,
            }
        )
    return rows, best_values(rows)


def loss_cell(loss: Mapping) -> str:
    """The loss with what changes it beyond form, gamma and alpha (their own columns): tau, label smoothing."""
    extras = [f"tau {loss['tau']:g}"] if loss.get("tau") is not None else []
    extras += [f"label smoothing {loss['label_smoothing']:g}"] if loss.get("label_smoothing") else []
    return loss.get("loss", "") + (f" ({', '.join(extras)})" if extras else "")


def training_columns(summaries: Sequence[dict], still_improving: bool) -> dict:
    """Mean training seconds over the seeds, and why training stopped (with a count per reason when the
    seeds stopped for different ones)."""
    if not summaries:
        return {"seconds": None, "stopped": ""}
    if still_improving:
        return {"seconds": mean_seconds(summaries), "stopped": "epoch limit, still improving: under-trained"}
    reasons = Counter("early stopping" if s["stop_reason"] == "early_stopping" else "epoch limit" for s in summaries)
    seeds = len(summaries)
    words = (
        next(iter(reasons))
        if len(reasons) == 1
        else ", ".join(f"{r} ({n} of {seeds} seeds)" for r, n in reasons.items())
    )
    return {"seconds": mean_seconds(summaries), "stopped": words}


def mean_seconds(summaries: Sequence[dict]) -> float:
    return sum(s["seconds"] for s in summaries) / len(summaries)


def best_values(rows: list[dict]) -> dict:
    best = {}
    for column in ["val_macro_f1", *TABLE_COLUMNS]:
        # An adjusted row's validation figure is the best over its tau grid on that same split: not comparable.
        values = [r[column] for r in rows if not (column == "val_macro_f1" and r["val_tuned"])]
        best[column] = min(values) if column in LOWER_IS_BETTER else max(values)
    return best


def alpha_cells(alpha) -> dict[str, str]:
    """A per-class alpha list as one word, its weights the cell's tooltip (the list made rows five lines tall);
    a scalar or a name as it is."""
    if isinstance(alpha, list):
        return {"alpha": "per-class", "alpha_weights": ", ".join(f"{a:.3g}" for a in alpha)}
    return {"alpha": "" if alpha is None else str(alpha), "alpha_weights": ""}


def hardest_examples(predictions: Path, n: int) -> list[dict]:
    """The `n` wrong predictions made with the highest confidence."""
    frame = read_table(predictions)
    frame["confidence"] = frame["confidence"].astype(float)
    wrong = frame[frame["true_label"] != frame["predicted_label"]]
    top = wrong.sort_values("confidence", ascending=False).head(n)
    return top[["text", "true_label", "predicted_label", "confidence"]].to_dict("records")
