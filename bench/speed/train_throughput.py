"""Training throughput: the train stage vs the script most users write first, side by side in one run.

The plain script: AutoModelForSequenceClassification + peft LoRA + transformers Trainer with its
default cross-entropy, every batch padded to max_length. The train stage (train_preset) with the `ce`
preset: batches grouped by length and padded only to their longest row. Same model, rows, batch size,
LoRA settings, precision, threads and number of steps; both timed end to end (model load included,
and for the train stage its head init, one validation pass on --val-rows rows and the adapter save).
The train stage is also timed on its previous CPU path (torch's dropout on the LoRA inputs) and, under
bf16 autocast, with its frozen weights stored in bfloat16.
Uses the demo model and the demo training split (run the demo first), or pass your own.
    python -m bench.speed.train_throughput [--steps 20] [--batch-size 16]
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import pandas as pd
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

from bench.common import demo_inputs
from bench.common.timing import timed
from focalcls.config.loading import complete_preset
from focalcls.core.spreadsheets import read_table
from focalcls.data.cleaning import LABEL, TEXT, class_counts
from focalcls.devices.precision import use_bf16
from focalcls.train import training
from focalcls.train.presets import resolve_preset
from focalcls.train.settings import TrainSettings
from focalcls.train.training import train_preset


class Rows(torch.utils.data.Dataset):
    def __init__(self, encoded, label_ids: list[int]):
        self.items = [
            {"input_ids": i, "attention_mask": m, "labels": y}
            for i, m, y in zip(encoded["input_ids"], encoded["attention_mask"], label_ids)
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


def plain_script(
    checkpoint: str,
    frame,
    labels: list[str],
    lora: dict,
    *,
    batch_size: int,
    max_length: int,
    bf16: bool,
    seed: int,
    out: Path,
) -> None:
    """What a first fine-tuning script looks like."""
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint, num_labels=len(labels))
    model.config.pad_token_id = tokenizer.pad_token_id
    model = get_peft_model(
        model,
        LoraConfig(
            task_type="SEQ_CLS",
            r=lora["r"],
            lora_alpha=lora["alpha"],
            lora_dropout=lora["dropout"],
            target_modules=lora["target_modules"],
        ),
    )
    encoded = tokenizer(list(frame[TEXT]), truncation=True, max_length=max_length, padding="max_length")
    index = {label: i for i, label in enumerate(labels)}
    dataset = Rows(encoded, [index[x] for x in frame[LABEL]])
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=batch_size,
        num_train_epochs=1,
        learning_rate=2e-4,
        bf16=bf16,
        use_cpu=True,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=seed,
        logging_steps=10,
    )
    Trainer(model=model, args=args, train_dataset=dataset).train()
    model.save_pretrained(str(out / "adapter"))


def train_stage(
    checkpoint: str,
    train: pd.DataFrame,
    val: pd.DataFrame,
    labels: list[str],
    config: dict,
    batch_size: int,
    out: Path,
    dtype: str,
) -> dict:
    """The train stage with the ce preset and the config's settings, but as many steps as the plain script
    takes (one epoch, no accumulation) and one validation pass; its train_summary."""
    return train_preset(
        train=train,
        val=val,
        labels=labels,
        checkpoint=checkpoint,
        loss=resolve_preset("ce", complete_preset({"loss": "ce"}), labels, class_counts(train, labels)),
        lora=config["lora"],
        settings=TrainSettings.from_config(
            {**config["train"], "epochs": 1, "batch_size": batch_size, "grad_accum": 1, "eval_steps": None},
            seed=config["train"]["seeds"][0],
        ),
        max_length=config["model"]["max_length"],
        out_dir=out,
        preset_name="ce",
        dtype=dtype,
        trust_remote_code=config["model"]["trust_remote_code"],
    )


@contextlib.contextmanager
def torch_lora_dropout():
    """The train stage's previous CPU path: LoRA inputs keep torch's dropout (one float drawn an element)."""
    fast = training.use_fast_lora_dropout
    training.use_fast_lora_dropout = lambda model: 0
    try:
        yield
    finally:
        training.use_fast_lora_dropout = fast


def stage_variants(args, train, val, labels, config, tmp: Path) -> dict[str, tuple[dict, float]]:
    """Wall time and train_summary of the train stage as it is, on its previous path, and with bf16 weights."""
    dtype = config["model"]["dtype"]

    def run(folder: str, weights_dtype: str) -> tuple[dict, float]:
        stage = (args.checkpoint, train, val, labels, config, args.batch_size, tmp / folder, weights_dtype)
        return timed(lambda: train_stage(*stage))

    runs = {"train stage (length-grouped batches)": run("stage", dtype)}
    if not torch.cuda.is_available():
        with torch_lora_dropout():
            runs["train stage, torch's LoRA dropout (previous)"] = run("previous", dtype)
    # Frozen weights stored in bfloat16 (LoRA weights and the head stay float32): under bf16 autocast
    # every product casts float32 weights to bfloat16 again, forward and backward; stored ones need no cast.
    if use_bf16(config["train"]["precision"]) and dtype != "bfloat16":
        runs["train stage, frozen weights in bfloat16"] = run("bf16", "bfloat16")
    return runs


def main() -> None:
    p = demo_inputs.parser(__doc__, batch_size=16)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--val-rows", type=int, default=32)
    args = p.parse_args()

    demo = demo_inputs.load(args)
    config, data, labels = demo.config, demo.data, demo.labels
    rows = args.steps * args.batch_size
    train = read_table(data / "train.xlsx").sample(frac=1.0, random_state=0).head(rows)
    val = read_table(data / "val.xlsx").head(args.val_rows)
    max_length, bf16 = config["model"]["max_length"], use_bf16(config["train"]["precision"])

    with tempfile.TemporaryDirectory() as tmp:
        plain = {"batch_size": args.batch_size, "max_length": max_length, "bf16": bf16, "seed": 42}
        _, plain_s = timed(
            lambda: plain_script(args.checkpoint, train, labels, config["lora"], **plain, out=Path(tmp) / "plain")
        )
        runs = stage_variants(args, train, val, labels, config, Path(tmp))

    tokenizer = AutoTokenizer.from_pretrained(args.checkpoint)
    lengths = [len(ids) for ids in tokenizer(list(train[TEXT]), truncation=True, max_length=max_length)["input_ids"]]
    summary, stage_s = next(iter(runs.values()))
    print(
        f"model {args.checkpoint}, {rows} rows = {args.steps} steps of {args.batch_size}, max_length {max_length}, "
        f"{'bf16' if bf16 else 'fp32'}, {torch.get_num_threads()} threads; train stage ran {summary['steps']} steps"
    )
    print(
        f"tokens per row: mean {sum(lengths) / len(lengths):.1f}, max {max(lengths)} "
        f"(the plain script pads all to {max_length})"
    )
    print(f"{'plain Trainer + peft, padded to max_length':<46} {rows / plain_s:6.2f} samples/s ({plain_s:.1f} s)")
    for name, (run, seconds) in runs.items():
        steps_s = run["phase_seconds"]["optimizer steps"]
        print(f"{name:<46} {rows / seconds:6.2f} samples/s ({seconds:.1f} s, optimizer steps {steps_s:.1f} s)")
    stage_steps_s = summary["phase_seconds"]["optimizer steps"]
    for name, (run, seconds) in list(runs.items())[1:]:
        print(
            f"train stage vs {name.removeprefix('train stage, ')}: {seconds / stage_s:.2f}x end to end, "
            f"{run['phase_seconds']['optimizer steps'] / stage_steps_s:.2f}x optimizer steps"
        )
    print(f"speed-up: {plain_s / stage_s:.2f}x (target: 1.5x or better)")


if __name__ == "__main__":
    main()
