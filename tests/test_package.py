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
    assert done.stdout.split()[:2] == ["focalcls.losses", "focalcls.model"]
