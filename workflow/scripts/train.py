"""Train one preset's LoRA adapter; with train.gpus > 1 it relaunches itself under accelerate."""

import sys
from pathlib import Path

from focalcls.config.loading import complete
from focalcls.core import cli
from focalcls.core.atomic import read_json
from focalcls.core.spreadsheets import read_table
from focalcls.devices.launch import run_on_devices
from focalcls.train.presets import resolve_preset


def main(args) -> None:
    # The train rule leaves out the keys that must not rerun a training (eval_batch_size, an empty
    # accelerate_args, the other seeds); the schema, the one place defaults live, fills them back in.
    settings = dict(args.train_settings)
    seed = settings.pop("seed")  # this run's seed, one of train.seeds
    config = complete({"train": settings, "model": args.model})
    train = config["train"]
    gpus = train["gpus"]
    run_on_devices(
        lambda: _train(args, config, seed),
        script=__file__,
        gpus=gpus,
        processes=gpus or train["cpu_processes"],
        threads=args.threads,
        accelerate_args=train["accelerate_args"],
    )


def _train(args, config: dict, seed: int) -> None:
    from focalcls.train.settings import TrainSettings
    from focalcls.train.tracking import from_environment
    from focalcls.train.training import train_preset

    labels = read_json(args.labels)
    counts = read_json(args.summary)["counts"]["train"]
    train_preset(
        train=read_table(args.train),
        val=read_table(args.val),
        labels=labels,
        checkpoint=args.checkpoint,
        loss=resolve_preset(args.preset, args.preset_settings, labels, counts),
        lora=args.lora,
        settings=TrainSettings.from_config(config["train"], seed=seed),
        max_length=config["model"]["max_length"],
        out_dir=Path(args.out_dir),
        preset_name=args.preset,
        dtype=config["model"]["dtype"],
        trust_remote_code=config["model"]["trust_remote_code"],
        run_name=args.run,
        tracking=from_environment(),
    )


def build_parser():
    return cli.parser(
        __doc__,
        required=("train", "val", "labels", "summary", "checkpoint", "preset", "run", "out-dir"),
        sections=("preset-settings", "lora", "train-settings", "model"),
    )


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
