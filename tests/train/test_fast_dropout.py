import math

import pandas as pd
import pytest
import torch

from focalcls.train.fast_dropout import FastDropout, keep_mask, use_fast_lora_dropout
from focalcls.train.model import add_lora, load_classifier

N = 1_000_000


def within_five_sd(observed: float, p: float, n: int = N) -> bool:
    return abs(observed - p) < 5 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9])
def test_each_element_is_kept_with_probability_one_minus_p(p):
    torch.manual_seed(0)
    mask = keep_mask(torch.Size([1000, 1000]), p)
    assert mask.dtype == torch.bool and mask.shape == (1000, 1000)
    assert within_five_sd(mask.float().mean().item(), 1 - p)


def test_the_four_lanes_of_one_draw_are_independent():
    torch.manual_seed(0)
    mask = keep_mask(torch.Size([N]), 0.5)
    for shift in (1, 2, 3):  # neighbours share a 64-bit draw; agreeing at rate 1/2 means no shared bits
        assert within_five_sd((mask[shift:] == mask[:-shift]).float().mean().item(), 0.5, N - shift)


def test_an_odd_number_of_elements_gets_a_mask_of_its_own_shape():
    assert keep_mask(torch.Size([3, 7, 5]), 0.1).shape == (3, 7, 5)


def test_training_output_keeps_the_mean_and_the_gradient_flows_through_kept_elements_only():
    torch.manual_seed(1)
    drop = FastDropout(0.2).train()
    x = torch.ones(N, requires_grad=True)
    y = drop(x)
    assert within_five_sd(y.mean().item() * drop.keep, drop.keep)  # mean of kept * 1/keep is 1
    kept = y != 0
    assert torch.equal(y[kept], torch.full_like(y[kept], 1 / drop.keep))
    y.sum().backward()
    assert torch.equal(x.grad, kept.float() / drop.keep)


def test_the_mask_follows_the_seed_and_evaluation_passes_the_input_through():
    drop = FastDropout(0.3).train()
    x = torch.randn(64, 32)
    torch.manual_seed(5)
    first = drop(x)
    torch.manual_seed(5)
    assert torch.equal(first, drop(x))
    assert drop.eval()(x) is x


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1])
def test_a_rate_that_is_not_a_dropout_is_refused(p):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        FastDropout(p)


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_every_lora_dropout_of_a_model_is_replaced_and_a_zero_rate_is_left_alone(tiny_model_dir, dropout):
    model = load_classifier(str(tiny_model_dir), ["a", "b"], pad_token_id=0, dtype="float32")
    model = add_lora(model, r=2, alpha=4, dropout=dropout, target_modules="all-linear")
    lora_layers = [m for m in model.modules() if isinstance(getattr(m, "lora_dropout", None), torch.nn.ModuleDict)]
    assert use_fast_lora_dropout(model) == (len(lora_layers) if dropout else 0)
    kinds = {type(m.lora_dropout["default"]) for m in lora_layers}
    assert kinds == ({FastDropout} if dropout else {torch.nn.Identity})


def test_a_cpu_training_model_uses_the_fast_dropout(tiny_model_dir):
    from focalcls.train.presets import LossSpec
    from focalcls.train.training import prepared_model
    from helpers import train_settings

    rows = pd.DataFrame({"text": ["one two", "three four"], "label": ["a", "b"]})
    model, _ = prepared_model(
        str(tiny_model_dir), rows, ["a", "b"], {"a": 1, "b": 1},
        loss=LossSpec(loss="ce", form="softmax", gamma=0.0, alpha=None),
        lora={"r": 2, "alpha": 4, "dropout": 0.05, "target_modules": "all-linear"},
        settings=train_settings(), max_length=8, dtype="float32", bf16=False, trust_remote_code=False, preset_name="p",
    )  # fmt: skip
    drops = [m for m in model.modules() if isinstance(m, FastDropout)]
    assert drops and all(d.p == 0.05 for d in drops)
    assert not any(type(m) is torch.nn.Dropout and m.p == 0.05 for m in model.modules())
