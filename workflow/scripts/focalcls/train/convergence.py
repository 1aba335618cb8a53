"""Did a preset finish learning? A run that hit its epoch limit while validation was still improving
compares how fast presets learn, not what they learn: the report says so."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd


def still_improving(summary: Mapping, log: pd.DataFrame) -> bool:
    """True when training stopped at train.epochs (not early stopping) and its last validation pass was
    its best: the kept checkpoint is the last one, or validation macro-F1 rose at that pass."""
    if summary["stop_reason"] != "max_epochs":
        return False
    passes = log.dropna(subset=["val_loss"])
    if passes.empty:
        return False
    last = passes.iloc[-1]
    earlier_best = passes["val_macro_f1"].iloc[:-1].max() if len(passes) > 1 else float("-inf")
    return summary["best_step"] == int(last["step"]) or float(last["val_macro_f1"]) > earlier_best
