"""Merge one preset's adapter into the base model: a plain transformers folder (safetensors, label names)."""

from pathlib import Path

from focalcls.core import cli
from focalcls.core.atomic import read_json


def main(rule) -> None:
    from focalcls.deploy.merge import merge_adapter

    merge_adapter(
        rule.params.checkpoint,
        rule.input.adapter,
        read_json(rule.input.labels),
        Path(rule.output.merged),
        trust_remote_code=rule.params.trust_remote_code,
        allow_pickle=rule.params.allow_pickle,
        card=Path(rule.input.card).read_text(encoding="utf-8"),
    )


if __name__ == "__main__":
    cli.run_rule(main)
