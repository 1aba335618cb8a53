import math

import pytest
import torch
import torch.nn.functional as F

from focalcls.train.losses import class_probabilities, focal_loss


def test_softmax_focal_matches_hand_computed_value():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
    targets = torch.tensor([0, 2])
    p0 = math.exp(2) / (math.exp(2) + 1 + math.exp(-1))
    p1 = 1 / 3
    expected = (-((1 - p0) ** 2) * math.log(p0) - (1 - p1) ** 2 * math.log(p1)) / 2
    assert focal_loss(logits, targets, gamma=2.0).item() == pytest.approx(expected, rel=1e-6)


def test_gamma_zero_without_alpha_is_cross_entropy():
    torch.manual_seed(0)
    logits, targets = torch.randn(32, 5), torch.randint(0, 5, (32,))
    assert torch.allclose(focal_loss(logits, targets, gamma=0.0), F.cross_entropy(logits, targets), atol=1e-6)


def test_gamma_zero_with_class_alpha_is_weighted_ce_sum_over_n():
    torch.manual_seed(1)
    logits, targets = torch.randn(40, 4), torch.randint(0, 4, (40,))
    alpha = [0.1, 0.5, 1.0, 2.0]
    expected = F.cross_entropy(logits, targets, weight=torch.tensor(alpha), reduction="sum") / 40
    assert torch.allclose(focal_loss(logits, targets, gamma=0.0, alpha=alpha), expected, atol=1e-6)


def test_sigmoid_form_matches_hand_computed_reference():
    logits = torch.tensor([[1.0, -2.0], [0.0, 3.0]])
    targets = torch.tensor([0, 0])
    gamma, alpha = 2.0, 0.25
    total = 0.0
    for row, t in zip(logits.tolist(), targets.tolist()):
        for c, x in enumerate(row):
            p = 1 / (1 + math.exp(-x))
            y = 1.0 if c == t else 0.0
            p_t = p if y else 1 - p
            a_t = alpha if y else 1 - alpha
            total += -a_t * (1 - p_t) ** gamma * math.log(p_t)
    got = focal_loss(logits, targets, gamma=gamma, alpha=alpha, form="sigmoid")
    assert got.item() == pytest.approx(total / 2, rel=1e-5)


def test_ignore_index_rows_are_dropped():
    logits = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    full = focal_loss(logits[:1], torch.tensor([0]), gamma=2.0)
    assert focal_loss(logits, torch.tensor([0, -100]), gamma=2.0) == pytest.approx(full.item())


@pytest.mark.parametrize("gamma", [0.5, 2.0])
@pytest.mark.parametrize("form", ["softmax", "sigmoid"])
def test_finite_loss_and_gradients_in_bf16_at_saturation(gamma, form):
    logits = torch.tensor([[80.0, -80.0, 0.0], [-80.0, 80.0, 0.0]], dtype=torch.bfloat16, requires_grad=True)
    loss = focal_loss(logits, torch.tensor([0, 1]), gamma=gamma, alpha=0.25 if form == "sigmoid" else None, form=form)
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert torch.isfinite(logits.grad.float()).all()


def test_label_smoothing_at_gamma_zero_is_torch_cross_entropy_with_label_smoothing():
    torch.manual_seed(2)
    logits, targets = torch.randn(32, 6), torch.randint(0, 6, (32,))
    for eps in (0.05, 0.3):
        expected = F.cross_entropy(logits, targets, label_smoothing=eps)
        assert torch.allclose(focal_loss(logits, targets, gamma=0.0, label_smoothing=eps), expected, atol=1e-6)
    assert not torch.allclose(
        focal_loss(logits, targets, gamma=0.0, label_smoothing=0.3), F.cross_entropy(logits, targets)
    )


def test_smoothed_focal_loss_matches_hand_computed_value():
    """Each class's term keeps its own modulator; a class alpha weighs the row by its true class."""
    logits, targets = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0])
    p = torch.softmax(logits, dim=-1)[0].tolist()
    q = [0.9 + 0.1 / 3, 0.1 / 3, 0.1 / 3]
    expected = -3.0 * sum(q[k] * (1 - p[k]) ** 2 * math.log(p[k]) for k in range(3))
    got = focal_loss(logits, targets, gamma=2.0, alpha=[3.0, 1.0, 1.0], label_smoothing=0.1)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_bad_arguments_are_rejected():
    logits, targets = torch.zeros(2, 3), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="gamma"):
        focal_loss(logits, targets, gamma=-1.0)
    for eps, form in ((1.0, "softmax"), (-0.1, "softmax"), (0.1, "sigmoid")):
        with pytest.raises(ValueError, match="label_smoothing"):
            focal_loss(logits, targets, gamma=1.0, form=form, label_smoothing=eps)
    with pytest.raises(ValueError, match="3 classes"):
        focal_loss(logits, targets, gamma=1.0, alpha=[1.0, 2.0])


def test_class_probabilities_sum_to_one():
    logits = torch.randn(4, 3)
    for form in ("softmax", "sigmoid"):
        assert torch.allclose(class_probabilities(logits, form).sum(dim=1), torch.ones(4), atol=1e-6)


def test_logit_adjusted_loss_matches_hand_computed_value():
    # prior (0.75, 0.25), tau 1: row 1 reads logits (1 + ln 0.75, ln 0.25), row 2 (ln 0.75, 2 + ln 0.25)
    logits, targets = torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 1])
    offset = [math.log(0.75), math.log(0.25)]
    per_row = focal_loss(logits, targets, gamma=0.0, reduction="none", logit_offset=offset)
    assert per_row.tolist() == pytest.approx([0.1156710, 0.3407530], abs=1e-6)
    # a rare class's correct row costs more than under cross-entropy, a frequent class's less
    plain = F.cross_entropy(logits, targets, reduction="none")
    assert per_row[1] > plain[1] and per_row[0] < plain[0]


def test_logit_adjusted_loss_at_tau_zero_is_cross_entropy():
    logits, targets = torch.randn(8, 4), torch.randint(0, 4, (8,))
    zero = focal_loss(logits, targets, gamma=0.0, logit_offset=[0.0] * 4)
    assert zero.item() == pytest.approx(F.cross_entropy(logits, targets).item(), rel=1e-6)
