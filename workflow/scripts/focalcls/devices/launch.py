"""Run a script's work in this process or, for several GPUs (or CPU processes), under accelerate launch.

The script relaunches itself: the outer process holds the job's GPU ids and a port for as long as the
processes run, and releases both however they end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence

from focalcls.devices.gpu_pool import acquire_gpus, reserve_port

LAUNCHED = "FOCALCLS_LAUNCHED"


def run_on_devices(
    work: Callable[[], None],
    *,
    script: str,
    gpus: int,
    processes: int,
    threads: int = 0,
    accelerate_args: Sequence[str] = (),
) -> None:
    """`gpus` GPU ids for the job (0: the CPU, even on a GPU box); `processes` > 1 runs data-parallel;
    `accelerate_args` (train.accelerate_args) go to accelerate launch as they are, after ours, so they
    win: the multi-node options, for one."""
    if os.environ.get(LAUNCHED):  # already one of accelerate's processes
        if processes > 1 and "LOCAL_RANK" not in os.environ:
            raise RuntimeError(f"accelerate started one process instead of {processes}; refusing to launch again")
        if threads:
            import torch

            torch.set_num_threads(max(1, threads // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
        work()
        return
    with acquire_gpus(gpus) as ids:
        # Set before anything starts CUDA, which reads it once.
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, ids))
        if ids:
            print(f"this job's GPU ids: {','.join(ids)}", file=sys.stderr, flush=True)
            warn_without_cuda(ids)
        if processes > 1 or accelerate_args:
            _relaunch(script, processes, accelerate_args)
        else:
            work()


def warn_without_cuda(ids: Sequence[str]) -> None:
    """A job given GPU ids that torch cannot use runs on the CPU, many times slower: said in its log, with
    the likely cause (a CPU-only torch on a GPU box is the usual one)."""
    import torch

    if not torch.cuda.is_available():
        cause = "a CPU-only build of torch" if torch.version.cuda is None else "check the driver with nvidia-smi"
        print(
            f"warning: this job holds GPU ids {','.join(ids)} but torch sees no GPU ({cause}); it runs on the CPU. "
            "snakemake check_env lists what to fix",
            file=sys.stderr,
            flush=True,
        )


def launch_command(script: str, argv: Sequence[str], processes: int, port: int, extra: Sequence[str] = ()) -> list[str]:
    """The accelerate launch command line; $VARS in `extra` come from this job's environment
    ($SLURM_NODEID as the machine rank on each node of a Slurm allocation)."""
    extra = [os.path.expandvars(arg) for arg in extra]
    # torchrun underneath (on the CPU over gloo); accelerate refuses it for a single process on one machine.
    several_machines = any(arg.split("=", 1)[0] == "--num_machines" for arg in extra)
    distributed = ["--multi_gpu"] if processes > 1 or several_machines else []
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(processes),
        "--main_process_port",
        str(port),
        "--num_machines",
        "1",
        "--dynamo_backend",
        "no",
        *distributed,
        *extra,
        script,
        *argv,
    ]


def _relaunch(script: str, processes: int, extra: Sequence[str]) -> None:
    with reserve_port() as port:  # held until the processes end, so no job starting meanwhile takes it
        cmd = launch_command(script, sys.argv[1:], processes, port, extra)
        print("launching:", " ".join(cmd), file=sys.stderr, flush=True)
        child = subprocess.Popen(cmd, env={**os.environ, LAUNCHED: "1"})
        # Snakemake and schedulers stop a job with SIGTERM: pass it on, so no process keeps training
        # on GPUs this job is about to hand back.
        previous = signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        try:
            returncode = child.wait()
        finally:
            signal.signal(signal.SIGTERM, previous)
            if child.poll() is None:
                child.kill()
                child.wait()
    if returncode != 0:
        sys.exit(returncode)
