"""Label a file of new rows with a trained preset (named, or the best on validation)."""

import sys
from functools import partial
from pathlib import Path

from focalcls.core import cli
from focalcls.core.atomic import read_json
from focalcls.core.errors import UserError
from focalcls.core.spreadsheets import read_table, write_xlsx
from focalcls.devices.launch import run_on_devices
from focalcls.evaluate.selection import pick_best
from focalcls.report.seed_summary import mean_over_seeds


def main(args) -> None:
    # One device is plenty for a file of rows; run_on_devices takes a GPU from the pool when training uses GPUs.
    run_on_devices(lambda: _predict(args), script=__file__, gpus=min(1, args.gpus), processes=1)


def _predict(args) -> None:
    import numpy as np

    from focalcls.deploy.prediction import predict_table
    from focalcls.evaluate.calibration import with_calibration
    from focalcls.train.logit_adjustment import adjusted_probs
    from focalcls.train.model import load_for_inference

    # --runs: {preset: {adapter, calibration: its first run's, metrics: [each run's]}}; the choice is on the mean
    # over runs (an adapter trained elsewhere has one run whatever the seeds), the adapter used is the first run's.
    paths = {name: files["metrics"] for name, files in args.runs.items()}
    by_preset = {name: [read_json(path) for path in runs] for name, runs in paths.items()}
    preset = pick_best({name: mean_over_seeds(runs) for name, runs in by_preset.items()}, args.selection_metric)
    validation = {name: runs[0] for name, runs in by_preset.items()}
    adapters = {name: files["adapter"] for name, files in args.runs.items()}
    calibration = read_json(args.runs[preset]["calibration"])
    frame = read_table(args.input, args.sheet, section="predict")
    model, tokenizer, meta, bf16 = load_for_inference(
        args.checkpoint,
        Path(adapters[preset]),
        read_json(args.labels),
        model_config=args.model,
        precision=args.precision,
    )
    adjustment = validation[preset].get("logit_adjustment") if args.logit_adjustment else None
    if args.logit_adjustment and adjustment is None:
        metrics = paths[preset][0]
        raise UserError(
            f"{metrics}: holds no logit adjustment; with predict.logit_adjustment give each preset's "
            "adjusted/metrics.json (the logit_adjustment rule's), or set it false"
        )
    adjust = (
        None
        if adjustment is None
        else partial(adjusted_probs, prior=np.array(adjustment["log_prior"]), tau=adjustment["tau"])
    )
    how = "" if adjustment is None else f" and its logit adjustment (tau={adjustment['tau']:g})"
    print(f"labelling {len(frame)} rows of {args.input} with preset {preset}{how}", file=sys.stderr)
    table = predict_table(
        frame,
        args.text_column,
        model,
        tokenizer,
        meta["labels"],
        form=meta["loss"]["form"],
        max_length=args.model["max_length"],
        batch_size=args.batch_size,
        bf16=bf16,
        source=args.input,
        adjust=adjust,
    )
    # The temperature and review threshold fitted on the same preset's (adjusted) validation predictions.
    table = with_calibration(table, meta["labels"], calibration["temperature"], calibration["review"])
    review = calibration["review"]
    if review is not None:
        print(f"{int(table['needs_review'].sum())} of {len(table)} rows need review", file=sys.stderr)
        if review["message"]:
            print(f"warning: {review['message']}", file=sys.stderr)
    write_xlsx(Path(args.out), table)


def build_parser():
    p = cli.parser(__doc__, required=("checkpoint", "labels", "input", "text-column", "out"), sections=("model",))
    p.add_argument(
        "--runs",
        type=cli.json_arg,
        required=True,
        help="{preset: {adapter: folder, calibration: calibration.json, metrics: [metrics.json of each run]}} as JSON",
    )
    p.add_argument(
        "--logit-adjustment",
        type=cli.json_arg,
        required=True,
        help="predict.logit_adjustment: apply the tau that the runs' metrics (adjusted/) hold",
    )
    p.add_argument("--selection-metric", required=True, help="report.selection_metric, on validation")
    p.add_argument("--sheet", type=cli.json_arg, required=True, help="predict.sheet as JSON: a name, an index or null")
    p.add_argument("--batch-size", type=int, required=True, help="train.eval_batch_size")
    p.add_argument("--precision", required=True, choices=["auto", "bf16", "fp16", "fp32"], help="train.precision")
    p.add_argument("--gpus", type=int, required=True, help="train.gpus: 0 predicts on the CPU, more on one GPU")
    return p


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
