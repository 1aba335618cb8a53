"""Load base model + one preset's adapter, predict val and test in batches (sharded over GPUs), write metrics.
Without --val it scores one labelled file (evaluate.files) given as --test."""

import sys
from pathlib import Path

from focalcls.core import cli
from focalcls.core.atomic import read_json
from focalcls.core.spreadsheets import read_table
from focalcls.devices.launch import run_on_devices
from focalcls.evaluate.outputs import write_evaluation


def main(args) -> None:
    processes = args.gpus or args.cpu_processes
    run_on_devices(lambda: _evaluate(args), script=__file__, gpus=args.gpus, processes=processes, threads=args.threads)


def _evaluate(args) -> None:
    """Each process predicts a contiguous share of the rows; rank 0 gathers them in order and writes."""
    import numpy as np
    import torch
    from accelerate import PartialState
    from accelerate.utils import gather_object

    from focalcls.evaluate.inference import predict_probs
    from focalcls.train.model import load_for_inference

    state = PartialState(cpu=not torch.cuda.is_available())  # without cpu=True, CPU processes do not join
    labels = read_json(args.labels)
    model, tokenizer, meta, bf16 = load_for_inference(
        args.checkpoint, args.adapter, labels, model_config=args.model, precision=args.precision, device=state.device
    )
    frames = {"val": read_table(args.val)} if args.val else {}
    frames["test"] = read_table(args.test)
    probs = {}
    for split, frame in frames.items():
        with state.split_between_processes(list(frame["text"])) as shard:
            part = predict_probs(
                model,
                tokenizer,
                shard,
                form=meta["loss"]["form"],
                max_length=args.model["max_length"],
                batch_size=args.batch_size,
                bf16=bf16,
            )
        probs[split] = np.concatenate(gather_object([part]))
        print(
            f"process {state.process_index} of {state.num_processes} predicted {len(part)} {split} rows",
            file=sys.stderr,
            flush=True,
        )
    if not state.is_main_process:
        return
    counts = read_json(args.summary)["counts"]["train"]
    extra = {"preset": meta["preset"], "loss": meta["loss"]}
    write_evaluation(Path(args.out_dir), frames, probs, labels, counts, keep_columns=args.keep_columns, extra=extra)


def build_parser():
    p = cli.parser(
        __doc__, required=("checkpoint", "adapter", "labels", "summary", "test", "out-dir"), sections=("model",)
    )
    p.add_argument("--val", help="the validation split (a preset's own evaluation); absent for evaluate.files")
    p.add_argument("--keep-columns", type=cli.json_arg, required=True, help="data.keep_columns as JSON")
    p.add_argument("--batch-size", type=int, required=True, help="train.eval_batch_size")
    p.add_argument("--precision", required=True, choices=["auto", "bf16", "fp16", "fp32"], help="train.precision")
    p.add_argument("--gpus", type=int, required=True, help="train.gpus: 0 predicts on the CPU; more shard the rows")
    p.add_argument("--cpu-processes", type=int, required=True, help="train.cpu_processes: with --gpus 0")
    return p


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
