"""A preset's loss settings resolved against the training data into the arguments of focal_loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .errors import UserError


@dataclass(frozen=True)
class LossSpec:
    loss: str  # "focal" or "ce"
    form: str  # "softmax" or "sigmoid"
    gamma: float
    alpha: float | list[float] | None

    def as_dict(self) -> dict:
        return {"loss": self.loss, "form": self.form, "gamma": self.gamma, "alpha": self.alpha}


def resolve_preset(
    name: str, preset: Mapping, labels: Sequence[str], train_counts: Mapping[str, int]
) -> LossSpec:
    """Per-class alpha from 'balanced' / 'effective' / a list; cross-entropy is focal with gamma 0."""
    loss = preset.get("loss", "focal")
    form = preset.get("form", "softmax")
    gamma = 0.0 if loss == "ce" else float(preset.get("gamma", 2.0))
    alpha = preset.get("alpha")
    counts = np.array([max(int(train_counts.get(x, 0)), 1) for x in labels], dtype=float)
    if alpha == "balanced":
        weights = 1.0 / counts
        alpha = list(weights / weights.mean())
    elif alpha == "effective":
        beta = float(preset.get("beta", 0.999))
        weights = (1.0 - beta) / (1.0 - beta**counts)
        alpha = list(weights / weights.mean())
    elif isinstance(alpha, (list, tuple)):
        if len(alpha) != len(labels):
            raise UserError(
                f"presets.{name}.alpha has {len(alpha)} values but there are {len(labels)} labels {list(labels)}; "
                "give one weight per label in labels.json order, a single number, 'balanced' or 'effective'"
            )
        alpha = [float(a) for a in alpha]
    elif alpha is not None:
        alpha = float(alpha)
        if form == "sigmoid" and not 0.0 < alpha < 1.0:
            raise UserError(f"presets.{name}.alpha is {alpha}; in the sigmoid form alpha must lie in (0, 1)")
    return LossSpec(loss=loss, form=form, gamma=gamma, alpha=alpha)
