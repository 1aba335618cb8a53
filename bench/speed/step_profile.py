"""Where a CPU training step's time goes, operator by operator, against the machine's matrix-product ceiling.

One LoRA model as the train stage builds it (config's lora section, bf16 autocast where train.precision
makes the train stage use it), the same length-grouped batches for every path, paths interleaved step
by step so drift in the machine's speed hits each alike: torch's dropout on the LoRA inputs (the
previous path), the fast dropout the train stage uses on a CPU, and no dropout (a bound, not an option:
it changes the recipe). The matrix-product ceiling, in the compute dtype, is measured in the same run,
at the step's own shapes and at 2048^3, between the rounds of steps: a shared machine's speed drifts,
and one reading can be half another.
Uses the demo model and the demo training split (run the demo first), or pass your own.
    python -m bench.speed.step_profile [--steps 12] [--batch-size 16] [--dropout RATE]
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from functools import partial

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from bench.common import demo_inputs
from bench.common.steps import fixed_batches, train_step
from bench.common.timing import interleaved, matmul_gflops
from focalcls.core.spreadsheets import read_table
from focalcls.data.cleaning import LABEL, TEXT
from focalcls.devices.precision import use_bf16
from focalcls.train.fast_dropout import FastDropout
from focalcls.train.model import add_lora, load_classifier, load_tokenizer

CATEGORIES = {  # aten operator -> what it is; self CPU time is summed per category
    "matrix products": ("aten::mm", "aten::addmm", "aten::bmm"),
    "dtype casts (autocast)": ("aten::copy_", "aten::_to_copy"),
    "dropout random draws": ("aten::bernoulli_", "aten::random_", "aten::ge"),
    "attention kernels": (
        "aten::_scaled_dot_product_flash_attention_for_cpu",
        "aten::_scaled_dot_product_flash_attention_for_cpu_backward",
    ),
    "element-wise (mul, add, gelu, norms)": (
        "aten::mul",
        "aten::add",
        "aten::add_",
        "aten::gelu",
        "aten::gelu_backward",
        "aten::div",
        "aten::pow",
        "aten::mean",
        "aten::rsqrt",
        "aten::sum",
        "aten::mul_",
        "aten::tanh",
    ),
}
PATHS = ("torch dropout (previous)", "fast dropout (train stage)", "no dropout (bound)")


def grouped_batches(train, labels, tokenizer, batch_size: int, steps: int, max_length: int) -> list:
    """`steps` batches as the length-grouped sampler makes them: rows of similar length together."""
    rows = train.sample(n=batch_size * steps, random_state=0)
    lengths = [len(x) for x in tokenizer(list(rows[TEXT]), truncation=True, max_length=max_length)["input_ids"]]
    rows = rows.assign(_length=lengths).sort_values("_length", kind="stable")
    return fixed_batches(rows[[TEXT, LABEL]], labels, tokenizer, batch_size, steps, max_length)


def dropout_switch(model: torch.nn.Module):
    """A function setting every LoRA dropout to one of PATHS."""
    slots = [
        (m.lora_dropout, name, d.p)
        for m in model.modules()
        if isinstance(getattr(m, "lora_dropout", None), torch.nn.ModuleDict)
        for name, d in m.lora_dropout.items()
    ]
    made = {p: (torch.nn.Dropout(p), FastDropout(p), torch.nn.Identity()) for _, _, p in slots}

    def use(path: str) -> None:
        for dropouts, name, p in slots:
            dropouts[name] = made[p][PATHS.index(path)]

    return use


def by_category(prof, steps: int) -> dict[str, float]:
    """Milliseconds per step of each category, 'other' for the rest."""
    totals = defaultdict(float)
    for event in prof.key_averages():
        name = next((c for c, ops in CATEGORIES.items() if event.key in ops), "other")
        totals[name] += event.self_cpu_time_total / 1e3 / steps
    return totals


def timed_and_profiled(model, batches, bf16: bool, shape: tuple[int, int, int]) -> tuple[dict, dict, dict]:
    """Median step seconds of each path (paths interleaved step by step), its profiled ms per category, and
    the product ceiling in the compute dtype read after every round, at the step's `shape` and at 2048^3 (GFLOP/s)."""
    use = dropout_switch(model)
    optimizer = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-5)

    def step(batch, targets) -> None:
        train_step(model, optimizer, batch, targets, lambda y, t: F.cross_entropy(y.float(), t), bf16)

    def on(path: str, batch: tuple[dict, torch.Tensor]) -> None:
        use(path)  # one module assignment a LoRA layer, timed with the step: under a millisecond of its seconds
        step(*batch)

    ceilings = {"step": [], "2048^3": []}
    dtype = torch.bfloat16 if bf16 else torch.float32

    def read_ceilings() -> None:
        ceilings["step"].append(matmul_gflops(*shape, seconds=0.2, dtype=dtype))
        ceilings["2048^3"].append(matmul_gflops(2048, 2048, 2048, seconds=0.2, dtype=dtype))

    times = interleaved({path: partial(on, path) for path in PATHS}, batches[0], batches, after_round=read_ceilings)
    profiles, spread = {}, batches[:: max(1, len(batches) // 4)]  # short to long, as the medians see them
    for path in PATHS:
        use(path)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for batch, targets in spread:
                step(batch, targets)
        profiles[path] = by_category(prof, len(spread))
    return {path: statistics.median(times[path]) for path in PATHS}, profiles, ceilings


def report(medians: dict[str, float], profiles: dict[str, dict[str, float]], flop: float, ceiling: float) -> None:
    print(f"{'ms a step (profiled)':<38}" + "".join(f"{path:>28}" for path in PATHS))
    for name in list(CATEGORIES) + ["other"]:
        print(f"  {name:<36}" + "".join(f"{profiles[path][name]:28.0f}" for path in PATHS))
    print(f"  {'all (profiled)':<36}" + "".join(f"{sum(profiles[path].values()):28.0f}" for path in PATHS))
    print(f"{'median step s (not profiled)':<38}" + "".join(f"{medians[path]:28.3f}" for path in PATHS))
    rates = {path: flop / medians[path] / 1e9 for path in PATHS}
    print(f"{'GFLOP/s, % of the ceiling':<38}" + "".join(f"{r:20.0f} {r / ceiling:6.0%}" for r in rates.values()))
    products = {path: flop / (profiles[path]["matrix products"] / 1e3) / 1e9 for path in PATHS}
    print(
        f"{'the products alone: GFLOP/s, %':<38}" + "".join(f"{r:20.0f} {r / ceiling:6.0%}" for r in products.values())
    )
    old, new = PATHS[0], PATHS[1]
    print(
        f"fast dropout vs torch dropout: {medians[old] / medians[new]:.2f}x a step; training step at "
        f"{rates[new] / ceiling:.0%} of the ceiling (target: 50%)"
    )


def main() -> None:
    p = demo_inputs.parser(__doc__, batch_size=16)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--dropout", type=float, help="the LoRA dropout rate to compare (default: the config's)")
    args = p.parse_args()
    demo = demo_inputs.load(args)
    config, labels = demo.config, demo.labels
    lora = {**config["lora"], "dropout": config["lora"]["dropout"] if args.dropout is None else args.dropout}
    if not 0 < lora["dropout"] < 1:
        p.error(f"lora.dropout is {lora['dropout']}: no dropout to compare; pass --dropout with a rate in (0, 1)")
    max_length, bf16 = config["model"]["max_length"], use_bf16(config["train"]["precision"])

    tokenizer = load_tokenizer(args.checkpoint)
    model = load_classifier(args.checkpoint, labels, pad_token_id=tokenizer.pad_token_id, dtype="float32")
    dense = sum(q.numel() for n, q in model.named_parameters() if "embed" not in n)
    model = add_lora(
        model, r=lora["r"], alpha=lora["alpha"], dropout=lora["dropout"], target_modules=lora["target_modules"]
    ).train()
    train = read_table(demo.data / "train.xlsx")
    batches = grouped_batches(train, labels, tokenizer, args.batch_size, args.steps, max_length)
    tokens = sum(b["input_ids"].numel() for b, _ in batches) / len(batches)  # padded tokens a step
    flop = 4 * dense * tokens  # LoRA: forward plus input gradients; frozen weights get no weight gradient
    hidden, inner = model.config.hidden_size, model.config.intermediate_size
    medians, profiles, ceilings = timed_and_profiled(model, batches, bf16, (int(tokens), hidden, inner))
    ceiling = statistics.median(ceilings["step"])
    print(
        f"model {args.checkpoint}: {dense / 1e6:.0f}M parameters outside the embeddings; "
        f"{args.steps} length-grouped steps of {args.batch_size} rows, {tokens:.0f} padded tokens a step; "
        f"bf16 {bf16}; {torch.get_num_threads()} threads; lora dropout {lora['dropout']}"
    )
    at = {name: f"{statistics.median(r):.0f} ({min(r):.0f} to {max(r):.0f})" for name, r in ceilings.items()}
    print(
        f"{'bf16' if bf16 else 'fp32'} matrix-product ceiling, median (range) of {len(batches)} readings: "
        f"{at['step']} GFLOP/s at the step's ({int(tokens)} x {hidden}) @ ({hidden} x {inner}), "
        f"{at['2048^3']} GFLOP/s at 2048^3"
    )
    print(f"{flop / 1e9:.0f} GFLOP a step (4 x parameters x tokens)")
    report(medians, profiles, flop, ceiling)


if __name__ == "__main__":
    main()
