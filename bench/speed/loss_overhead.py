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
from functools import partial

import torch

from bench.common import demo_inputs
from bench.common.steps import fixed_batches, train_step
from bench.common.timing import interleaved, timed
from focalcls.config.loading import complete_preset
from focalcls.core.spreadsheets import read_table
from focalcls.data.cleaning import class_counts
from focalcls.devices.precision import use_bf16
from focalcls.train.losses import focal_loss
from focalcls.train.model import add_lora, load_classifier, load_tokenizer
from focalcls.train.presets import LossSpec, resolve_preset

LOSSES = {
    "ce": {"loss": "ce"},
    "focal softmax (balanced, gamma 2)": {"loss": "focal", "form": "softmax", "alpha": "balanced", "gamma": 2.0},
    "focal sigmoid (0.25, gamma 2)": {"loss": "focal", "form": "sigmoid", "alpha": 0.25, "gamma": 2.0},
}


def step_times(
    model: torch.nn.Module, batches: list, specs: dict[str, LossSpec], bf16: bool
) -> tuple[dict[str, list[float]], torch.Tensor]:
    """Seconds of one training step per loss on each batch but the first (the warm-up), interleaved; and
    the logits of one step, for timing the loss alone."""
    optimizer = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-5)

    def step(spec: LossSpec, batch: tuple[dict, torch.Tensor]) -> torch.Tensor:
        def loss(logits, targets):
            return focal_loss(logits, targets, gamma=spec.gamma, alpha=spec.alpha, form=spec.form)

        return train_step(model, optimizer, *batch, loss, bf16)

    times = interleaved({name: partial(step, spec) for name, spec in specs.items()}, batches[0], batches[1:])
    return times, step(specs["ce"], batches[1])


def loss_only(logits: torch.Tensor, targets: torch.Tensor, spec: LossSpec, calls: int = 2000) -> float:
    """Seconds of the loss's forward and backward alone, on fixed logits (a call is too short to time alone)."""
    leaf = logits.float().clone().requires_grad_(True)

    def calls_in_a_row() -> None:
        for _ in range(calls):
            focal_loss(leaf, targets, gamma=spec.gamma, alpha=spec.alpha, form=spec.form).backward()

    return timed(calls_in_a_row)[1] / calls


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
    p = demo_inputs.parser(__doc__, batch_size=16)
    p.add_argument("--repeats", type=int, default=30)
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
