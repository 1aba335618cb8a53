"""Does focal loss help the rare classes? Every default preset and both baselines, over 3 seeds, head only.

On the demo data (run the demo first: it writes results/data and the demo model). To fit 3 seeds of
every preset in a few minutes on 2 CPU cores, the presets train the classification head alone on the
demo model's frozen features (the hidden state the head reads, computed once): the same losses
(focal_loss, resolve_preset), the same prior head init, the same epoch sampler (EpochSampler, with
difficulty-aware draws; no length grouping, since features have no length) and the same selection of
the epoch with the lowest validation loss as the train stage, but no LoRA, and AdamW with a one-cycle
warm-up and cosine decay in place of Trainer's. The preset whose gain is quoted is chosen on validation. The demo's full
LoRA runs (one seed) are printed beside them when results/presets holds them. On top of the presets,
the variants that might help are measured the same way: more epochs, and difficulty-aware batches.
    python -m bench.quality.head_only [--seeds 1 2 3] [--epochs 2] [--long-epochs 8]
(bench/quality/full_lora.py trains full LoRA through the workflow instead: slower, and what the report shows.)
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from bench.common import demo_inputs
from focalcls.config.loading import complete_preset
from focalcls.core.metrics import classification_metrics
from focalcls.core.spreadsheets import read_table
from focalcls.data.cleaning import TEXT, class_counts
from focalcls.devices.precision import use_bf16
from focalcls.evaluate.baselines import tfidf_probs
from focalcls.evaluate.prediction_table import label_ids
from focalcls.train.head_init import head_inputs, prior_head_weight, prior_logits
from focalcls.train.losses import class_probabilities, focal_loss
from focalcls.train.model import load_classifier, load_tokenizer
from focalcls.train.presets import LossSpec, resolve_preset
from focalcls.train.sampling import EpochSampler, RowLosses

SPLITS = ("train", "val", "test")


def features(checkpoint: str, frames: dict, labels: list[str], max_length: int, bf16: bool, batch: int = 32) -> dict:
    """The hidden state the classification head reads, per row of every split, in the compute precision the
    demo trains in (`bf16` autocast or not)."""
    tokenizer = load_tokenizer(checkpoint)
    model = load_classifier(checkpoint, labels, pad_token_id=tokenizer.pad_token_id)
    out = {}
    for split, frame in frames.items():
        texts = list(frame[TEXT])
        out[split] = torch.cat(
            [head_inputs(model, tokenizer, texts[i : i + batch], max_length, bf16) for i in range(0, len(texts), batch)]
        )
    return out


def train_head(
    x: dict,
    y: dict,
    spec: LossSpec,
    counts: list[int],
    *,
    seed: int,
    epochs: int,
    batch: int,
    lr: float,
    hard_examples: bool,
) -> torch.Tensor:
    """One preset's head: AdamW with cosine decay, the epoch with the lowest validation loss kept."""
    torch.manual_seed(seed)
    train_x, train_y = x["train"], torch.as_tensor(y["train"])
    weight = prior_head_weight(prior_logits(counts, spec.form), train_x[:64].mean(dim=0)).requires_grad_(True)
    optimizer = torch.optim.AdamW([weight], lr=lr, weight_decay=0.0)
    steps = epochs * int(np.ceil(len(train_y) / batch))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    losses = RowLosses(len(train_y)) if hard_examples else None
    sampler = EpochSampler([1] * len(train_y), batch, seed=seed, losses=losses)
    val_y = torch.as_tensor(y["val"])
    settings = spec.loss_arguments()
    best, best_loss = weight.detach().clone(), float("inf")
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        order = torch.as_tensor(list(sampler))
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            logits = train_x[rows] @ weight.T
            loss = focal_loss(logits, train_y[rows], **settings)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            if losses is not None:
                unweighted = {**settings, "alpha": None}  # the loss ranks rows; alpha already weighs them
                losses.record(rows, focal_loss(logits.detach(), train_y[rows], reduction="none", **unweighted))
        if losses is not None:
            losses.end_epoch()
        with torch.no_grad():
            val_loss = float(focal_loss(x["val"] @ weight.T, val_y, **settings))
        if val_loss < best_loss:
            best, best_loss = weight.detach().clone(), val_loss
    return best


def gain_words(mine: float, reference: float) -> str:
    relative = f" ({(mine - reference) / reference:+.1%} relative)" if reference > 0 else ""
    return f"minority_f1 {mine - reference:+.3f}{relative}"


