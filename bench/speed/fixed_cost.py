"""What a training job costs besides its optimizer steps, phase by phase, and the floor its validation sets.

A demo training job starts an interpreter, imports torch, transformers and peft, reads its tables, loads
the tokenizer and the model, reads 64 rows for the head's initial bias, adds LoRA, builds the Trainer,
then runs one validation pass per epoch. This script times each phase as a job meets it, on the threads
a training job gets (train.cpu_threads): the imports and a tokenizer load in fresh interpreters, the rest
in this process, the first validation pass (cold) apart from the later ones. Between passes it reads the
product ceiling of the compute dtype at each of the pass's own product shapes. The floor is what the
imports and the validation passes would cost with every product at its shape's ceiling: with one
interpreter a job, imports as they are, no code change brings a job below it without reading fewer
validation rows or running fewer passes. Checkpoint and adapter writes are in each job's
train_summary.json (phase_seconds), not here.
Uses the demo model and the demo splits (run the demo first), or pass your own.
    python -m bench.speed.fixed_cost [--passes N] [--threads N] [--repeats 3]
"""

from __future__ import annotations

import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from functools import partial
from pathlib import Path

import torch

from bench.common import demo_inputs
from bench.common.timing import matmul_gflops, median_seconds, timed
from focalcls.config.loading import complete_preset
from focalcls.core.spreadsheets import read_table
from focalcls.data.cleaning import class_counts
from focalcls.train.model import HEAD_NAMES
from focalcls.train.presets import resolve_preset
from focalcls.train.settings import TrainSettings
from focalcls.train.trainer import build_trainer
from focalcls.train.training import compute_and_weight_types, prepared_model

HEADS = "|".join(HEAD_NAMES)  # the classification head's module names
# What workflow/scripts/train.py imports before it trains: its own imports, then focalcls.train.training.
IMPORTS = (
    "import focalcls.core.cli, focalcls.core.atomic, focalcls.config.loading, focalcls.devices.launch; "
    "import focalcls.train.presets, focalcls.core.spreadsheets, focalcls.train.training"
)
TOKENIZER = "import sys, time; from focalcls.train.model import load_tokenizer; t = time.perf_counter(); "
TOKENIZER += "load_tokenizer(sys.argv[1], trust_remote_code=sys.argv[2] == '1'); print(time.perf_counter() - t)"


def fresh_interpreter(code: str, threads: int, repeats: int, *args: str) -> tuple[float, list[str]]:
    """Median wall seconds of `python -c code args` (the interpreter's start included), with the thread
    count a job sets before torch loads, run `repeats` times; and what each run printed."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    argv = [sys.executable, "-c", code, *args]
    run = partial(subprocess.run, argv, env=env, check=True, capture_output=True, text=True)
    seconds, runs = median_seconds(run, repeats)
    return seconds, [done.stdout.strip() for done in runs]


def product_shapes(model: torch.nn.Module) -> Counter:
    """(in, out, wrapped) of every frozen product of the layers, with how often each occurs: each Linear of
    the base model, seen through LoRA's wrapper where lora.target_modules gave it one (wrapped), LoRA's
    own factors, the classification head (a few hundred FLOP a row) and a multimodal model's vision tower
    (never run on text) left out."""
    shapes = Counter()
    for name, m in model.named_modules():
        if hasattr(m, "lora_A"):
            shapes[(m.base_layer.in_features, m.base_layer.out_features, True)] += 1
        elif isinstance(m, torch.nn.Linear) and not re.search(rf"lora_[AB]|base_layer|\b(?:{HEADS})\b|vision_", name):
            shapes[(m.in_features, m.out_features, False)] += 1
    return shapes


def pass_flop(shapes: Counter, tokens: int, r: int) -> float:
    """A validation pass's products: the frozen weights' and, where wrapped, the LoRA factors' (attention
    scores left out: at 16 tokens a row they are under 1% of it)."""
    return sum(n * 2 * tokens * (i * o + (r * (i + o) if wrapped else 0)) for (i, o, wrapped), n in shapes.items())


def seconds_at_ceiling(shapes: Counter, tokens: int, rows_a_batch: int, dtype: torch.dtype) -> float:
    """The frozen weights' products of a pass, each shape at the rate this machine reaches for it now."""
    return sum(
        n * 2 * tokens * i * o / (matmul_gflops(rows_a_batch, i, o, seconds=0.3, dtype=dtype) * 1e9)
        for (i, o, _), n in shapes.items()
    )


