import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM

from focalcls.evaluate.zero_shot import build_prompts, label_log_likelihoods, label_tokens, zero_shot_probs
from focalcls.train.model import load_tokenizer

LABELS = ["球队", "银行利率", "医院"]
TEXTS = ["今天比赛进球", "我们消息", "记者报道疫苗药品健康", "芯片"]


@pytest.fixture(scope="module")
def lm(tiny_model_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(), load_tokenizer(tiny_model_dir)


def one_at_a_time(model, tokenizer, prompt: str, label_ids: list[int]) -> float:
    """The reference: prompt + label in one unpadded sequence, log-probabilities summed by hand."""
    prompt_ids = tokenizer(prompt)["input_ids"]
    ids = torch.tensor([prompt_ids + label_ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
    return sum(logp[len(prompt_ids) - 1 + t, token].item() for t, token in enumerate(label_ids))


@pytest.mark.parametrize("budget", [None, 1], ids=["all-labels-at-once", "one-label-a-pass"])
def test_cached_batched_scores_equal_one_sequence_at_a_time(lm, budget, monkeypatch):
    """Whether the labels' continuations fit one pass or each takes its own (the logits' memory budget)."""
    from focalcls.evaluate import zero_shot

    if budget:
        monkeypatch.setattr(zero_shot, "LOGITS_BUDGET_BYTES", budget)
    model, tokenizer = lm
    labels = [*LABELS, "球"]  # one token: with a label a pass, a pass with nothing after the first token
    prompts = build_prompts(tokenizer, TEXTS, labels, "{text}。类别：{labels}。答：", max_length=16)
    tokens = label_tokens(tokenizer, labels, "")
    assert len({len(t) for t in tokens}) > 1 and min(map(len, tokens)) == 1  # padding, and a one-token label
    got = label_log_likelihoods(model, tokenizer, prompts, tokens)
    expected = [[one_at_a_time(model, tokenizer, p, t) for t in tokens] for p in prompts]
    assert got.numpy() == pytest.approx(np.array(expected), abs=1e-4)


def test_probabilities_come_back_in_input_order(lm):
    model, tokenizer = lm
    probs = zero_shot_probs(
        model, tokenizer, TEXTS, LABELS, template="{text}：{labels}：", answer_prefix="", batch_size=3
    )
    assert probs.shape == (4, 3) and np.allclose(probs.sum(axis=1), 1)
    one = zero_shot_probs(model, tokenizer, TEXTS[2:3], LABELS, template="{text}：{labels}：", answer_prefix="")
    assert probs[2] == pytest.approx(one[0], abs=1e-5)


def test_calibration_removes_what_the_prompt_alone_favours(lm):
    model, tokenizer = lm
    template = "{text}：{labels}："
    tokens = label_tokens(tokenizer, LABELS, "")
    raw = label_log_likelihoods(model, tokenizer, build_prompts(tokenizer, TEXTS, LABELS, template, 16), tokens)
    empty = label_log_likelihoods(model, tokenizer, build_prompts(tokenizer, [""], LABELS, template, 16), tokens)
    got = zero_shot_probs(model, tokenizer, TEXTS, LABELS, template=template, answer_prefix="", calibrate=True)
    assert got == pytest.approx(torch.softmax(raw - empty, dim=1).numpy(), abs=1e-5)
    plain = zero_shot_probs(model, tokenizer, TEXTS, LABELS, template=template, answer_prefix="", calibrate=False)
    assert plain == pytest.approx(torch.softmax(raw, dim=1).numpy(), abs=1e-5)
