"""check_env, the first-run checks: each check's verdict and fix, and `snakemake check_env` end to end."""

import importlib.util
import sys

import pytest
import yaml

from conftest import REPO
from focalcls.env import check_env

V100 = {"name": "Tesla V100", "memory_gb": 32.0, "bf16": False}
H100 = {"name": "H100", "memory_gb": 80.0, "bf16": True}


def failed(findings):
    return {f.check: f.fix for f in findings if not f.ok}


def test_pins_are_read_and_compared_without_the_build_suffix(tmp_path):
    (tmp_path / "req.txt").write_text("-r base.txt\ntorch==2.13.0  # cpu wheel\n# note==1\npytest==0.0.1\n")
    pins = check_env.pinned_versions(tmp_path / "req.txt")
    assert pins == {"torch": "2.13.0", "pytest": "0.0.1"}
    findings = failed(check_env.check_packages({**pins, "no-such-package": "1.0"}, "envs/requirements.txt"))
    assert "torch" not in findings  # 2.13.0+cpu matches 2.13.0
    assert findings["pytest"] == findings["no-such-package"] == "pip install -r envs/requirements.txt"


def test_gpu_checks_name_the_mismatch_and_the_fix():
    assert failed(check_env.check_gpus([H100] * 4, "12.8", 4, 4, "auto")) == {}
    too_few = failed(check_env.check_gpus([H100] * 2, "12.8", 4, None, "auto"))
    assert "train.gpus is 4 but torch sees 2 GPUs" in too_few["GPUs seen"]
    assert "--resources gpu=4" in failed(check_env.check_gpus([H100] * 4, "12.8", 1, 8, "auto"))["--resources gpu"]
    assert "bf16" not in failed(check_env.check_gpus([V100], "12.8", 1, 1, "auto"))  # auto falls back to fp32
    assert "train.precision" in failed(check_env.check_gpus([V100], "12.8", 1, 1, "bf16"))["bf16"]
    assert "CUDA build" in failed(check_env.check_gpus([], None, 2, None, "auto"))["torch build"]
    assert failed(check_env.check_gpus([], None, 0, None, "bf16")) == {}  # a CPU's bf16: check_cpu_precision
    # train.gpus 0 on a GPU box is legitimate: said with the way to use the GPUs, not failed
    idle = {f.check: f for f in check_env.check_gpus([H100] * 4, "12.8", 0, 4, "auto")}["GPUs used"]
    assert idle.ok and "4 GPU(s) idle; without train.gpus in your config (auto)" in idle.detail
    assert "GPUs used" not in {f.check for f in check_env.check_gpus([H100] * 4, "12.8", 4, 4, "auto")}


def test_model_folder_needs_config_weights_and_tokenizer(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    findings = failed(check_env.model_folder_findings(str(tmp_path), demo_folder=tmp_path))
    # the base model always loads from safetensors: pickled weights need converting, whatever allow_pickle says
    assert "convert pickled .bin weights" in findings["model weights"] and "tokenizer.json" in findings["tokenizer"]
    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / "tokenizer.json").write_text("{}")
    assert failed(check_env.model_folder_findings(str(tmp_path), demo_folder=tmp_path)) == {}
    assert (
        "not a folder" in failed(check_env.model_folder_findings(str(tmp_path / "gone"), demo_folder=tmp_path))["model"]
    )


def test_a_model_folder_without_a_working_tokenizer_is_refused_at_load(tmp_path, tiny_model_dir):
    """transformers built an empty tokenizer from a folder without tokenizer files: the data stages counted
    0 tokens with exit 0, and training failed much later with a reshape error."""
    import shutil

    from focalcls.core.errors import UserError
    from focalcls.train.model import load_tokenizer

    for name in ("config.json", "model.safetensors", "tokenizer_config.json"):
        shutil.copy(tiny_model_dir / name, tmp_path / name)
    with pytest.raises(UserError, match=f"{tmp_path}' has no tokenizer files"):
        load_tokenizer(tmp_path)
    assert "tokenizer" in failed(check_env.model_folder_findings(str(tmp_path), demo_folder=tmp_path))
    (tmp_path / "tokenizer_config.json").unlink()  # it names a class that needs tokenizer.json
    (tmp_path / "vocab.json").write_text("{}")  # a vocabulary with no entries: every text encodes to nothing
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    with pytest.raises(UserError, match=f"tokenizer in model.checkpoint '{tmp_path}' encodes .* to no tokens"):
        load_tokenizer(tmp_path)
    finding = check_env.check_pad_token(str(tmp_path), trust_remote_code=False)
    assert not finding.ok and "to no tokens" in finding.detail
    assert load_tokenizer(tiny_model_dir).pad_token == "<pad>"


