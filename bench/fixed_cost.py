"""What a training job costs besides its optimizer steps, phase by phase, and the floor its validation sets.

A demo training job starts an interpreter, imports torch, transformers and peft, loads the tokenizer and
the model, reads 64 rows for the head's initial bias, adds LoRA, builds the Trainer, then runs one
validation pass per epoch. This script times each phase on the threads a training job gets
(train.cpu_threads), the imports in fresh interpreters and a validation pass as the Trainer runs it, and
reads the product ceiling of the compute dtype at the validation pass's own shape between the passes.
The floor is what the imports and the validation passes would cost with every product at that ceiling:
no code change brings a job below it without reading fewer validation rows or running fewer passes.
Checkpoint and adapter writes are in each job's train_summary.json (phase_seconds), not here.
Uses the demo model and the demo splits (run the demo first), or pass your own.
    python bench/fixed_cost.py [--passes N] [--threads N] [--repeats 3]
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import demo_inputs  # bench/demo_inputs.py: Python puts the running script's folder on the path
from focalcls.config import complete_preset
from focalcls.data import class_counts
from focalcls.model import load_tokenizer
from focalcls.presets import resolve_preset
from focalcls.tables import read_table
from focalcls.trainer_setup import build_trainer
from focalcls.training import TrainSettings, compute_and_weight_types, prepared_model
from step_profile import matmul_gflops

IMPORTS = "import focalcls.training, focalcls.tables, focalcls.presets, focalcls.launch"


def seconds_in_fresh_interpreter(code: str, repeats: int) -> float:
    """Median wall seconds of `python -c code` (the interpreter's start included), run `repeats` times."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def main() -> None:
    p = demo_inputs.parser(__doc__)
    p.add_argument(
        "--threads", type=int, help="threads of a training job (default: the config's train.cpu_threads, else all)"
    )
    p.add_argument("--passes", type=int, help="validation passes a job runs (default: one per epoch of the config)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--preset", default="ce", help="the preset whose loss the Trainer is built with")
    args = p.parse_args()
    demo = demo_inputs.load(args)
    config, labels = demo.config, demo.labels
    train_section = config["train"]
    threads = args.threads or train_section["cpu_threads"] or torch.get_num_threads()  # null: every core
    passes = args.passes or math.ceil(train_section["epochs"])
    torch.set_num_threads(threads)
    bf16, dtype = compute_and_weight_types(train_section["precision"], config["model"]["dtype"])

    started = seconds_in_fresh_interpreter("pass", args.repeats)
    imports = seconds_in_fresh_interpreter(IMPORTS, args.repeats)
    frames = {split: read_table(demo.data / f"{split}.xlsx") for split in ("train", "val")}
    counts = class_counts(frames["train"], labels)
    settings = TrainSettings.from_config(train_section, seed=train_section["seeds"][0])
    loss = resolve_preset(args.preset, complete_preset(config["presets"][args.preset]), labels, counts)
    preset = {"loss": loss, "settings": settings, "max_length": config["model"]["max_length"]}
    _, tokenizer_seconds = timed(lambda: load_tokenizer(args.checkpoint))
    (model, tokenizer), prepared_seconds = timed(
        lambda: prepared_model(
            args.checkpoint, frames["train"], labels, counts, lora=config["lora"], dtype=dtype, bf16=bf16,
            trust_remote_code=False, preset_name=args.preset, **preset,
        )
    )  # fmt: skip
    trainer, trainer_seconds = timed(
        lambda: build_trainer(
            model, tokenizer, train=frames["train"], val=frames["val"], labels=labels, train_counts=counts,
            checkpoints=Path(tempfile.mkdtemp()), bf16=bf16, **preset,
        )
    )  # fmt: skip
    batches = list(trainer.get_eval_dataloader())
    tokens = sum(batch["input_ids"].numel() for batch in batches)  # padded, as the pass computes them
    dense = sum(q.numel() for n, q in model.named_parameters() if "embed" not in n and "lora_" not in n)
    flop = 2 * dense * tokens  # forward only
    shape = (round(tokens / len(batches)), model.config.hidden_size, model.config.intermediate_size)
    trainer.evaluate()  # warm-up: in a job the first pass follows an epoch of steps
    passes_seconds, ceilings = [], []
    for _ in range(args.repeats):
        passes_seconds.append(timed(trainer.evaluate)[1])
        ceilings.append(matmul_gflops(*shape, seconds=0.5, dtype=torch.bfloat16 if bf16 else torch.float32))
    validation, ceiling = statistics.median(passes_seconds), statistics.median(ceilings)
    report(
        threads=threads, bf16=bf16, passes=passes, started=started, imports=imports, tokenizer=tokenizer_seconds,
        prepared=prepared_seconds, trainer=trainer_seconds, validation=validation, flop=flop, ceiling=ceiling,
        rows=len(frames["val"]), tokens=tokens, shape=shape,
    )  # fmt: skip


def report(*, threads, bf16, passes, started, imports, tokenizer, prepared, trainer, validation, flop, ceiling,
           rows, tokens, shape) -> None:  # fmt: skip
    precision = "bf16" if bf16 else "fp32"
    print(f"{threads} thread(s), {precision}; {rows} validation rows, {tokens} padded tokens a pass")
    phases = {
        "interpreter start": started,
        "imports (interpreter start included)": imports,
        "tokenizer load (alone)": tokenizer,
        "tokenizer, model, head init, LoRA": prepared,
        "Trainer": trainer,
        f"validation, {passes} pass(es)": passes * validation,
    }
    for name, seconds in phases.items():
        print(f"  {name:<40}{seconds:8.2f} s")
    fixed = imports + prepared + trainer + passes * validation
    print(f"  {'fixed cost before any write':<40}{fixed:8.2f} s")
    rate = flop / validation / 1e9
    print(
        f"one validation pass: {flop / 1e12:.2f} TFLOP in {validation:.2f} s, {rate:.0f} GFLOP/s; {precision} "
        f"ceiling {ceiling:.0f} GFLOP/s at ({shape[0]} x {shape[1]}) @ ({shape[1]} x {shape[2]}): {rate / ceiling:.0%}"
    )
    floor = imports + passes * flop / (ceiling * 1e9)
    print(
        f"floor (imports, then {passes} validation pass(es) at the ceiling): {floor:.1f} s; "
        f"fixed cost {fixed:.1f} s; target 15 s: {'within reach' if floor <= 15 else 'out of reach'}"
    )


if __name__ == "__main__":
    main()
