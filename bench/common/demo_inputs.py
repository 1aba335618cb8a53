"""What the bench scripts share: the demo's config, model and splits (or a user's), named on the command line.

The scripts run from the repository root as modules (python -m bench.speed.<name>, bench.quality.<name>),
so they import this one as bench.common.demo_inputs."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from focalcls.config.loading import load_config

REPO = Path(__file__).resolve().parents[2]


def parser(description: str, batch_size: int | None = None) -> argparse.ArgumentParser:
    """The demo's inputs as options; `batch_size`: the default of a --batch-size option, for the scripts that
    time training steps (the demo's train.batch_size)."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(REPO / "config/config.yaml"), help="presets, lora, model, train sections")
    p.add_argument("--checkpoint", default=str(REPO / "resources/models/demo"))
    p.add_argument("--data", default=str(REPO / "results/data"), help="train/val/test.xlsx and labels.json")
    if batch_size is not None:
        p.add_argument("--batch-size", type=int, default=batch_size, help="rows a training step")
    return p


@dataclass
class DemoInputs:
    config: dict  # complete: index it, never supply a fallback
    checkpoint: str
    data: Path
    labels: list[str]


def load(args: argparse.Namespace) -> DemoInputs:
    data = Path(args.data)
    if not (data / "train.xlsx").exists():
        sys.exit(f"{data}/train.xlsx not found: run the demo first (snakemake --cores 2 results/data/summary.json)")
    return DemoInputs(
        config=load_config(args.config),  # checked, with every schema default filled in, as the workflow sees it
        checkpoint=args.checkpoint,
        data=data,
        labels=json.loads((data / "labels.json").read_text(encoding="utf-8")),
    )
