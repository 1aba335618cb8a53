import math

import pytest
import torch

from conftest import synthetic_rows
from focalcls.train.head_init import SIGMOID_PRIOR, init_head, prior_logits
from focalcls.train.model import load_classifier, load_tokenizer, output_layer

COUNTS = [90, 9, 1]


def test_prior_logits_per_form():
    assert prior_logits(COUNTS, "softmax").exp().tolist() == pytest.approx([0.9, 0.09, 0.01])
    assert torch.sigmoid(prior_logits(COUNTS, "sigmoid")).tolist() == pytest.approx([SIGMOID_PRIOR] * 3)


@pytest.mark.parametrize("form", ["softmax", "sigmoid"])
def test_bias_free_head_starts_at_the_prior(tiny_model_dir, form):
    tokenizer = load_tokenizer(tiny_model_dir)
    model = load_classifier(tiny_model_dir, ["a", "b", "c"], pad_token_id=tokenizer.pad_token_id)
    assert output_layer(model).bias is None  # Qwen3's score layer, as in production
    texts = list(synthetic_rows({"sports": 20, "finance": 20, "tech": 24}).text)
    init_head(model, tokenizer, texts, COUNTS, form, max_length=16)
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    # Exactly the prior on average over the sample the head was set from, and near it on every row.
    assert logits.mean(dim=0).tolist() == pytest.approx(prior_logits(COUNTS, form).tolist(), abs=1e-4)
    assert (logits - prior_logits(COUNTS, form)).abs().max() < 0.5 * abs(math.log(SIGMOID_PRIOR))


def test_bf16_head_init_starts_at_the_prior_within_rounding_of_the_fp32_one(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    texts = list(synthetic_rows({"sports": 20, "finance": 20, "tech": 24}).text)
    heads = {}
    for bf16 in (False, True):
        model = load_classifier(tiny_model_dir, ["a", "b", "c"], pad_token_id=tokenizer.pad_token_id)
        init_head(model, tokenizer, texts, COUNTS, "softmax", max_length=16, bf16=bf16)
        heads[bf16] = output_layer(model).weight.detach().clone()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(**batch).logits.float()  # as a bf16 training step computes them
    assert logits.mean(dim=0).tolist() == pytest.approx(prior_logits(COUNTS, "softmax").tolist(), abs=0.05)
    # The previous path read the hidden states in float32: the head moves by bf16 rounding (0.2% here), no more.
    assert heads[True].dtype == torch.float32
    assert (heads[True] - heads[False]).norm() / heads[False].norm() < 0.02
    assert not torch.equal(heads[True], heads[False])  # autocast was on


def test_head_with_a_bias_gets_zero_weights_and_the_prior_as_bias():
    class WithBias(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.score = torch.nn.Linear(8, 3)

    model = WithBias()
    init_head(model, None, [], COUNTS, "softmax", max_length=16)
    assert model.score.weight.abs().sum() == 0
    assert model.score.bias.tolist() == pytest.approx(prior_logits(COUNTS, "softmax").tolist())
    # with a logit offset (logit-adjusted loss), the logits the loss reads, bias + offset, start at the prior
    offset = [0.5 * math.log(n / 100) for n in COUNTS]
    init_head(model, None, [], COUNTS, "softmax", max_length=16, logit_offset=offset)
    assert (model.score.bias + torch.tensor(offset)).tolist() == pytest.approx(prior_logits(COUNTS, "softmax").tolist())
