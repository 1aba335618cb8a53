"""What every workflow script shares: logging to stderr (the rule's log) and user errors without a traceback.

Two entries: `run` for the scripts a rule starts as a command line (the ones that relaunch themselves
under accelerate), `run_rule` for the scripts a rule runs with Snakemake's `script:` directive."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from focalcls.core.errors import UserError


def parser(description: str, required: Sequence[str] = (), sections: Sequence[str] = ()) -> argparse.ArgumentParser:
    """`required`: required string arguments (files, a preset name); `sections`: required config sections,
    each one JSON argument."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: leave the default)")
    for name in required:
        p.add_argument(f"--{name}", required=True)
    for name in sections:
        p.add_argument(f"--{name}", type=json_arg, required=True, help=f"the {name} config section as JSON")
    return p


def json_arg(text: str):
    """argparse type: a JSON value (config sections travel to scripts as JSON, quoted by Snakemake)."""
    return json.loads(text)


def run(
    main: Callable[[argparse.Namespace], int | None], p: argparse.ArgumentParser, argv: Sequence[str] | None = None
) -> int:
    args = p.parse_args(argv)
    _set_up(getattr(args, "threads", 0))
    return _guarded(lambda: main(args))


def run_rule(main: Callable[[Any], None]) -> None:
    """Entry of a `script:` rule: `main` gets the `snakemake` object Snakemake puts in the script's globals
    (input, output, params, log, threads). Everything the script prints to stderr, a traceback included,
    goes to the rule's log, as a command line's `2> {log}` would send it; the process exits 2 on a UserError,
    whose one-line message reaches the console as well."""
    rule = sys.modules["__main__"].snakemake
    if rule.log:
        sys.stderr = open(rule.log[0], "w", encoding="utf-8", buffering=1)  # open for the whole job
    _set_up(rule.threads)
    sys.exit(_guarded(lambda: main(rule)))


def _set_up(threads: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # Trainer's bars read this when tqdm is first imported, which in the training scripts comes later.
    if not sys.stderr.isatty():  # a log file: a progress line every 10 s instead of every tenth of one
        os.environ.setdefault("TQDM_MININTERVAL", "10")
    if threads:
        # torch reads this when it is imported, so a rule that never uses torch does not pay its import.
        os.environ["OMP_NUM_THREADS"] = str(threads)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)


def _guarded(main: Callable[[], int | None]) -> int:
    try:
        return main() or 0  # a script may exit non-zero without an error, as check_env does on findings
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        if sys.stderr is not sys.__stderr__:  # run_rule's log: Snakemake's console shows the one line too
            print(f"error: {e}", file=sys.__stderr__)
        return 2
