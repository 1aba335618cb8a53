"""focalcls as a package a user's own code imports."""

import subprocess
import sys

from conftest import REPO


def test_a_users_code_imports_the_loss_and_the_loader_from_the_package():
    code = (
        "import sys, focalcls; assert 'torch' not in sys.modules; "
        "from focalcls import focal_loss, load_trained_classifier, load_config; "
        "print(focal_loss.__module__, load_trained_classifier.__module__, load_config('config/config.yaml')['model'])"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.split()[:2] == ["focalcls.train.losses", "focalcls.train.model"]


def test_the_workflow_uses_its_own_checkouts_library_whatever_else_is_installed(tmp_path):
    """Another clone's focalcls first on the path (an editable install of it, or PYTHONPATH): the rules
    import this checkout's, as its jobs do, so one run never mixes two versions."""
    import os

    other = tmp_path / "other-clone" / "focalcls"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("raise ImportError('the focalcls of another clone')\n")
    env = {**os.environ, "PYTHONPATH": str(other.parent)}
    config = tmp_path / "config.yaml"
    config.write_text("data: {raw: rows.xlsx}\n")
    (tmp_path / "rows.xlsx").touch()
    argv = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n", "--cores", "1"]
    done = subprocess.run([*argv, "--configfile", str(config)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert "another clone" not in done.stderr and done.returncode == 0, done.stderr[-2000:]
