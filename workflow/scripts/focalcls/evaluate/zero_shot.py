"""Zero-shot baseline: the base causal LM alone scores each label name after a prompt listing them all.

It shows what fine-tuning buys. Each batch of prompts runs once; the key/value cache is then repeated
once per label, so the label names cost a few tokens each instead of a whole prompt each.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch

from focalcls.core.errors import UserError
from focalcls.evaluate.inference import batch_memory_advice, progress


def build_prompts(tokenizer, texts: Sequence[str], labels: Sequence[str], template: str, max_length: int) -> list[str]:
    """The template filled in, each text first cut to max_length tokens."""
    cut = tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
    listed = ", ".join(labels)
    return [template.format(text=tokenizer.decode(ids), labels=listed) for ids in cut]


def label_tokens(tokenizer, labels: Sequence[str], prefix: str) -> list[list[int]]:
    tokens = [tokenizer(prefix + label, add_special_tokens=False)["input_ids"] for label in labels]
    empty = [label for label, ids in zip(labels, tokens) if not ids]
    if empty:
        raise UserError(
            f"labels {empty} tokenise to nothing with direct.answer_prefix {prefix!r}; check the label names"
        )
    return tokens


# What the continuation pass's logits may take at once (the model's own and their float32 copy): each label
# token of each row holds a whole vocabulary's logits, 1.5 MB for a vocabulary of 262k, so 16 rows and 21
# labels of 20 tokens took 14 GB in one pass. Labels are scored in groups that fit.
LOGITS_BUDGET_BYTES = 1 << 30


@torch.inference_mode()
def label_log_likelihoods(model, tokenizer, prompts: Sequence[str], labels: Sequence[list[int]]) -> torch.Tensor:
    """(len(prompts), len(labels)): log p(label tokens | prompt), summed over the label's tokens."""
    device = next(model.parameters()).device
    side, tokenizer.padding_side = tokenizer.padding_side, "left"  # every prompt then ends at the last column
    try:
        batch = tokenizer(list(prompts), padding=True, return_tensors="pt").to(device)
    finally:
        tokenizer.padding_side = side
    mask = batch["attention_mask"]
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    # Only the last position's logits are needed here: a vocabulary of 262k makes all of them gigabytes.
    out = model(
        input_ids=batch["input_ids"], attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1
    )
    first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)
    scores = torch.stack([first[:, ids[0]] for ids in labels], dim=1)
    longest = max(len(ids) for ids in labels)
    if longest == 1:
        return scores.cpu()
    per_label = len(prompts) * (longest - 1) * first.shape[-1] * (4 + out.logits.element_size())
    group = max(1, LOGITS_BUDGET_BYTES // per_label)
    pad, cache = tokenizer.pad_token_id, out.past_key_values
    rest = [
        continuation_log_likelihoods(model, cache, mask, positions, labels[start : start + group], pad)
        for start in range(0, len(labels), group)
    ]
    return (scores + torch.cat(rest, dim=1)).cpu()


def continuation_log_likelihoods(
    model, prompt_cache, mask: torch.Tensor, positions: torch.Tensor, labels: Sequence[list[int]], pad: int
) -> torch.Tensor:
    """(prompts, len(labels)): log p of each label's tokens after its first, in one pass: each prompt's cache
    repeated once per label (a copy: the next group repeats it again); feeding label tokens 0..m-2 gives the
    logits that predict tokens 1..m-1."""
    device, longest = mask.device, max(len(ids) for ids in labels)
    n, k = len(mask), len(labels)
    if longest == 1:  # every label of the group is one token: nothing follows it
        return torch.zeros((n, k), device=device)
    feed = torch.full((k, longest - 1), pad, dtype=torch.long, device=device)
    target = torch.zeros_like(feed)
    valid = torch.zeros(feed.shape, dtype=mask.dtype, device=device)
    for j, ids in enumerate(labels):
        m = len(ids) - 1
        feed[j, :m], target[j, :m], valid[j, :m] = torch.tensor(ids[:-1]), torch.tensor(ids[1:]), 1
    cache = copy.deepcopy(prompt_cache)
    cache.batch_repeat_interleave(k)
    follow = model(
        input_ids=feed.repeat(n, 1),
        attention_mask=torch.cat([mask.repeat_interleave(k, dim=0), valid.repeat(n, 1)], dim=1),
        position_ids=positions[:, -1:].repeat_interleave(k, dim=0) + torch.arange(1, longest, device=device),
        past_key_values=cache,
        use_cache=True,
    )
    logits = follow.logits.float()
    picked = logits.gather(-1, target.repeat(n, 1)[..., None]).squeeze(-1) - logits.logsumexp(dim=-1)
    return (picked * valid.repeat(n, 1)).sum(dim=1).view(n, k)


def zero_shot_probs(
    model,
    tokenizer,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    template: str,
    answer_prefix: str = " ",
    calibrate: bool = True,
    max_length: int = 256,
    batch_size: int = 16,
    bf16: bool = False,
) -> np.ndarray:
    """Class probabilities: a softmax over the label names' log-likelihoods, rows batched by length.

    calibrate subtracts each label's log-likelihood after the prompt with an empty text (contextual
    calibration, Zhao et al. 2021), which removes the model's bias towards some label names; on the
    demo (200 test rows) it lifts zero-shot macro-F1 from 0.02 to 0.36 (English prompt), 0.22 to 0.45 (Chinese).
    """
    prompts = build_prompts(tokenizer, texts, labels, template, max_length)
    tokens = label_tokens(tokenizer, labels, answer_prefix)
    device = next(model.parameters()).device
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        empty = build_prompts(tokenizer, [""], labels, template, max_length)
        bias = label_log_likelihoods(model, tokenizer, empty, tokens) if calibrate else torch.zeros(1, len(labels))
    lengths = [len(p) for p in prompts]
    order = np.argsort(lengths, kind="stable")
    out = np.zeros((len(texts), len(labels)), dtype=np.float32)
    with progress(len(order), "zero-shot") as bar, batch_memory_advice(batch_size, "direct.batch_size"):
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                scores = label_log_likelihoods(model, tokenizer, [prompts[i] for i in idx], tokens)
            out[idx] = torch.softmax(scores - bias, dim=1).numpy()
            bar.update(len(idx))
    return out
