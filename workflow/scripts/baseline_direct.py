"""Baseline: zero-shot classification by the base model alone (no adapter), evaluated like every preset.
Without --val it scores one labelled file (evaluate.files) given as --test."""

import sys
from pathlib import Path

from focalcls.core import cli
from focalcls.core.atomic import read_json
from focalcls.core.errors import UserError
from focalcls.core.spreadsheets import read_table
from focalcls.devices.launch import run_on_devices
from focalcls.evaluate.outputs import write_evaluation


def main(args) -> None:
    # One device is plenty for a file of rows; run_on_devices takes a GPU from the pool when training uses GPUs.
    run_on_devices(lambda: _direct(args), script=__file__, gpus=min(1, args.gpus), processes=1)


def _direct(args) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from focalcls.devices.precision import inference_types
    from focalcls.evaluate.zero_shot import zero_shot_probs
    from focalcls.train.model import DTYPES, load_tokenizer, refusing_remote_code

    labels = read_json(args.labels)
    bf16, dtype = inference_types(args.precision, args.model["dtype"])
    trust = args.model["trust_remote_code"]
    tokenizer = load_tokenizer(args.checkpoint, trust_remote_code=trust)
    try:
        with refusing_remote_code(args.checkpoint):
            model = AutoModelForCausalLM.from_pretrained(
                args.checkpoint, dtype=DTYPES[dtype], use_safetensors=True, trust_remote_code=trust
            ).eval()
    except ValueError as e:  # an encoder checkpoint (BERT-like) has no language-model head to score labels with
        if "Unrecognized configuration class" not in str(e):
            raise
        raise UserError(
            f"{args.checkpoint} is not a causal language model ({e.__class__.__name__}), so it cannot score label "
            "names zero-shot; remove 'direct' from baselines"
        ) from None
    if torch.cuda.is_available():
        model.to("cuda")
    frames = {"val": read_table(args.val)} if args.val else {}
    frames["test"] = read_table(args.test)
    probs = {
        split: zero_shot_probs(
            model,
            tokenizer,
            list(frame["text"]),
            labels,
            template=args.direct["prompt"],
            answer_prefix=args.direct["answer_prefix"],
            calibrate=args.direct["calibrate"],
            max_length=args.model["max_length"],
            batch_size=args.direct["batch_size"],
            bf16=bf16,
        )
        for split, frame in frames.items()
    }
    counts = read_json(args.summary)["counts"]["train"]
    extra = {"preset": "direct", "loss": {"loss": "zero-shot (no training)"}}
    write_evaluation(Path(args.out_dir), frames, probs, labels, counts, keep_columns=args.keep_columns, extra=extra)


def build_parser():
    required = ("checkpoint", "labels", "summary", "test", "out-dir")
    p = cli.parser(__doc__, required=required, sections=("model", "direct"))
    p.add_argument("--val", help="the validation split (the baseline's own evaluation); absent for evaluate.files")
    p.add_argument("--keep-columns", type=cli.json_arg, required=True, help="data.keep_columns as JSON")
    p.add_argument("--precision", required=True, choices=["auto", "bf16", "fp16", "fp32"], help="train.precision")
    p.add_argument("--gpus", type=int, required=True, help="train.gpus: 0 runs on the CPU, more on one GPU")
    return p


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
