"""Run the workflow's scripts and Snakemake the way a user does: as separate processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO

SCRIPTS = REPO / "workflow" / "scripts"


def script_argv(name: str, *args) -> list[str]:
    """A script's command line; dict and list arguments travel as JSON, as the rules pass config sections."""
    argv = [sys.executable, str(SCRIPTS / name)]
    for a in args:
        argv.append(json.dumps(a, ensure_ascii=False) if isinstance(a, (dict, list)) else str(a))
    return argv


def run_script(name: str, *args, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(script_argv(name, *args), cwd=cwd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{name} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return done


def run_rule_script(name: str, *, cwd: Path, check: bool = True, **rule) -> subprocess.CompletedProcess:
    """A `script:` rule's script with the rule's input, output, params, log, threads (dicts of name -> value),
    run in its own process as Snakemake runs it. Without a log, its messages come back on stderr."""
    spec = cwd / f".{name}.rule.json"
    spec.write_text(json.dumps(rule, ensure_ascii=False, default=str), encoding="utf-8")
    argv = [sys.executable, str(REPO / "tests" / "rule_runner.py"), str(SCRIPTS / name), str(spec)]
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{name} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return done


def snakemake(*args, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(cwd), *map(str, args)]
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
        )
    return done
