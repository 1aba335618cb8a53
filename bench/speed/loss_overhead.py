"""Step time with focal loss vs cross-entropy: same LoRA model, same batches, side by side in one run.

Each repetition runs one training step (forward, loss, backward, optimizer step) per loss on the same
batch, in turn, so drift in the machine's speed hits every loss alike; medians are compared. Because
a whole step is noisy at the 1% level on a shared CPU, the loss computation alone (forward and
backward on the step's logits, timed over many calls) is also measured and set against the step time.
Uses the demo model and the demo training split (run the demo first), or pass your own.
    python -m bench.speed.loss_overhead [--repeats 30] [--batch-size 16]
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pandas as pd
import torch
from transformers import DataCollatorWithPadding

from bench.common import demo_inputs
from focalcls.config.loading import complete_preset
from focalcls.core.spreadsheets import read_table
from focalcls.data.cleaning import LABEL, TEXT
from focalcls.data.splitting import class_counts
from focalcls.devices.precision import use_bf16
from focalcls.train.losses import focal_loss
from focalcls.train.model import add_lora, load_classifier, load_tokenizer
from focalcls.train.presets import LossSpec, resolve_preset

LOSSES = {
    "ce": {"loss": "ce"},
    "focal softmax (balanced, gamma 2)": {"loss": "focal", "form": "softmax", "alpha": "balanced", "gamma": 2.0},
    "focal sigmoid (0.25, gamma 2)": {"loss": "focal", "form": "sigmoid", "alpha": 0.25, "gamma": 2.0},
}


def fixed_batches(
    train: pd.DataFrame, labels: list[str], tokenizer, batch_size: int, count: int, max_length: int
) -> list:
    """`count` consecutive batches of the training rows, collated once so every loss sees the same ones."""
    collate = DataCollatorWithPadding(tokenizer)
    index = {label: i for i, label in enumerate(labels)}
    batches = []
    for r in range(count):
        rows = train.iloc[r * batch_size : (r + 1) * batch_size]
        encoded = tokenizer(list(rows[TEXT]), truncation=True, max_length=max_length)
        batch = collate(
            [{"input_ids": i, "attention_mask": m} for i, m in zip(encoded["input_ids"], encoded["attention_mask"])]
        )
        batches.append((batch, torch.tensor([index[x] for x in rows[LABEL]])))
    return batches


def timed_step(model, optimizer, batch, targets, loss_fn: Callable, bf16: bool) -> tuple[float, torch.Tensor]:
    """Seconds of one training step (forward, under bf16 autocast if asked; loss_fn(logits, targets);
    backward; optimizer step), and its logits."""
    started = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(**batch).logits
    loss_fn(logits, targets).backward()
    optimizer.step()
    optimizer.zero_grad()
    return time.perf_counter() - started, logits.detach()


def step_times(
    model: torch.nn.Module, batches: list, specs: dict[str, LossSpec], bf16: bool
) -> tuple[dict[str, list[float]], torch.Tensor]:
    """Seconds of one training step per loss on each batch but the first (the warm-up), interleaved; and
    the logits of one step, for timing the loss alone."""
    optimizer = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-5)

    def step(batch, targets, spec) -> tuple[float, torch.Tensor]:
        def loss(logits, targets):
            return focal_loss(logits, targets, gamma=spec.gamma, alpha=spec.alpha, form=spec.form)

        return timed_step(model, optimizer, batch, targets, loss, bf16)

    for spec in specs.values():  # warm-up: first calls allocate and pick kernels
        step(*batches[0], spec)
    times = {name: [] for name in specs}
    for batch, targets in batches[1:]:
        for name, spec in specs.items():
            times[name].append(step(batch, targets, spec)[0])
    return times, step(*batches[1], specs["ce"])[1]


def loss_only(logits: torch.Tensor, targets: torch.Tensor, spec: LossSpec, calls: int = 2000) -> float:
    """Seconds of the loss's forward and backward alone, on fixed logits."""
    leaf = logits.float().clone().requires_grad_(True)
    started = time.perf_counter()
    for _ in range(calls):
        focal_loss(leaf, targets, gamma=spec.gamma, alpha=spec.alpha, form=spec.form).backward()
    return (time.perf_counter() - started) / calls


def print_results(times: dict[str, list[float]], alone: dict[str, float]) -> None:
    base = statistics.median(times["ce"])

    def paired(name) -> list[float]:
        """Step time over ce's on the same batch in the same repetition: the machine's drift cancels."""
        return [t / c - 1 for t, c in zip(times[name], times["ce"])]

    print(
        f"{'loss':<36} {'median step s':>14} {'paired vs ce':>13} {'(quartiles)':>16} "
        f"{'loss fwd+bwd us':>16} {'share':>8}"
    )
    for name in times:
        q1, median, q3 = statistics.quantiles(paired(name), n=4)
        print(
            f"{name:<36} {statistics.median(times[name]):14.3f} {median:+13.1%} {f'{q1:+.1%} .. {q3:+.1%}':>16} "
            f"{alone[name] * 1e6:16.0f} {alone[name] / base:8.3%}"
        )
    worst = max(alone[n] - alone["ce"] for n in times)
    step = max(statistics.median(paired(n)) for n in times if n != "ce")
    print(
        f"focal loss overhead: {worst / base:.3%} of a step from the loss computation alone; "
        f"whole steps, paired median {step:+.1%} (target: at most 2% slower)"
    )


def main() -> None:
    p = demo_inputs.parser(__doc__)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=16)
    args = p.parse_args()

    demo = demo_inputs.load(args)
    config, data, labels = demo.config, demo.data, demo.labels
    train = read_table(data / "train.xlsx").sample(frac=1.0, random_state=0)
    counts = class_counts(train, labels)
    specs = {name: resolve_preset(name, complete_preset(preset), labels, counts) for name, preset in LOSSES.items()}
    bf16 = use_bf16(config["train"]["precision"])

    tokenizer = load_tokenizer(args.checkpoint)
    model = load_classifier(args.checkpoint, labels, pad_token_id=tokenizer.pad_token_id)
    lora = config["lora"]
    model = add_lora(
        model, r=lora["r"], alpha=lora["alpha"], dropout=0.0, target_modules=lora["target_modules"]
    ).train()
    max_length = config["model"]["max_length"]
    batches = fixed_batches(train, labels, tokenizer, args.batch_size, args.repeats + 1, max_length)
    times, logits = step_times(model, batches, specs, bf16)
    alone = {name: loss_only(logits, batches[1][1], spec) for name, spec in specs.items()}
    print(
        f"model {args.checkpoint}, batch {args.batch_size}, {len(labels)} classes, {'bf16' if bf16 else 'fp32'}, "
        f"{torch.get_num_threads()} threads, {args.repeats} steps per loss, interleaved"
    )
    print_results(times, alone)


if __name__ == "__main__":
    main()
