"""Which executor a Snakemake run uses, read from its command line and profiles.

Snakemake reads the Snakefile before it sets up its executor, so while the rules are defined
`workflow.local_exec` is true even under `--executor slurm`, and a dry run executes with the `dryrun`
executor whatever was asked for. What a job asks a cluster for (threads, GPUs) must not depend on that.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence

import yaml

NOT_A_CLUSTER = ("local", "dryrun", "touch")


def cluster_executor(argv: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """The executor plugin named by `--executor` (`-e`), else by the last profile that names one (`--profile`,
    else $SNAKEMAKE_PROFILE, then `--workflow-profile`, as Snakemake merges them); None for local runs."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--executor", "-e")
    parser.add_argument("--profile", action="append")
    parser.add_argument("--workflow-profile")
    args, _ = parser.parse_known_args(list(argv[1:]))
    executor = args.executor
    if executor is None:
        profiles = args.profile or ([environ["SNAKEMAKE_PROFILE"]] if environ.get("SNAKEMAKE_PROFILE") else [])
        for profile in [*profiles, args.workflow_profile]:
            executor = profile_executor(profile) or executor
    return None if executor in (None, *NOT_A_CLUSTER) else executor


def profile_executor(profile: str | None) -> str | None:
    """The `executor` key of a profile (a folder, a name Snakemake finds, or its file); None without one."""
    from snakemake.cli import get_profile_dir

    if not profile or profile == "none":
        return None
    found = get_profile_dir(profile)
    if found is None:
        return None  # Snakemake itself stops on a profile it cannot find
    settings = yaml.safe_load(found[1].read_text(encoding="utf-8")) or {}
    return settings.get("executor") if isinstance(settings, Mapping) else None