def main() -> None:
    p = demo_inputs.parser(__doc__)
    p.add_argument(
        "--threads", type=int, help="threads of a training job (default: the config's train.cpu_threads, else all)"
    )
    p.add_argument("--passes", type=int, help="validation passes a job runs (default: one per epoch of the config)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--preset", help="the preset whose loss the Trainer is built with (default: the config's first)")
    args = p.parse_args()
    demo = demo_inputs.load(args)
    presets = list(demo.config["presets"])
    preset_name = args.preset or presets[0]
    if preset_name not in presets:
        p.error(f"--preset {preset_name}: not a preset of {args.config}; its presets: {', '.join(presets)}")
    train_section = demo.config["train"]
    threads = args.threads or train_section["cpu_threads"] or torch.get_num_threads()  # null: every core
    passes = args.passes or math.ceil(train_section["epochs"])
    torch.set_num_threads(threads)
    precision, _ = compute_and_weight_types(train_section["precision"], demo.config["model"]["dtype"])
    phases = {}
    phases["imports (interpreter start included)"], _ = fresh_interpreter(IMPORTS, threads, args.repeats)
    remote = str(int(demo.config["model"]["trust_remote_code"]))
    _, loads = fresh_interpreter(TOKENIZER, threads, args.repeats, args.checkpoint, remote)
    model, batches, later = in_process_phases(demo, preset_name, args.repeats, phases)
    phases[f"validation, {passes - 1} more pass(es)"] = (passes - 1) * later
    tokens = sum(batch["input_ids"].numel() for batch in batches)  # padded, as the pass computes them
    shapes, compute = product_shapes(model), torch.bfloat16 if precision == "bf16" else torch.float32
    print(f"{threads} thread(s), {compute}; {tokens} padded validation tokens a pass in {len(batches)} batches")
    print(f"  {'tokenizer load alone (fresh interpreter)':<44}{statistics.median(map(float, loads)):8.2f} s")
    for name, seconds in phases.items():
        print(f"  {name:<44}{seconds:8.2f} s")
    print(f"  {'fixed cost before any write':<44}{sum(phases.values()):8.2f} s")
    report(
        flop=pass_flop(shapes, tokens, demo.config["lora"]["r"]),
        later=later,
        at_ceiling=seconds_at_ceiling(shapes, tokens, round(tokens / len(batches)), compute),
        big=matmul_gflops(2048, 2048, 2048, seconds=0.5, dtype=compute),
        passes=passes,
        imports=phases["imports (interpreter start included)"],
        fixed=sum(phases.values()),
    )


def in_process_phases(demo, preset_name: str, repeats: int, phases: dict) -> tuple[torch.nn.Module, list, float]:
    """Times, into `phases`, what a job does in its own process up to and including its first validation
    pass; returns the model, the validation batches and the median seconds of `repeats` later passes.
    train_preset's steps are called one by one, not train_preset: it runs them as one call, and what is
    timed here is each step apart, then more passes of the Trainer it builds and the shapes of its model."""
    config, labels = demo.config, demo.labels
    compute, dtype = compute_and_weight_types(config["train"]["precision"], config["model"]["dtype"])
    frames, phases["reading train and val"] = timed(
        lambda: {split: read_table(demo.data / f"{split}.xlsx") for split in ("train", "val")}
    )
    counts = class_counts(frames["train"], labels)
    settings = TrainSettings.from_config(config["train"], seed=config["train"]["seeds"][0])
    loss = resolve_preset(preset_name, complete_preset(config["presets"][preset_name]), labels, counts)
    preset = {"loss": loss, "settings": settings, "max_length": config["model"]["max_length"]}
    (model, tokenizer), phases["tokenizer, model, head init, LoRA"] = timed(
        lambda: prepared_model(
            demo.checkpoint, frames["train"], labels, counts, lora=config["lora"], dtype=dtype, bf16=compute == "bf16",
            trust_remote_code=config["model"]["trust_remote_code"], preset_name=preset_name, **preset,
        )
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as checkpoints:
        trainer, phases["Trainer"] = timed(
            lambda: build_trainer(
                model, tokenizer, train=frames["train"], val=frames["val"], labels=labels, train_counts=counts,
                checkpoints=Path(checkpoints), compute=compute, **preset,
            )
        )  # fmt: skip
        phases["validation, first pass (cold)"] = timed(trainer.evaluate)[1]
        later, _ = median_seconds(trainer.evaluate, repeats)
        return model, list(trainer.get_eval_dataloader()), later


def report(*, flop: float, later: float, at_ceiling: float, big: float, passes: int, imports: float, fixed: float):
    rate = flop / later / 1e9
    print(
        f"a warm validation pass: {flop / 1e12:.2f} TFLOP (products, LoRA's included) in {later:.2f} s, "
        f"{rate:.0f} GFLOP/s; its frozen weights' products at their shapes' ceilings: {at_ceiling:.2f} s "
        f"({at_ceiling / later:.0%} of the pass); ceiling at 2048^3: {big:.0f} GFLOP/s"
    )
    floor = imports + passes * at_ceiling
    print(
        f"floor (imports, then {passes} validation pass(es) at the ceilings): {floor:.1f} s; "
        f"fixed cost {fixed:.1f} s; target 15 s: {'within reach' if floor <= 15 else 'out of reach'}"
    )


if __name__ == "__main__":
    main()
