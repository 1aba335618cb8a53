"""A preset's loss settings resolved against the training data into the arguments of focal_loss."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from focalcls.config.checks import check_alpha_length
from focalcls.config.loading import complete_preset
from focalcls.train.logit_adjustment import log_prior


@dataclass(frozen=True)
class LossSpec:
    loss: str  # "focal", "ce" or "logit-adjusted"
    form: str  # "softmax" or "sigmoid"
    gamma: float
    alpha: float | list[float] | None
    # logit-adjusted: tau * log(training prior) per class, added to the logits inside the loss only, so
    # the model's own logits (what evaluation and predict read) learn the class-balanced decision.
    logit_offset: list[float] | None = None
    tau: float | None = None  # logit-adjusted: the offset's scale, as the config gave it
    label_smoothing: float = 0.0

    def as_dict(self) -> dict:
        """The settings as adapters, summaries and resume fingerprints record them; the logit adjustment's
        and label smoothing's only where they apply, so other presets' records (and checkpoints to resume)
        stay as they were."""
        spec = {"loss": self.loss, "form": self.form, "gamma": self.gamma, "alpha": self.alpha}
        if self.logit_offset is not None:
            spec.update(logit_offset=self.logit_offset, tau=self.tau)
        if self.label_smoothing:
            spec.update(label_smoothing=self.label_smoothing)
        return spec

    def loss_arguments(self) -> dict:
        """focal_loss's keyword arguments for this preset (callers that weigh rows otherwise set alpha None)."""
        return {
            "gamma": self.gamma,
            "alpha": self.alpha,
            "form": self.form,
            "logit_offset": self.logit_offset,
            "label_smoothing": self.label_smoothing,
        }


def resolve_preset(name: str, preset: Mapping, labels: Sequence[str], train_counts: Mapping[str, int]) -> LossSpec:
    """Per-class alpha from 'balanced' / 'effective' / a list; cross-entropy is focal with gamma 0.
    `preset` is completed from the schema first: the train rule leaves out settings at their defaults that
    runs trained before them never had (tau of other losses, label_smoothing 0).

    'balanced' (inverse frequency) and 'effective' (Cui et al. 2019) weights have mean 1 in the
    softmax form. In the sigmoid form alpha is the positive side's share, so each weight w becomes
    w / (1 + w): 0.5 for a class of average weight, more for rarer classes, always inside (0, 1).
    """
    preset = complete_preset(preset)
    check_alpha_length(name, preset["alpha"], len(labels))
    loss, form, alpha = preset["loss"], preset["form"], preset["alpha"]
    gamma = float(preset["gamma"]) if loss == "focal" else 0.0
    counts = np.array([max(int(train_counts.get(x, 0)), 1) for x in labels], dtype=float)
    # Menon et al. 2021: cross-entropy of logits + tau log(prior); tau 1 is the balanced softmax (Ren et al. 2020).
    tau = float(preset["tau"]) if loss == "logit-adjusted" else None
    offset = None if tau is None else [float(v) for v in tau * log_prior(labels, train_counts)]
    if alpha in ("balanced", "effective"):
        if alpha == "balanced":
            weights = 1.0 / counts
        else:
            beta = float(preset["beta"])
            weights = (1.0 - beta) / (1.0 - beta**counts)
        weights = weights / weights.mean()
        alpha = [float(w) for w in (weights / (1.0 + weights) if form == "sigmoid" else weights)]
    elif isinstance(alpha, (list, tuple)):
        alpha = [float(a) for a in alpha]
    elif alpha is not None:
        alpha = float(alpha)
    smoothing = float(preset["label_smoothing"])
    return LossSpec(loss, form, gamma, alpha, logit_offset=offset, tau=tau, label_smoothing=smoothing)
