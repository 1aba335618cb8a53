"""Evaluation throughput: batched, length-sorted inference (the evaluate rule) vs one row at a time.

Same model, same rows, same threads, measured side by side in one run. Uses the demo model and the
demo test split (run the demo first), or pass --checkpoint/--rows for your own.
    python -m bench.speed.eval_throughput [--n 300] [--batch-size 64]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from bench.common.demo_inputs import REPO
from bench.common.timing import timed
from focalcls.core.spreadsheets import read_table
from focalcls.devices.precision import use_bf16
from focalcls.evaluate.inference import predict_probs
from focalcls.train.model import add_lora, load_classifier, load_tokenizer


def one_at_a_time(model, tokenizer, texts, max_length: int, bf16: bool) -> np.ndarray:
    """What a first script does: tokenise and classify each row on its own."""
    out = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for text in texts:
            batch = tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt")
            out.append(torch.softmax(model(**batch).logits.float(), dim=-1)[0].numpy())
    return np.stack(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(REPO / "resources/models/demo"))
    p.add_argument("--rows", default=str(REPO / "results/data/test.xlsx"))
    p.add_argument("--n", type=int, default=300, help="rows measured")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--precision", choices=["auto", "bf16", "fp16", "fp32"], default="auto", help="as train.precision")
    args = p.parse_args()

    texts = list(read_table(args.rows)["text"])[: args.n]
    tokenizer = load_tokenizer(args.checkpoint)
    model = load_classifier(
        args.checkpoint, ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"], pad_token_id=tokenizer.pad_token_id
    )
    model = add_lora(model, r=16, alpha=32, dropout=0.0, target_modules="all-linear").eval()
    bf16 = use_bf16(args.precision)
    predict_probs(
        model, tokenizer, texts[:8], form="softmax", max_length=args.max_length, batch_size=8, bf16=bf16
    )  # warm-up

    batched, batched_s = timed(
        lambda: predict_probs(
            model, tokenizer, texts, form="softmax", max_length=args.max_length, batch_size=args.batch_size, bf16=bf16
        )
    )
    single, single_s = timed(lambda: one_at_a_time(model, tokenizer, texts, args.max_length, bf16))

    agree = float((batched.argmax(axis=1) == single.argmax(axis=1)).mean())
    # Forward FLOPs ~ 2 x (parameters outside the embedding table) per token: how close batching gets to
    # the machine's arithmetic limit, which bounds any speed-up.
    tokens = sum(len(ids) for ids in tokenizer(texts, truncation=True, max_length=args.max_length)["input_ids"])
    dense = sum(p.numel() for n, p in model.named_parameters() if "embed" not in n)
    print(
        f"model {args.checkpoint}, {len(texts)} rows, {torch.get_num_threads()} threads, {'bf16' if bf16 else 'fp32'}"
    )
    print(
        f"batched (batch {args.batch_size}, sorted by length): {len(texts) / batched_s:8.1f} rows/s ({batched_s:.1f} s)"
    )
    print(f"one row at a time:                    {len(texts) / single_s:8.1f} rows/s ({single_s:.1f} s)")
    print(
        f"batched compute: {2 * dense * tokens / batched_s / 1e9:.0f} GFLOP/s "
        f"({tokens} tokens, {dense / 1e6:.0f}M parameters outside the embeddings)"
    )
    print(f"same predicted class on {agree:.1%} of rows")
    print(f"speed-up: {single_s / batched_s:.1f}x (target: 10x or better)")


if __name__ == "__main__":
    main()
