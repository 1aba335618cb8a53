"""The compute precision and the weights' dtype a job runs with, from train.precision and model.dtype.

bf16 pays only on hardware with bf16 arithmetic of its own. A CPU without it (AVX2 only, no AVX512-BF16
or AMX) emulates every bf16 product: 0.5 GFLOP/s against 94 in float32 on a 2-core AMD EPYC (measured),
so a demo training step takes 94 s instead of about 2 s. torch is imported inside the functions that use
it: check_env reads computes_bf16 where torch may be missing.
"""

from __future__ import annotations

import logging
import platform

from focalcls.core.errors import UserError

log = logging.getLogger(__name__)


def cpu_runs_bf16() -> bool:
    """Whether this CPU computes in bf16 natively: AVX512-BF16 (every AMX CPU has it too) on x86, the BF16
    extension on Arm (oneDNN's own check)."""
    import torch

    try:  # private checks of torch's: a torch without them (or without oneDNN) gets the safe guess, fp32
        if platform.machine().lower() in ("x86_64", "amd64", "i386", "i686"):
            return bool(torch.cpu._is_avx512_bf16_supported())
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def computes_bf16(precision: str, device_bf16: bool) -> bool:
    """Whether train.precision gives bf16 compute on a device that computes bf16 natively (`device_bf16`)
    or not: 'bf16' always, 'auto' only where it does (on the demo's CPU about 1.5x float32)."""
    return precision == "bf16" or (precision == "auto" and device_bf16)


def gpu_runs_bf16() -> bool:
    """Whether this process's GPU computes bf16 itself (Ampere and later, every ROCm GPU): torch's own check,
    less the emulation it counts by default, which makes a V100 or T4 'support' bf16 many times slower."""
    import torch

    return torch.cuda.is_bf16_supported(including_emulation=False)


def compute_precision(precision: str) -> str:
    """The compute precision train.precision gives on this device: 'bf16', 'fp16' or 'fp32'. 'auto' is bf16
    where the device computes it (a GPU with bf16; with no GPU, a CPU with bf16 instructions), fp16 with
    loss scaling on a GPU without bf16 (V100, T4), else fp32."""
    import torch

    if torch.cuda.is_available():
        gpu_bf16 = gpu_runs_bf16()
        if precision == "bf16" and not gpu_bf16:
            raise UserError(
                f"train.precision is bf16 but {torch.cuda.get_device_name()} has no bf16; use auto (fp16 there), "
                "fp16 or fp32"
            )
        return ("bf16" if gpu_bf16 else "fp16") if precision == "auto" else precision
    if precision == "fp16":
        raise UserError("train.precision is fp16, which needs a GPU; on the CPU use auto or fp32")
    cpu_bf16 = cpu_runs_bf16()
    if precision == "bf16" and not cpu_bf16:
        log.warning(
            "train.precision is bf16 but this CPU has no bf16 instructions (AVX512-BF16/AMX on x86, BF16 on Arm): "
            "every matrix product is emulated, tens of times slower than fp32; set train.precision to auto or fp32"
        )
    return "bf16" if computes_bf16(precision, cpu_bf16) else "fp32"


def use_bf16(precision: str) -> bool:
    """bf16 autocast for train.precision on this device. fp16 trains under the Trainer's autocast and loss
    scaling only; evaluation and prediction under fp16 run in float32, which needs no scaling."""
    return compute_precision(precision) == "bf16"


def resolve_dtype(name: str, compute: str) -> str:
    """model.dtype for a job computing in `compute` (compute_precision's): 'auto' loads bf16 weights on a GPU
    computing bf16 (half the memory of float32), float32 elsewhere: fp16 training keeps float32 weights under
    its autocast, and on a CPU bf16 weights under bf16 autocast made no step faster (BENCHMARKS.md)."""
    import torch

    if name != "auto":
        return name
    return "bfloat16" if compute == "bf16" and torch.cuda.is_available() else "float32"


def inference_types(precision: str, dtype: str) -> tuple[bool, str]:
    """For evaluation, prediction and the zero-shot baseline: bf16 autocast or not, and the weights' dtype
    (bf16 weights reach the float32 head through autocast)."""
    compute = compute_precision(precision)
    dtype = resolve_dtype(dtype, compute)
    return compute == "bf16" or dtype == "bfloat16", dtype
