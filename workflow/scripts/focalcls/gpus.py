"""A lock-file pool of GPU ids and a free TCP port, so parallel jobs on one box never share either.

Snakemake's `resources: gpu=N` only counts GPUs; it does not say which ones a job may use.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import UserError

DEFAULT_POOL_DIR = Path(os.environ.get("FOCALCLS_GPU_POOL", "/tmp/focalcls-gpu-pool"))


def visible_gpu_count() -> int:
    """GPUs on this machine, counted without initialising CUDA in this process.

    CUDA_VISIBLE_DEVICES must be set before CUDA starts, so the count comes from nvidia-smi, or
    from torch in a throw-away process where nvidia-smi is missing.
    """
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=60)
        if listing.returncode == 0:
            return sum(1 for line in listing.stdout.splitlines() if line.startswith("GPU "))
    except (OSError, subprocess.TimeoutExpired):
        pass
    probe = "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    return int(done.stdout.strip() or 0)


@contextlib.contextmanager
def acquire_gpus(
    n: int, *, total: int | None = None, pool_dir: Path = DEFAULT_POOL_DIR, timeout_s: float = 3600.0
) -> Iterator[list]:
    """Hold `n` GPU ids exclusively (flock on one file per id) until the block ends, however it ends.

    When a scheduler already set CUDA_VISIBLE_DEVICES, those ids are the job's and nothing is locked.
    """
    if n <= 0:
        yield []
        return
    preset = os.environ.get("CUDA_VISIBLE_DEVICES")
    if preset not in (None, ""):
        ids = [x.strip() for x in preset.split(",") if x.strip()]  # indices or GPU UUIDs
        if len(ids) < n:
            raise UserError(
                f"train.gpus is {n} but CUDA_VISIBLE_DEVICES={preset!r} gives this job {len(ids)}; lower train.gpus"
            )
        yield ids[:n]
        return
    total = visible_gpu_count() if total is None else total
    if n > total:
        raise UserError(f"train.gpus is {n} but this machine shows {total} GPU(s); lower train.gpus")
    pool_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):
        pool_dir.chmod(0o1777)  # shared by every user of the box, like /tmp
    deadline = time.monotonic() + timeout_s
    held: list[tuple[int, int]] = []
    try:
        while True:
            for gpu in range(total):
                if len(held) == n:
                    break
                # Read-only is enough for flock, so a lock file another user created still works.
                fd = os.open(pool_dir / f"gpu{gpu}.lock", os.O_CREAT | os.O_RDONLY, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held.append((gpu, fd))
                except BlockingIOError:
                    os.close(fd)
            if len(held) == n:
                break
            _release(held)
            held = []
            if time.monotonic() > deadline:
                raise UserError(f"no {n} free GPU ids in {pool_dir} after {timeout_s:.0f}s; other jobs hold them")
            time.sleep(1.0)
        yield [gpu for gpu, _ in held]
    finally:
        _release(held)


def _release(held: list[tuple[int, int]]) -> None:
    for _, fd in held:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def free_port() -> int:
    """A TCP port free right now; accelerate's default 29500 collides when two jobs start at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def reserve_port(*, pool_dir: Path = DEFAULT_POOL_DIR, attempts: int = 50) -> Iterator[int]:
    """A free port that no other job of this workflow holds until the block ends.

    free_port alone leaves a window between choosing the port and accelerate binding it, in which a
    job starting at the same moment can be handed the same port; a lock per port closes it.
    """
    pool_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):
        pool_dir.chmod(0o1777)
    for _ in range(attempts):
        port = free_port()
        fd = os.open(pool_dir / f"port{port}.lock", os.O_CREAT | os.O_RDONLY, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield port
        finally:
            _release([(port, fd)])
        return
    raise UserError(f"no free port found in {attempts} attempts; are many jobs starting at once?")
