"""A lock-file pool of GPU ids and a free TCP port, so parallel jobs on one box never share either.

Snakemake's `resources: gpu=N` only counts GPUs; it does not say which ones a job may use.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from focalcls.core.errors import UserError

AUTO = "auto"  # train.gpus: one GPU a job where there are GPUs, else the CPU
DEFAULT_POOL_DIR = Path(os.environ.get("FOCALCLS_GPU_POOL", "/tmp/focalcls-gpu-pool"))


def visible_gpu_count() -> int:
    """GPUs on this machine, counted without initialising CUDA in this process.

    CUDA_VISIBLE_DEVICES must be set before CUDA starts, so the count comes from nvidia-smi, or
    from torch in a throw-away process where nvidia-smi is missing and a GPU driver shows devices (the
    probe imports torch, a few seconds at every workflow start on a machine without GPUs).
    """
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=60)
        if listing.returncode == 0:
            return sum(1 for line in listing.stdout.splitlines() if line.startswith("GPU "))
    except (OSError, subprocess.TimeoutExpired):
        pass
    if not any(Path("/dev").glob("nvidia[0-9]*")) and not Path("/dev/kfd").exists():  # CUDA's and ROCm's devices
        return 0
    probe = "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    return int(done.stdout.strip() or 0)


# Set by the workflow (common.smk) for its jobs: train.gpu_ids as the pool, and, in a job a scheduler
# started (Snakemake's remote execution: the Slurm executor), that its CUDA_VISIBLE_DEVICES is its own.
POOL_VARIABLE = "FOCALCLS_GPU_IDS"
ALLOCATED_VARIABLE = "FOCALCLS_SCHEDULER_ALLOCATED"


def _ids(text: str | None) -> list[str]:
    return [x.strip() for x in (text or "").split(",") if x.strip()]  # indices or GPU UUIDs


def _visible_ids(text: str) -> list[str]:
    """The GPUs a CUDA_VISIBLE_DEVICES value shows: CUDA stops at the first negative index, so "" and "-1",
    the usual ways to hide every GPU, show none."""
    ids = _ids(text)
    hidden = next((i for i, x in enumerate(ids) if re.fullmatch(r"-\d+", x)), len(ids))
    return ids[:hidden]


def gpu_pool(configured: Sequence[int | str] = ()) -> list[str]:
    """The GPU ids the workflow's parallel jobs share, each job locking its own: train.gpu_ids, else the
    CUDA_VISIBLE_DEVICES the user exported ("use these GPUs"), else every GPU of the machine."""
    if configured:
        return [str(x) for x in configured]
    exported = os.environ.get("CUDA_VISIBLE_DEVICES")
    if exported is None:
        return [str(i) for i in range(visible_gpu_count())]
    return _visible_ids(exported)  # set, even to nothing, it is the user's choice; none: GPU jobs stop, naming the pool


def plan_gpus(train: Mapping, granted: int | None, *, cluster: bool, scheduled_job: bool) -> tuple[int, list[str]]:
    """train.gpus as a number, and the pool of ids the workflow's jobs share (put in the environment they
    inherit; empty for a CPU run). `auto` is one GPU a job wherever there are GPUs to use: on one box, a
    pool that holds ids (train.gpu_ids, CUDA_VISIBLE_DEVICES, a scheduler's allocation, or the machine's
    GPUs) unless --resources gpu=0 (`granted`) forbids them; under a cluster executor (`cluster`: its main
    process and the jobs it starts, `scheduled_job`, alike) the GPUs the scheduler hands out, so the plan
    and the job agree."""
    setting = train["gpus"]
    if cluster:
        if scheduled_job:  # its CUDA_VISIBLE_DEVICES is the scheduler's, the job's own
            os.environ[ALLOCATED_VARIABLE] = "1"
        return (1 if setting == AUTO else setting), []
    if setting == 0 or (setting == AUTO and granted == 0):
        return 0, []
    pool = gpu_pool(train["gpu_ids"])
    gpus = (1 if pool else 0) if setting == AUTO else setting
    if gpus:
        os.environ[POOL_VARIABLE] = ",".join(pool)
    return gpus, pool if gpus else []


def gpu_plan_line(setting: int | str, gpus: int, pool: Sequence[str], side_by_side: int, threads: int) -> str:
    """The one console line that says what train.gpus came to: how many GPUs the jobs use, and how many
    jobs run at once (`side_by_side`, with `threads` CPU threads each)."""
    each = f", {_count(threads, 'CPU thread')} each"
    if not gpus:
        found = "no GPU found (nvidia-smi, CUDA_VISIBLE_DEVICES, train.gpu_ids)" if setting == AUTO else "train.gpus 0"
        return f"GPUs: {found}; training, evaluation and zero-shot jobs run on the CPU{each}"
    if not pool:
        return f"GPUs: train.gpus {setting}: {_count(gpus, 'GPU')} a job, from the cluster's scheduler{each}"
    return (
        f"GPUs: {len(pool)} in the pool ({','.join(pool)}); train.gpus {setting}: {_count(gpus, 'GPU')} a job, "
        f"up to {_count(side_by_side, 'GPU job')} side by side{each}"
    )


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"


@contextlib.contextmanager
def acquire_gpus(
    n: int, *, pool: Sequence[str] | None = None, pool_dir: Path = DEFAULT_POOL_DIR, timeout_s: float = 3600.0
) -> Iterator[list[str]]:
    """Hold `n` GPU ids of the pool exclusively (flock on one file per id) until the block ends, however
    it ends. A job a scheduler started owns its CUDA_VISIBLE_DEVICES: those ids are taken, nothing locked."""
    if n <= 0:
        yield []
        return
    if os.environ.get(ALLOCATED_VARIABLE) and _visible_ids(os.environ.get("CUDA_VISIBLE_DEVICES", "")):
        ids = _visible_ids(os.environ["CUDA_VISIBLE_DEVICES"])
        if len(ids) < n:
            raise UserError(f"train.gpus is {n} but the scheduler gave this job {len(ids)} GPU(s); lower train.gpus")
        yield ids[:n]
        return
    pool = gpu_pool(_ids(os.environ.get(POOL_VARIABLE))) if pool is None else list(pool)
    if n > len(pool):
        raise UserError(
            f"train.gpus is {n} but the GPU pool has {len(pool)} id(s) ({', '.join(pool) or 'none'}: train.gpu_ids, "
            "else CUDA_VISIBLE_DEVICES, else every GPU of the machine); lower train.gpus or widen the pool"
        )
    pool_dir = allocation_folder(pool_dir)
    _shared_folder(pool_dir)
    deadline = time.monotonic() + timeout_s
    held: list[tuple[str, int]] = []
    try:
        while not (held := _try_lock(pool, n, pool_dir)):
            if time.monotonic() > deadline:
                raise UserError(f"no {n} free GPU ids in {pool_dir} after {timeout_s:.0f}s; other jobs hold them")
            time.sleep(1.0)
        yield [gpu for gpu, _ in held]
    finally:
        _release(held)


def allocation_folder(pool_dir: Path) -> Path:
    """Inside a Slurm allocation the GPU numbers are the allocation's own (cgroups number them from 0), so
    two allocations on one node lock their ids in folders of their own; elsewhere ids are the machine's."""
    job = os.environ.get("SLURM_JOB_ID")
    if not job:
        return pool_dir
    _shared_folder(pool_dir)
    return pool_dir / f"slurm-job-{''.join(c for c in job if c.isalnum() or c in '-_')}"