def test_hub_id_is_explained_and_the_token_never_printed(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there: unreachable, at once
    findings = check_env.model_folder_findings("Qwen/Qwen3-1.7B", demo_folder=check_env.Path("."))
    text = check_env.table(findings) + "\n".join(check_env.fixes(findings))
    assert "hf download Qwen/Qwen3-1.7B --local-dir /models/Qwen3-1.7B" in text
    assert "127.0.0.1:9 not reachable" in text and "set (HF_TOKEN)" in text and "hf_secret_value" not in text


def test_disk_check_asks_for_room(tmp_path):
    assert check_env.check_disk(tmp_path / "results", min_free_gb=0.0).ok
    assert "free at least" in check_env.check_disk(tmp_path / "results", min_free_gb=1e9).fix


@pytest.mark.slow
def test_snakemake_check_env_prints_the_table_and_fails_with_fixes(tmp_path, tiny_model_dir):
    from helpers import snakemake
    from test_workflow import tiny_config

    config = tiny_config(tiny_model_dir)
    del config["predict"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    ready = snakemake("check_env", "--configfile", "config.yaml", "--cores", "1", cwd=tmp_path)
    assert (
        "ok    pad token" in ready.stdout + ready.stderr
        and "Everything checked is ready." in ready.stdout + ready.stderr
    )

    import torch

    seen = torch.cuda.device_count()
    config["train"]["gpus"] = seen + 1  # one more than this machine has; the checks run again, as on every call
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = snakemake("check_env", "--configfile", "config.yaml", "--cores", "1", cwd=tmp_path, check=False)
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "To fix:" in out and f"train.gpus is {seen + 1} but torch sees {seen} GPUs" in out
    assert (tmp_path / "results/logs/check_env.log").read_text().count("FAIL") >= 2


@pytest.mark.slow
def test_check_env_shows_the_gpu_plan_the_console_printed(tmp_path, tiny_model_dir):
    """On a 4-GPU box (a fake nvidia-smi) auto plans one GPU a job; torch here is a CPU build, which check_env
    fails with the fix, as it would for a user whose GPUs their torch cannot use."""
    from helpers import four_gpu_box, snakemake
    from test_workflow import tiny_config

    config = tiny_config(tiny_model_dir)
    del config["predict"], config["train"]["gpus"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    args = ("check_env", "--configfile", "config.yaml", "--cores", "8", "--resources", "gpu=4")
    done = snakemake(*args, cwd=tmp_path, check=False, env=four_gpu_box(tmp_path / "bin"))
    (plan,) = [line for line in done.stderr.splitlines() if line.startswith("GPUs:")]
    assert "train.gpus auto: 1 GPU a job, up to 4 GPU jobs side by side, 1 CPU thread each" in plan
    table = (tmp_path / "results/logs/check_env.log").read_text()
    assert plan in table
    if not torch_cuda_build():
        assert done.returncode == 1 and "install a CUDA build of torch" in table


def test_the_cpu_check_is_left_out_not_crashed_without_torch(monkeypatch):
    path = REPO / "workflow" / "scripts" / "check_env.py"
    spec = importlib.util.spec_from_file_location("check_env_script", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.cpu_bf16() in (True, False)
    monkeypatch.setitem(sys.modules, "torch", None)  # what `import torch` meets where torch is not installed
    assert script.cpu_bf16() is None


def torch_cuda_build() -> bool:
    import torch

    return torch.version.cuda is not None
