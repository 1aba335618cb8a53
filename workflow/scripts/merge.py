"""Merge one preset's adapter into the base model: a plain transformers folder (safetensors, label names)."""

import sys
from pathlib import Path

from focalcls import cli
from focalcls.atomic import read_json


def main(args) -> None:
    from focalcls.merge import merge_adapter

    merge_adapter(
        args.checkpoint,
        args.adapter,
        read_json(args.labels),
        Path(args.out),
        trust_remote_code=args.model.get("trust_remote_code", False),
        allow_pickle=args.model.get("allow_pickle", False),
    )


def build_parser():
    return cli.parser(__doc__, paths=("checkpoint", "adapter", "labels", "out"), sections=("model",))


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