def _try_lock(pool: Sequence[str], n: int, pool_dir: Path) -> list[tuple[str, int]]:
    """`n` ids locked now, or none (all or nothing, so two jobs never each hold half of what they need)."""
    held = []
    for gpu in pool:
        if len(held) == n:
            break
        # One file per physical id, so runs with different pools still never share a GPU. Read-only is
        # enough for flock, so a lock file another user created still works.
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in gpu)
        fd = os.open(pool_dir / f"gpu{name}.lock", os.O_CREAT | os.O_RDONLY, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append((gpu, fd))
        except BlockingIOError:
            os.close(fd)
    if len(held) < n:
        _release(held)
        return []
    return held


def _shared_folder(pool_dir: Path) -> None:
    """The lock folder, shared by every user of the box like /tmp (so two users' jobs never share a GPU),
    and refused when someone else could have prepared it: a link (the chmod would follow it) or a folder
    of another user that others may write in without the sticky bit (they could swap its lock files)."""
    with contextlib.suppress(FileExistsError):
        pool_dir.mkdir(parents=True)
        pool_dir.chmod(0o1777)
    info = os.lstat(pool_dir)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise UserError(
            f"the GPU lock folder {pool_dir} is a link or not a folder; remove it, or set FOCALCLS_GPU_POOL "
            "to a folder of your own"
        )
    unsafe = info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX
    if info.st_uid != os.getuid() and unsafe:
        raise UserError(
            f"the GPU lock folder {pool_dir} belongs to another user and anyone may replace its files; ask them "
            "to remove it, or set FOCALCLS_GPU_POOL to a folder of your own"
        )


def _release(held: list[tuple[str, int]]) -> None:
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
    _shared_folder(pool_dir)
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
            _release([(str(port), fd)])
        return
    raise UserError(f"no free port found in {attempts} attempts; are many jobs starting at once?")
