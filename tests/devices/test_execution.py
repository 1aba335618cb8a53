"""Which executor a run uses, read from its command line and profiles: the rules are defined before
Snakemake sets its executor up, and a dry run executes with `dryrun` whatever was asked for."""

import pytest

from conftest import REPO
from focalcls.devices.executor import cluster_executor

SLURM = str(REPO / "workflow/profiles/slurm")
LOCAL = str(REPO / "workflow/profiles/local")


@pytest.mark.parametrize(
    "argv, environ, executor",
    [
        (["-n", "--profile", SLURM], {}, "slurm"),  # the profile's executor, in a dry run too
        (["--profile", LOCAL], {}, None),
        (["--executor=slurm", "--cores", "64"], {}, "slurm"),
        (["-e", "local", "--profile", SLURM], {}, None),  # the command line wins over the profile
        ([], {"SNAKEMAKE_PROFILE": SLURM}, "slurm"),
        (["--profile", "none"], {"SNAKEMAKE_PROFILE": SLURM}, None),  # 'none' sets the variable aside
        (["--profile", SLURM, "--profile", LOCAL], {}, "slurm"),  # a later profile without one keeps it
        (["--cores", "8", "--resources", "gpu=4"], {}, None),
    ],
)
def test_the_executor_comes_from_the_command_line_then_the_profiles(argv, environ, executor):
    assert cluster_executor(["snakemake", *argv], environ) == executor
