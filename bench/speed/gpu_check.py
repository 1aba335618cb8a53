"""GPU check on a Qwen3-1.7B-shaped model with random weights: LoRA training tokens/s (bf16 where the GPU
computes it; --precision fp16 runs the loss-scaled fp16 path of GPUs without bf16) and model FLOP
utilisation through the train stage, and evaluation rows/s through the evaluate stage's inference.

The shape is Qwen3-1.7B's published configuration (28 layers, hidden 2048, 16 heads, 8 KV heads,
intermediate 6144, vocab 151,936); weights are random, so the figures are speed, not quality. Texts
are synthetic, 40-250 characters, one token per character. --shape tiny runs the same path in seconds
on a CPU (the test suite does).
    python -m bench.speed.gpu_check [--rows 8192] [--batch-size 16] [--max-length 256] [--shape qwen3-1.7b|tiny]
        [--precision auto|bf16|fp16|fp32] [--json figures.json]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench.common.timing import timed
from focalcls.config.loading import complete, complete_preset
from focalcls.devices.precision import inference_types
from focalcls.evaluate.inference import predict_probs
from focalcls.train.presets import resolve_preset
from focalcls.train.settings import TrainSettings
from focalcls.train.training import train_preset

SHAPE_FIELDS = (
    "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
    "head_dim", "vocab_size",
)  # fmt: skip
SHAPES = {
    "qwen3-1.7b": dict(zip(SHAPE_FIELDS, (2048, 6144, 28, 16, 8, 128, 151936), strict=True)),
    "tiny": dict(zip(SHAPE_FIELDS, (64, 128, 2, 4, 2, 16, 4096), strict=True)),
}
LABELS = [f"class{i}" for i in range(10)]
# Dense bf16 peaks (SXM parts unless named); matched as whole words, longest name first.
PEAK_TFLOPS = {
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H200 NVL": 835.0,
    "H200": 989.0,
    "H100": 989.0,
    "A100": 312.0,
    "L40S": 362.0,
    "A10": 125.0,
    "L4": 121.0,
}


def build_model(folder: Path, shape: str) -> None:
    """A character-level tokenizer over the synthetic alphabet and a random Qwen3 of the given shape."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    alphabet = [chr(0x4E00 + i) for i in range(3000)]
    vocab = {token: i for i, token in enumerate(["<pad>", "<unk>", "<eos>", *alphabet])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", eos_token="<eos>")
    tokenizer.save_pretrained(folder)
    config = Qwen3Config(
        **SHAPES[shape], max_position_embeddings=4096, pad_token_id=0, eos_token_id=2, tie_word_embeddings=True
    )
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen3ForCausalLM(config).to(torch.bfloat16 if torch.cuda.is_available() else torch.float32)
    model.save_pretrained(folder, safe_serialization=True)


def synthetic_rows(n: int, seed: int) -> pd.DataFrame:
    """Texts of 40-250 characters; labels long-tailed (class i has weight 1 / (i + 1))."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, len(LABELS) + 1)
    labels = rng.choice(LABELS, size=n, p=weights / weights.sum())
    texts = ["".join(chr(0x4E00 + c) for c in rng.integers(0, 3000, rng.integers(40, 251))) for _ in range(n)]
    return pd.DataFrame({"text": texts, "label": labels})


def train_on_shape(folder: Path, out_dir: Path, train: pd.DataFrame, args: argparse.Namespace) -> dict:
    """One epoch of the train stage (focal sigmoid, LoRA on every linear layer); its train_summary."""
    counts = {x: int((train["label"] == x).sum()) for x in LABELS}
    return train_preset(
        train=train,
        val=synthetic_rows(128, 1),
        labels=LABELS,
        checkpoint=str(folder),
        loss=resolve_preset(
            "moderate", complete_preset({"form": "sigmoid", "alpha": 0.25, "gamma": 2.0}), LABELS, counts
        ),
        lora={"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"},
        settings=TrainSettings.from_config(
            {**complete({})["train"], "epochs": 1, "batch_size": args.batch_size, "precision": args.precision}, seed=42
        ),
        max_length=args.max_length,
        out_dir=out_dir,
        preset_name="moderate",
        dtype="auto",
        trust_remote_code=False,
    )


def evaluation_seconds(folder: Path, adapter: Path, texts: list[str], args: argparse.Namespace, gpu: bool) -> float:
    """Seconds the evaluate stage's inference takes over `texts`, after one warm-up batch."""
    from focalcls.train.model import load_trained_classifier

    bf16, dtype = inference_types(args.precision, "auto")
    model, tokenizer, _ = load_trained_classifier(str(folder), adapter, LABELS, dtype=dtype)
    if gpu:
        model.to("cuda")

    def predict(rows: list[str]) -> None:
        predict_probs(
            model,
            tokenizer,
            rows,
            form="sigmoid",
            max_length=args.max_length,
            batch_size=args.eval_batch_size,
            bf16=bf16,
        )
        if gpu:
            torch.cuda.synchronize()

    predict(texts[: args.eval_batch_size])  # warm-up
    return timed(lambda: predict(texts))[1]


def matmul_parameters(shape: str) -> int:
    """Matmul parameters in the layers (attention projections and MLP); embeddings are lookups and the
    head is tiny."""
    layer = SHAPES[shape]
    hidden, heads, kv, head_dim = (
        layer["hidden_size"],
        layer["num_attention_heads"],
        layer["num_key_value_heads"],
        layer["head_dim"],
    )
    per_layer = hidden * head_dim * (2 * heads + 2 * kv) + 3 * hidden * layer["intermediate_size"]
    return per_layer * layer["num_hidden_layers"]


def peak_tflops(gpu: str | None) -> float | None:
    """The GPU's dense bf16 peak, when its name is in PEAK_TFLOPS."""
    names = sorted(PEAK_TFLOPS, key=len, reverse=True)
    return next((PEAK_TFLOPS[k] for k in names if gpu and re.search(rf"\b{re.escape(k)}\b", gpu)), None)


def main() -> None:
    # One GPU: the figures are per GPU, and Trainer would otherwise spread one process over all of them.
    # Set before torch first asks CUDA for its devices, which reads the variable once.
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "0")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", choices=list(SHAPES), default="qwen3-1.7b")
    p.add_argument("--rows", type=int, default=8192, help="training rows (one epoch); evaluation uses as many")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--eval-batch-size", type=int, default=128)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--precision", choices=["auto", "bf16", "fp16", "fp32"], default="auto", help="as train.precision")
    p.add_argument("--json", type=Path, help="also write the figures and the library versions to this file")
    args = p.parse_args()
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    if gpu is None and args.shape != "tiny":
        sys.exit("no GPU visible: this check is for a GPU box (use --shape tiny for a CPU smoke run)")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        build_s = timed(lambda: build_model(folder, args.shape))[1]
        if gpu:  # the peak below is training's, not the build's (a float32 model before its cast to bf16)
            torch.cuda.reset_peak_memory_stats()
        train = synthetic_rows(args.rows, 0)
        summary = train_on_shape(folder, Path(tmp) / "preset", train, args)
        texts = list(synthetic_rows(args.rows, 2)["text"])
        eval_s = evaluation_seconds(folder, Path(tmp) / "preset" / "adapter", texts, args, bool(gpu))

    result = figures(args, gpu, summary, tokens=int(sum(min(len(t), args.max_length) for t in train["text"])))
    result.update(build_seconds=round(build_s, 1), eval_rows=len(texts), eval_rows_per_s=round(len(texts) / eval_s, 1))
    print_figures(result, args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


def figures(args: argparse.Namespace, gpu: str | None, summary: dict, tokens: int) -> dict:
    """Training speed over the optimizer steps alone (the stage's load, head init, validation and writes
    apart), the peak memory, and the versions the box runs, which need not be this checkout's pins."""
    dense = matmul_parameters(args.shape)
    steps_s = max(summary["phase_seconds"]["optimizer steps"], 1e-3)  # written to 0.01 s: a tiny run can read 0
    # LoRA training: forward 2N and backward 2N per token (input gradients only; the base weights are frozen).
    achieved = 4 * dense * tokens / steps_s / 1e12
    peak = peak_tflops(gpu)
    versions = {name: importlib.metadata.version(name) for name in ("torch", "transformers", "peft", "accelerate")}
    return {
        "device": gpu or "CPU", "shape": args.shape, "matmul_parameters": dense, "bf16": summary["bf16"],
        "fp16": summary["fp16"], "batch_size": args.batch_size, "max_length": args.max_length,
        "steps": summary["steps"], "tokens": tokens,
        "optimizer_step_seconds": round(steps_s, 3), "stage_seconds": round(summary["seconds"], 1),
        "phase_seconds": summary["phase_seconds"], "tokens_per_s": round(tokens / steps_s, 1),
        "tflops": round(achieved, 2), "mfu": round(achieved / peak, 4) if peak else None, "peak_tflops": peak,
        "peak_memory_gib": round(summary["peak_memory_mb"] / 1024, 2), "versions": versions,
    }  # fmt: skip


def print_figures(r: dict, args: argparse.Namespace) -> None:
    print(
        f"device: {r['device']}; shape {r['shape']}: {r['matmul_parameters'] / 1e6:,.0f}M matmul parameters in the "
        f"layers; model built and saved in {r['build_seconds']:.0f} s; "
        + ", ".join(f"{k} {v}" for k, v in r["versions"].items())
    )
    print(
        f"training (train stage, focal sigmoid, bf16 {r['bf16']}, fp16 {r['fp16']}, batch {r['batch_size']}, "
        f"max_length {r['max_length']}): {r['steps']} steps, {r['tokens']} tokens in "
        f"{r['optimizer_step_seconds']:.1f} s of optimizer steps ({r['stage_seconds']:.1f} s of stage time, model "
        f"load, head init and validation included); peak memory {r['peak_memory_gib']:.1f} GiB"
    )
    print(
        f"training tokens/s: {r['tokens_per_s']:.0f}; {r['tflops']:.1f} TFLOP/s achieved (4N per token)"
        + (f", model FLOP utilisation {r['mfu']:.1%} of {r['peak_tflops']:.0f} TFLOP/s bf16 dense" if r["mfu"] else "")
    )
    print(f"evaluation rows/s: {r['eval_rows_per_s']:.0f} ({r['eval_rows']} rows, batch {args.eval_batch_size})")


if __name__ == "__main__":
    main()
