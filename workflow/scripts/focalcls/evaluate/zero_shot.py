"""Zero-shot baseline: the base causal LM alone scores each label name after a prompt listing them all.

It shows what fine-tuning buys. Each batch of prompts runs once; the key/value cache is then repeated
once per label, so the label names cost a few tokens each instead of a whole prompt each.
"""

from __future__ import annotations

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


@torch.inference_mode()
def label_log_likelihoods(model, tokenizer, prompts: Sequence[str], labels: Sequence[list[int]]) -> torch.Tensor:
    """(len(prompts), len(labels)): log p(label tokens | prompt), summed over the label's tokens."""
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id
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

    # The rest of every label's tokens in one pass: each prompt's cache repeated once per label; feeding
    # label tokens 0..m-2 gives the logits that predict tokens 1..m-1.
    n, k = len(prompts), len(labels)
    feed = torch.full((k, longest - 1), pad, dtype=torch.long, device=device)
    target = torch.zeros((k, longest - 1), dtype=torch.long, device=device)
    valid = torch.zeros((k, longest - 1), dtype=mask.dtype, device=device)
    for j, ids in enumerate(labels):
        m = len(ids) - 1
        feed[j, :m], target[j, :m], valid[j, :m] = torch.tensor(ids[:-1]), torch.tensor(ids[1:]), 1
    cache = out.past_key_values
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
    return (scores + (picked * valid.repeat(n, 1)).sum(dim=1).view(n, k)).cpu()


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
