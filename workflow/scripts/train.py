"""Train one preset's LoRA adapter; with train.gpus > 1 it relaunches itself under accelerate."""

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from focalcls import cli  # noqa: E402
from focalcls.atomic import read_json  # noqa: E402
from focalcls.gpus import acquire_gpus, reserve_port  # noqa: E402
from focalcls.presets import resolve_preset  # noqa: E402
from focalcls.tables import read_table  # noqa: E402


LAUNCHED = "FOCALCLS_LAUNCHED"


def main(args) -> None:
    gpus = int(args.train_settings.get("gpus", 0))
    processes = gpus or int(args.train_settings.get("cpu_processes", 1))
    if os.environ.get(LAUNCHED):  # already one of accelerate's processes
        if processes > 1 and "LOCAL_RANK" not in os.environ:
            raise RuntimeError(f"accelerate started one process instead of {processes}; refusing to launch again")
        if args.threads:
            import torch

            torch.set_num_threads(max(1, args.threads // int(os.environ.get("WORLD_SIZE", "1"))))
        _train(args)
        return
    with acquire_gpus(gpus) as ids:
        if ids:
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, ids))
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = ""  # train.gpus 0 means CPU even on a GPU box
        if gpus or processes > 1:
            # A fresh process, so CUDA starts after CUDA_VISIBLE_DEVICES names this job's GPUs.
            _relaunch(processes)
        else:
            _train(args)


def _relaunch(processes: int) -> None:
    with reserve_port() as port:  # held until the processes end, so no job starting meanwhile takes it
        cmd = [
            sys.executable, "-m", "accelerate.commands.launch",
            "--num_processes", str(processes),
            "--main_process_port", str(port),
            "--num_machines", "1",
            "--dynamo_backend", "no",
            *(["--multi_gpu"] if processes > 1 else []),  # torchrun underneath; on CPU over gloo
            __file__, *sys.argv[1:],
        ]
        print("launching:", " ".join(cmd), file=sys.stderr, flush=True)
        done = subprocess.run(cmd, env={**os.environ, LAUNCHED: "1"})
    if done.returncode != 0:
        sys.exit(done.returncode)


def _train(args) -> None:
    from focalcls.training import TrainSettings, train_preset

    labels = read_json(args.labels)
    counts = read_json(args.summary)["counts"]["train"]
    loss = resolve_preset(args.preset, args.preset_settings, labels, counts)
    fields = TrainSettings.__dataclass_fields__
    settings = TrainSettings(**{k: v for k, v in args.train_settings.items() if k in fields})
    train_preset(
        train=read_table(args.train),
        val=read_table(args.val),
        labels=labels,
        checkpoint=args.checkpoint,
        loss=loss,
        lora=args.lora,
        settings=settings,
        max_length=args.model["max_length"],
        out_dir=Path(args.out_dir),
        preset_name=args.preset,
        dtype=args.model.get("dtype", "auto"),
        trust_remote_code=args.model.get("trust_remote_code", False),
    )


def build_parser():
    return cli.parser(
        __doc__,
        paths=("train", "val", "labels", "summary", "checkpoint", "preset", "out-dir"),
        sections=("preset-settings", "lora", "train-settings", "model"),
    )


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
