"""train.precision: on a CPU, auto follows the CPU's own bf16 instructions, and an explicit bf16 without
them is warned of, at run time and by check_env; on a GPU (its capability simulated), auto is bf16 where
the GPU computes it and fp16 with the Trainer's loss scaling where it does not."""

import logging
import platform
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from focalcls.core.errors import UserError
from focalcls.devices import precision
from focalcls.env import check_env
from focalcls.train.trainer import training_arguments
from focalcls.train.training import compute_and_weight_types
from helpers import train_settings


@pytest.fixture(params=[True, False], ids=["bf16-cpu", "avx2-cpu"])
def cpu_bf16(request, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(precision, "cpu_runs_bf16", lambda: request.param)
    return request.param


def test_auto_computes_in_bf16_only_on_a_cpu_that_has_it(cpu_bf16, caplog):
    with caplog.at_level(logging.WARNING):
        assert precision.use_bf16("auto") is cpu_bf16
        assert precision.use_bf16("fp32") is False
    assert not caplog.records
    # weights stay float32 on any CPU: bf16 weights made no step faster there
    assert compute_and_weight_types("auto", "auto") == ("bf16" if cpu_bf16 else "fp32", "float32")
    if cpu_bf16:
        assert compute_and_weight_types("auto", "bfloat16") == ("bf16", "bfloat16")
    else:  # bf16 weights need bf16 compute, which auto does not give here
        with pytest.raises(UserError, match="model.dtype bfloat16 needs bf16 compute"):
            compute_and_weight_types("auto", "bfloat16")


def test_explicit_bf16_is_kept_and_warned_of_where_it_is_emulated(cpu_bf16, caplog):
    with caplog.at_level(logging.WARNING):
        assert precision.use_bf16("bf16") is True
    warned = [r.getMessage() for r in caplog.records]
    assert bool(warned) is not cpu_bf16
    assert all("train.precision" in w and "auto or fp32" in w for w in warned)


def test_check_env_fails_bf16_on_a_cpu_without_it_and_says_what_auto_gives():
    (emulated,) = check_env.check_cpu_precision(0, "bf16", cpu_bf16=False)
    assert not emulated.ok and "train.precision to auto" in emulated.fix
    (auto,) = check_env.check_cpu_precision(0, "auto", cpu_bf16=False)
    assert auto.ok and "fp32 compute" in auto.detail
    (native,) = check_env.check_cpu_precision(0, "bf16", cpu_bf16=True)
    assert native.ok and "bf16 compute" in native.detail
    assert check_env.check_cpu_precision(4, "bf16", cpu_bf16=False) == []  # GPUs train: check_gpus' part
    assert check_env.check_cpu_precision(0, "bf16", cpu_bf16=None) == []  # no torch: the package table says so


@pytest.mark.skipif(
    platform.machine() != "x86_64" or not Path("/proc/cpuinfo").exists(), reason="reads x86 Linux CPU flags"
)
def test_cpu_bf16_agrees_with_the_kernels_cpu_flags():
    flags = set(Path("/proc/cpuinfo").read_text().split())
    assert precision.cpu_runs_bf16() is ("avx512_bf16" in flags)


def test_an_arm_cpu_asks_onednn_and_a_torch_without_its_checks_means_fp32(monkeypatch):
    monkeypatch.setattr(precision.platform, "machine", lambda: "aarch64")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    assert precision.cpu_runs_bf16() is True

    def missing():
        raise RuntimeError("No such operator mkldnn::_is_mkldnn_bf16_supported")

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", missing, raising=False)
    assert precision.cpu_runs_bf16() is False

    monkeypatch.setattr(precision.platform, "machine", lambda: "x86_64")
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    assert precision.cpu_runs_bf16() is False


@pytest.fixture(params=[(8, "NVIDIA A100"), (7, "Tesla V100"), (7, "Tesla T4")], ids=lambda p: p[1])
def gpu(request, monkeypatch):
    """A GPU of compute capability `major`: 8 and later compute bf16; a V100 or T4 only emulates it, which
    torch's bf16 check counts as support unless told not to."""
    major, name = request.param
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: SimpleNamespace(major=major, name=name))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *device: name)
    monkeypatch.setattr(torch.cuda, "_check_bf16_tensor_supported", lambda device: True)  # emulation works
    monkeypatch.setattr(torch.version, "hip", None)
    return major >= 8


def test_auto_is_bf16_on_a_gpu_with_it_and_fp16_with_loss_scaling_on_one_without(gpu):
    assert compute_and_weight_types("auto", "auto") == (("bf16", "bfloat16") if gpu else ("fp16", "float32"))
    assert precision.use_bf16("auto") is gpu  # evaluation: bf16 autocast, or float32 beside fp16 training
    assert precision.compute_precision("fp16") == "fp16"
    assert precision.compute_precision("fp32") == "fp32"
    # fp16 keeps float32 weights under its autocast, on any GPU: auto weights follow the compute
    assert compute_and_weight_types("fp16", "auto") == ("fp16", "float32")
    assert precision.inference_types("fp16", "auto") == (False, "float32")
    assert precision.inference_types("auto", "auto") == ((True, "bfloat16") if gpu else (False, "float32"))
    if gpu:
        assert precision.compute_precision("bf16") == "bf16"
    else:
        with pytest.raises(UserError, match="has no bf16; use auto"):
            precision.compute_precision("bf16")
        with pytest.raises(UserError, match="model.dtype bfloat16 needs bf16 compute"):
            compute_and_weight_types("fp16", "bfloat16")


def test_fp16_reaches_the_trainer_as_its_own_loss_scaled_autocast(tmp_path):
    fp16 = training_arguments(train_settings(), tmp_path, 10, "fp16")
    assert fp16.fp16 and not fp16.bf16
    bf16 = training_arguments(train_settings(), tmp_path, 10, "bf16")
    assert bf16.bf16 and not bf16.fp16
    fp32 = training_arguments(train_settings(), tmp_path, 10, "fp32")
    assert not fp32.bf16 and not fp32.fp16


def test_fp16_on_the_cpu_is_refused_with_what_works_there(cpu_bf16):
    with pytest.raises(UserError, match="fp16, which needs a GPU; on the CPU use auto or fp32"):
        precision.compute_precision("fp16")
