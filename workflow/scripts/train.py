"""Train one preset's LoRA adapter; with train.gpus > 1 it relaunches itself under accelerate."""

import sys
from pathlib import Path

from focalcls import cli
from focalcls.atomic import read_json
from focalcls.launch import run_on_devices
from focalcls.presets import resolve_preset
from focalcls.tables import read_table


def main(args) -> None:
    gpus = int(args.train_settings.get("gpus", 0))
    processes = gpus or int(args.train_settings.get("cpu_processes", 1))
    run_on_devices(
        lambda: _train(args),
        script=__file__,
        gpus=gpus,
        processes=processes,
        threads=args.threads,
        accelerate_args=args.train_settings.get("accelerate_args", []),
    )


def _train(args) -> None:
    from focalcls.training import TrainSettings, train_preset

    labels = read_json(args.labels)
    counts = read_json(args.summary)["counts"]["train"]
    loss = resolve_preset(args.preset, args.preset_settings, labels, counts)
    fields = TrainSettings.__dataclass_fields__
    settings = TrainSettings(**{k: v for k, v in args.train_settings.items() if k in fields})
    train_preset(
        train=read_table(args.train),
        val=read_table(args.val),
        labels=labels,
        checkpoint=args.checkpoint,
        loss=loss,
        lora=args.lora,
        settings=settings,
        max_length=args.model["max_length"],
        out_dir=Path(args.out_dir),
        preset_name=args.preset,
        dtype=args.model.get("dtype", "auto"),
        trust_remote_code=args.model.get("trust_remote_code", False),
    )


def build_parser():
    return cli.parser(
        __doc__,
        paths=("train", "val", "labels", "summary", "checkpoint", "preset", "out-dir"),
        sections=("preset-settings", "lora", "train-settings", "model"),
    )


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
