"""Focal loss (Lin et al. 2017) in the multi-class softmax form and the paper's per-class sigmoid form, with
cross-entropy (gamma 0) and the logit-adjusted loss (an offset on the logits) as its special cases."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

# (1 - p_t) ** gamma has an infinite derivative at p_t = 1 when gamma < 1; clamping keeps gradients finite.
_MIN_MODULATOR_BASE = 1e-6
_warned_scalar_alpha = False


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    gamma: float,
    alpha: float | Sequence[float] | torch.Tensor | None = None,
    form: str = "softmax",
    reduction: str = "mean",
    ignore_index: int = -100,
    logit_offset: Sequence[float] | torch.Tensor | None = None,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Focal loss of `logits` (N, C) against integer `targets` (N,), computed in float32.

    softmax form: -alpha[y] (1 - p_y)^gamma log p_y with p = softmax(logits); alpha is None, a scalar
    (which only rescales the loss) or one weight per class. 'mean' divides by the number of rows, so
    gamma=0 equals weighted cross-entropy with reduction='sum' divided by N.
    sigmoid form: one binary focal term per class on one-hot targets, alpha weighting the positive
    side and 1 - alpha the negatives; summed over classes, averaged over rows.
    logit_offset (one value per class) is added to the logits first: the logit-adjusted loss of Menon et
    al. 2021 with offset tau * log(prior).
    label_smoothing eps (softmax form only): the target becomes q = (1 - eps) one-hot + eps / C and the loss
    -alpha[y] sum_k q_k (1 - p_k)^gamma log p_k; with gamma 0 and no alpha, torch's cross-entropy with
    label_smoothing=eps.
    """
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    if not 0 <= label_smoothing < 1 or (label_smoothing and form != "softmax"):
        raise ValueError(f"label_smoothing must be in [0, 1) and needs the softmax form, got {label_smoothing}, {form}")
    logits = logits.float()
    if logit_offset is not None:
        logits = logits + torch.as_tensor(logit_offset, dtype=torch.float32, device=logits.device)
    keep = targets != ignore_index
    logits, targets = logits[keep], targets[keep]
    if form == "softmax":
        per_row = _softmax_focal(logits, targets, gamma, alpha, label_smoothing)
    elif form == "sigmoid":
        per_row = _sigmoid_focal(logits, targets, gamma, alpha)
    else:
        raise ValueError(f"form must be 'softmax' or 'sigmoid', got {form!r}")
    if reduction == "none":
        return per_row
    if reduction == "sum":
        return per_row.sum()
    if reduction == "mean":
        return per_row.sum() / max(per_row.numel(), 1)
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _modulator(one_minus_p: torch.Tensor, gamma: float) -> torch.Tensor:
    if gamma == 0:
        return torch.ones_like(one_minus_p)
    return one_minus_p.clamp(min=_MIN_MODULATOR_BASE) ** gamma


def _softmax_focal(logits: torch.Tensor, targets: torch.Tensor, gamma: float, alpha, smoothing: float) -> torch.Tensor:
    log_p = F.log_softmax(logits, dim=-1)
    if smoothing:  # every class's term, each weighted by its share of the smoothed target
        q = torch.full_like(log_p, smoothing / log_p.shape[1]).scatter_add_(
            1, targets[:, None], torch.full_like(log_p[:, :1], 1 - smoothing)
        )
        loss = -(q * _modulator(-torch.expm1(log_p), gamma) * log_p).sum(dim=1)
    else:
        log_p = log_p.gather(1, targets[:, None]).squeeze(1)
        loss = -_modulator(-torch.expm1(log_p), gamma) * log_p
    if alpha is None:
        return loss
    if isinstance(alpha, (int, float)):
        _warn_scalar_alpha(float(alpha))
        return float(alpha) * loss
    weights = torch.as_tensor(alpha, dtype=torch.float32, device=logits.device)
    if weights.numel() != logits.shape[1]:
        raise ValueError(f"alpha has {weights.numel()} weights but there are {logits.shape[1]} classes")
    return weights[targets] * loss


def _sigmoid_focal(logits: torch.Tensor, targets: torch.Tensor, gamma: float, alpha) -> torch.Tensor:
    onehot = F.one_hot(targets, logits.shape[1]).float()
    bce = F.binary_cross_entropy_with_logits(logits, onehot, reduction="none")
    p = torch.sigmoid(logits)
    one_minus_p_t = p * (1 - onehot) + (1 - p) * onehot
    loss = _modulator(one_minus_p_t, gamma) * bce
    if alpha is not None:
        a = torch.as_tensor(alpha, dtype=torch.float32, device=logits.device)
        loss = (a * onehot + (1 - a) * (1 - onehot)) * loss
    return loss.sum(dim=1)


def _warn_scalar_alpha(alpha: float) -> None:
    global _warned_scalar_alpha
    if not _warned_scalar_alpha:
        log.warning(
            "a scalar alpha (%s) in the softmax form only rescales the loss and does not rebalance classes; "
            "use a per-class list, 'balanced', or form: sigmoid",
            alpha,
        )
        _warned_scalar_alpha = True


def class_probabilities(logits: torch.Tensor, form: str) -> torch.Tensor:
    """Probabilities over classes as the loss form reads the logits (sigmoid scores renormalised)."""
    logits = logits.float()
    if form == "sigmoid":
        p = torch.sigmoid(logits)
        return p / p.sum(dim=-1, keepdim=True).clamp(min=1e-12)
    return torch.softmax(logits, dim=-1)
