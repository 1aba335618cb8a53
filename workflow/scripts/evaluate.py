"""Load base model + one preset's adapter, predict val and test in batches, write metrics."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from focalcls import cli  # noqa: E402
from focalcls.atomic import read_json  # noqa: E402
from focalcls.evaluation import write_evaluation  # noqa: E402
from focalcls.gpus import acquire_gpus  # noqa: E402
from focalcls.tables import read_table  # noqa: E402


def main(args) -> None:
    with acquire_gpus(min(1, args.gpus)) as ids:
        # Set before torch starts CUDA: this job's GPU, or none when training runs on the CPU.
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, ids))
        _evaluate(args)


def _evaluate(args) -> None:
    import torch

    from focalcls.inference import predict_probs
    from focalcls.model import load_trained_classifier, resolve_dtype
    from focalcls.training import use_bf16

    labels = read_json(args.labels)
    dtype = resolve_dtype(args.model.get("dtype", "auto"))
    model, tokenizer, meta = load_trained_classifier(
        args.checkpoint, args.adapter, labels, dtype=dtype, trust_remote_code=args.model.get("trust_remote_code", False)
    )
    bf16 = use_bf16(args.precision) or dtype == "bfloat16"  # bf16 weights feed the float32 head through autocast
    if torch.cuda.is_available():
        model.to("cuda")
    frames = {"val": read_table(args.val), "test": read_table(args.test)}
    probs = {
        split: predict_probs(
            model, tokenizer, list(frame["text"]), form=meta["loss"]["form"],
            max_length=args.model["max_length"], batch_size=args.batch_size, bf16=bf16,
        )
        for split, frame in frames.items()
    }
    write_evaluation(
        Path(args.out_dir), frames, probs, labels, read_json(args.summary)["counts"]["train"],
        keep_columns=args.keep_columns, extra={"preset": meta["preset"], "loss": meta["loss"]},
    )


def build_parser():
    p = cli.parser(
        __doc__, paths=("checkpoint", "adapter", "labels", "summary", "val", "test", "out-dir"), sections=("model",)
    )
    p.add_argument("--keep-columns", type=cli.json_arg, default=[])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"], help="train.precision")
    p.add_argument("--gpus", type=int, default=0, help="train.gpus: 0 predicts on the CPU, more on one GPU")
    return p


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
