"""Under-training: a preset stopped by its epoch limit while validation still improved is named."""

import pandas as pd

from focalcls.report.headline import undertrained_warning
from focalcls.report.tables import training_columns
from focalcls.train.convergence import still_improving

COLUMNS = ["step", "val_loss", "val_macro_f1"]


def log(*passes) -> pd.DataFrame:
    """A train_log.csv: a train-loss row between validation passes, as Trainer logs them."""
    rows = []
    for step, loss, f1 in passes:
        rows += [
            {"step": step - 1, "val_loss": None, "val_macro_f1": None},
            {"step": step, "val_loss": loss, "val_macro_f1": f1},
        ]
    return pd.DataFrame(rows, columns=COLUMNS)


def test_the_epoch_limit_with_the_last_pass_best_is_still_learning():
    rising = log((10, 1.2, 0.60), (20, 0.9, 0.74))
    assert still_improving({"stop_reason": "max_epochs", "best_step": 20}, rising)
    # The kept checkpoint (by validation loss) is earlier, but macro-F1 still rose at the last pass.
    assert still_improving({"stop_reason": "max_epochs", "best_step": 10}, log((10, 0.9, 0.60), (20, 1.0, 0.70)))


def test_a_plateau_or_early_stopping_is_not_under_training():
    plateau = log((10, 0.9, 0.74), (20, 1.0, 0.70))
    assert not still_improving({"stop_reason": "max_epochs", "best_step": 10}, plateau)
    assert not still_improving({"stop_reason": "early_stopping", "best_step": 20}, log((10, 1.2, 0.6), (20, 0.9, 0.7)))


def test_the_page_names_the_under_trained_presets():
    assert undertrained_warning([]) is None
    assert undertrained_warning(["ce", "balanced"]).startswith("Under-trained: ce, balanced stopped at train.epochs")
    early, limit = {"stop_reason": "early_stopping", "seconds": 10}, {"stop_reason": "max_epochs", "seconds": 20}
    assert training_columns([limit], True) == {"seconds": 20, "stopped": "epoch limit, still improving: under-trained"}
    assert training_columns([early, early], False) == {"seconds": 10, "stopped": "early stopping"}
    assert training_columns([early, limit, early], False)["stopped"] == (
        "early stopping (2 of 3 seeds), epoch limit (1 of 3 seeds)"
    )
    assert training_columns([], False) == {"seconds": None, "stopped": ""}  # a baseline
