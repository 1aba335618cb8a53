"""When should training stop, and which checkpoint should it keep? Learning curves scored on test too.

Each preset trains through the train stage itself (train_preset: same model preparation, batches, loss,
schedule, validation pass and checkpoints, its outputs under runs/ beside --out) for the whole epoch cap
with early stopping off; after every validation pass a bench-only callback scores the test split as well.
Since early stopping never changes the steps taken before it stops, every stopping rule can then be replayed
on the logged curve exactly: for each early-stopping metric (validation loss, macro-F1, minority-F1) and
patience, where it stops, which checkpoint it keeps, and that checkpoint's test scores. Test scores decide
nothing in the workflow; here they measure which rule generalises.
    python -m bench.quality.convergence [--config C] [--data D] [--presets ce balanced] [--seeds 42] [--epochs 10]
        [--out bench-runs/convergence.csv]
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import pandas as pd
import torch
from transformers import TrainerCallback

from bench.common import demo_inputs
from focalcls.config.loading import complete_preset
from focalcls.core.metrics import f1_summary
from focalcls.core.spreadsheets import read_table
from focalcls.data.cleaning import TEXT, class_counts
from focalcls.devices.precision import use_bf16
from focalcls.evaluate.inference import predict_probs
from focalcls.evaluate.prediction_table import label_ids
from focalcls.train.model import load_tokenizer
from focalcls.train.presets import resolve_preset
from focalcls.train.settings import TrainSettings
from focalcls.train.training import train_preset

METRICS = ("loss", "macro_f1", "minority_f1")
PATIENCES = (1, 2, 3, 5)


class TestScores(TrainerCallback):
    """After each validation pass: the validation figures and the test split's F1 at that checkpoint, the test
    rows predicted by the evaluate stage's batched inference."""

    def __init__(self, test: pd.DataFrame, labels: list[str], train_counts: dict, tokenizer, **predict):
        self.texts, self.y_true = list(test[TEXT]), label_ids(test, labels)
        self.labels, self.train_counts, self.tokenizer, self.predict = labels, train_counts, tokenizer, predict
        self.rows = []

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        # The test pass must leave the random generators as it found them, or the dropout masks of every later
        # step would change and the replay would no longer be the run it replays.
        with torch.random.fork_rng(devices=range(torch.cuda.device_count())):
            probs = predict_probs(model, self.tokenizer, self.texts, **self.predict)
        test = f1_summary(self.y_true, probs.argmax(axis=-1), self.labels, self.train_counts)
        self.rows.append(
            {
                "step": state.global_step,
                "epoch": round(state.epoch, 3),
                "val_loss": metrics["eval_loss"],
                "val_macro_f1": metrics["eval_macro_f1"],
                "val_minority_f1": metrics["eval_minority_f1"],
                "test_macro_f1": test["macro_f1"],
                "test_minority_f1": test["minority_f1"],
            }
        )


def curve(inputs: demo_inputs.DemoInputs, preset: str, seed: int, epochs: float, out_dir: Path) -> pd.DataFrame:
    """One preset's learning curve, trained by the train stage itself (train_preset) with a TestScores callback."""
    config = inputs.config
    frames = {split: read_table(inputs.data / f"{split}.xlsx") for split in ("train", "val", "test")}
    counts = class_counts(frames["train"], inputs.labels)
    settings = TrainSettings.from_config(config["train"], seed=seed)
    settings = dataclasses.replace(settings, epochs=epochs, patience=1000)  # early stopping: replayed
    loss = resolve_preset(preset, complete_preset(config["presets"][preset]), inputs.labels, counts)
    max_length, remote = config["model"]["max_length"], config["model"]["trust_remote_code"]
    scores = TestScores(
        frames["test"], inputs.labels, counts, load_tokenizer(inputs.checkpoint, trust_remote_code=remote),
        form=loss.form, max_length=max_length, batch_size=settings.batch_size, bf16=use_bf16(settings.precision),
    )  # fmt: skip
    shutil.rmtree(out_dir, ignore_errors=True)  # a run resumed from an earlier one's checkpoint would skip passes
    train_preset(
        train=frames["train"], val=frames["val"], labels=inputs.labels, checkpoint=inputs.checkpoint, loss=loss,
        lora=config["lora"], settings=settings, max_length=max_length, out_dir=out_dir, preset_name=preset,
        dtype=config["model"]["dtype"], trust_remote_code=remote, callbacks=[scores],
    )  # fmt: skip
    return pd.DataFrame(scores.rows).assign(preset=preset, seed=seed)


def replay(passes: pd.DataFrame, metric: str, patience: int) -> pd.Series:
    """The validation pass a rule keeps, with the epoch at which it stopped (early stopping as Trainer does it:
    stop after `patience` passes without a strictly better value)."""
    values = passes[f"val_{metric}"].to_numpy() * (1 if metric == "loss" else -1)  # lower is better
    best, waited = 0, 0
    for i in range(1, len(values)):
        if values[i] < values[best]:
            best, waited = i, 0
        else:
            waited += 1
            if waited >= patience:
                return pd.concat([passes.iloc[best], pd.Series({"stopped_at": passes["epoch"].iloc[i]})])
    return pd.concat([passes.iloc[best], pd.Series({"stopped_at": passes["epoch"].iloc[-1]})])


def rules_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Test scores of each rule's kept checkpoint, one row per rule and run."""
    rows = []
    for (preset, seed), passes in curves.groupby(["preset", "seed"], sort=False):
        passes = passes.reset_index(drop=True)
        kept = {f"{m}, patience {p}": replay(passes, m, p) for m in METRICS for p in PATIENCES}
        last = passes.iloc[-1]
        kept["no early stopping, last"] = pd.concat([last, pd.Series({"stopped_at": last["epoch"]})])
        for rule, row in kept.items():
            scores = {k: row[k] for k in ("stopped_at", "test_macro_f1", "test_minority_f1")}
            rows.append({"rule": rule, "preset": preset, "seed": seed, "kept": row["epoch"], **scores})
    return pd.DataFrame(rows)


def learning_curves(args, out: Path) -> pd.DataFrame:
    """Every preset x seed trained to the cap; the curves are saved after each run, so a kill loses one."""
    inputs = demo_inputs.load(args)
    out.parent.mkdir(parents=True, exist_ok=True)
    curves = []
    for preset in args.presets:
        for seed in args.seeds:
            started = time.time()
            curves.append(curve(inputs, preset, seed, args.epochs, out.parent / "runs" / f"{preset}-{seed}"))
            print(f"{preset} seed {seed}: {time.time() - started:.0f} s for {args.epochs:g} epochs", flush=True)
            pd.concat(curves).to_csv(out, index=False)
    return pd.concat(curves)


def main() -> None:
    p = demo_inputs.parser(__doc__)
    p.add_argument("--presets", nargs="+", default=["ce", "balanced"])
    p.add_argument("--seeds", nargs="+", type=int, default=[42])
    p.add_argument("--epochs", type=float, default=10.0, help="the cap every curve trains to")
    p.add_argument("--out", default=str(demo_inputs.REPO / "bench-runs/convergence.csv"))
    p.add_argument("--replay", action="store_true", help="train nothing: replay the rules on the curves in --out")
    args = p.parse_args()
    out = Path(args.out)
    curves = pd.read_csv(out) if args.replay else learning_curves(args, out)
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(curves.to_string(index=False, float_format="%.3f"))
        columns = ["stopped_at", "kept", "test_macro_f1", "test_minority_f1"]
        print(rules_table(curves).groupby("rule", sort=False)[columns].mean().to_string(float_format="%.3f"))


if __name__ == "__main__":
    main()
