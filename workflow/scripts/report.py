"""Build results/report.html from the outputs of every other stage."""

import sys
from pathlib import Path

from focalcls import cli
from focalcls.report import build_report


def main(args) -> None:
    headline = build_report(
        results=Path(args.results),
        config=args.config,
        presets=args.presets,
        baselines=args.baselines,
        out=Path(args.out),
        repo=Path(__file__).resolve().parents[2],
    )
    print(f"best preset: {headline['best']}; test macro-F1 {headline['macro_f1']:.3f}", file=sys.stderr)


def build_parser():
    return cli.parser(__doc__, paths=("results", "out"), sections=("config", "presets", "baselines"))


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
