"""What every workflow script shares: logging to stderr and user errors without a traceback."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Callable, Sequence

from .errors import UserError


def parser(description: str, paths: Sequence[str] = (), sections: Sequence[str] = ()) -> argparse.ArgumentParser:
    """`paths`: required file arguments; `sections`: required config sections, each one JSON argument."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: leave the default)")
    for name in paths:
        p.add_argument(f"--{name}", required=True)
    for name in sections:
        p.add_argument(f"--{name}", type=json_arg, required=True, help=f"the {name} config section as JSON")
    return p


def json_arg(text: str):
    """argparse type: a JSON value (config sections travel to scripts as JSON, quoted by Snakemake)."""
    return json.loads(text)


def run(main: Callable[[argparse.Namespace], int | None], p: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    args = p.parse_args(argv)
    # Trainer's bars read this when tqdm is first imported, which in the training scripts comes later.
    if not sys.stderr.isatty():  # a log file: a progress line every 10 s instead of every tenth of one
        os.environ.setdefault("TQDM_MININTERVAL", "10")
    if getattr(args, "threads", 0):
        import torch

        torch.set_num_threads(args.threads)
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    try:
        return main(args) or 0  # a script may exit non-zero without an error, as the doctor does on findings
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