def spread(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def variants(presets: dict, epochs: int, long_epochs: int) -> dict[str, tuple[dict, int, bool]]:
    """name -> (preset, epochs, difficulty-aware batches): the config's presets, then the variants that
    might help instead (more epochs, and difficulty-aware batches)."""
    runs = {name: (preset, epochs, False) for name, preset in presets.items()}
    runs.update(
        {
            f"ce, {long_epochs} epochs": ({"loss": "ce"}, long_epochs, False),
            f"balanced, {long_epochs} epochs": (
                presets.get("balanced", {"loss": "focal", "alpha": "balanced"}),
                long_epochs,
                False,
            ),
            "ce + hard-example batches": ({"loss": "ce"}, long_epochs, True),
        }
    )
    return runs


def head_runs(
    x: dict, y: dict, labels: list[str], counts: dict, variants: dict, args: argparse.Namespace, batch: int
) -> dict:
    """name -> one test-split metrics dict per seed, each with its validation metrics under 'val'."""
    runs = {}
    for name, (preset, n_epochs, hard) in variants.items():
        spec = resolve_preset(name, complete_preset(preset), labels, counts)
        runs[name] = []
        for seed in args.seeds:
            weight = train_head(
                x,
                y,
                spec,
                [counts[label] for label in labels],
                seed=seed,
                epochs=n_epochs,
                batch=batch,
                lr=args.lr,
                hard_examples=hard,
            )
            scored = {
                split: classification_metrics(
                    y[split], class_probabilities(x[split] @ weight.T, spec.form).numpy(), labels, counts
                )
                for split in ("val", "test")
            }
            runs[name].append({**scored["test"], "val": scored["val"]})
    return runs


def full_lora_metrics(data: Path, names: list[str]) -> dict:
    """The demo's own test metrics, where results/ holds them (one seed each)."""
    found = {}
    for name in names:
        folder = data.parent / ("baselines" if name in ("tfidf", "direct") else "presets") / name
        path = folder / ("metrics.json" if name in ("tfidf", "direct") else "eval/metrics.json")
        if path.exists():
            found[name] = json.loads(path.read_text(encoding="utf-8"))
    return found


def print_table(runs: dict, lora: dict) -> None:
    print(
        f"{'model':<28} {'macro_f1 (mean ± sd)':>22} {'minority_f1 (mean ± sd)':>24} {'full LoRA macro / minority':>28}"
    )
    for name, results in runs.items():
        full = lora.get(name)
        beside = f"{full['macro_f1']:.3f} / {full['minority_f1']:.3f}" if full else ""
        print(
            f"{name:<28} {spread([r['macro_f1'] for r in results]):>22} "
            f"{spread([r['minority_f1'] for r in results]):>24} {beside:>28}"
        )
    if "direct" in lora:
        print(
            f"{'direct (zero-shot, no seed)':<28} {lora['direct']['macro_f1']:>22.3f} "
            f"{lora['direct']['minority_f1']:>24.3f}"
        )


def print_gain(runs: dict, lora: dict, presets: dict, seeds: int) -> None:
    """The focal preset with the best validation minority F1 against ce, on test."""

    def minority(name, split="test"):
        return float(np.mean([(r["val"] if split == "val" else r)["minority_f1"] for r in runs[name]]))

    focal = [n for n, preset in presets.items() if preset["loss"] == "focal"]
    if "ce" not in runs or not focal:
        print("no gain computed: the config needs a preset named ce and at least one focal preset")
        return
    best = max(focal, key=lambda name: minority(name, "val"))  # chosen on validation, never on test
    print(
        f"focal preset with the best validation minority_f1 (head-only, mean of {seeds} seeds): {best}, test "
        f"{gain_words(minority(best), minority('ce'))} over ce; the original tool claimed +15% to +25%"
    )
    if lora.get("ce") and lora.get(best):
        print(
            f"same preset with full LoRA (demo, one seed): "
            f"{gain_words(lora[best]['minority_f1'], lora['ce']['minority_f1'])} over ce"
        )


def main() -> None:
    p = demo_inputs.parser(__doc__)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--epochs", type=int, help="default: the config's train.epochs, rounded up")
    p.add_argument("--long-epochs", type=int, default=8, help="the 'more epochs' variant")
    p.add_argument("--lr", type=float, default=1e-3, help="head-only training takes a larger step than LoRA")
    args = p.parse_args()
    started = time.time()

    demo = demo_inputs.load(args)
    config, data, labels = demo.config, demo.data, demo.labels
    epochs = args.epochs or math.ceil(config["train"]["epochs"])
    frames = {split: read_table(data / f"{split}.xlsx") for split in SPLITS}
    y = {split: label_ids(frames[split], labels) for split in SPLITS}
    counts = class_counts(frames["train"], labels)
    x = features(args.checkpoint, frames, labels, config["model"]["max_length"], use_bf16(config["train"]["precision"]))
    feature_s = time.time() - started

    chosen = variants(config["presets"], epochs, args.long_epochs)
    runs = head_runs(x, y, labels, counts, chosen, args, batch=config["train"]["batch_size"])
    runs["tfidf"] = [
        classification_metrics(
            y["test"], tfidf_probs(frames["train"], {"test": frames["test"]}, labels, seed=seed)["test"], labels, counts
        )
        for seed in args.seeds
    ]
    lora = full_lora_metrics(data, [*config["presets"], "tfidf", "direct"])

    print(
        f"demo data: {len(y['train'])} train / {len(y['val'])} val / {len(y['test'])} test rows, "
        f"{len(labels)} classes, "
        f"minority classes (rarest third by training count): {', '.join(runs['tfidf'][0]['minority_labels'])}"
    )
    print(
        f"head-only training on frozen features of {args.checkpoint} (features {feature_s:.0f} s), seeds {args.seeds}, "
        f"{epochs} epochs unless named; test split"
    )
    print_table(runs, lora)
    print(f"elapsed {time.time() - started:.0f} s")
    print_gain(runs, lora, config["presets"], len(args.seeds))


if __name__ == "__main__":
    main()
