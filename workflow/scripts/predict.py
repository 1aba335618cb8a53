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
    from focalcls.deploy.prediction import predict_table
    from focalcls.evaluate.calibration import with_calibration

    # --runs: {model: {adapters, calibration: its first run's, metrics: [each run's], tfidf}}; the choice is on the
    # mean over runs (an adapter trained elsewhere has one run whatever the seeds), the adapters used the first
    # run's (a preset, a blend) or every seed's (a seeds ensemble).
    by_model = {name: [read_json(path) for path in files["metrics"]] for name, files in args.runs.items()}
    chosen = pick_best({name: mean_over_seeds(runs) for name, runs in by_model.items()}, args.selection_metric)
    files, first = args.runs[chosen], by_model[chosen][0]
    labels = read_json(args.labels)
    adjust = logit_adjustment(first, files["metrics"][0]) if args.logit_adjustment else None
    frame = read_table(args.input, args.sheet, section="predict")
    what = "ensemble" if "ensemble" in first else "preset"
    print(f"labelling {len(frame)} rows of {args.input} with {what} {chosen}{described(first)}", file=sys.stderr)

    def probs_of(texts: list[str]):
        from focalcls.evaluate.ensembles import combine

        members = [{"rows": adapter_probs(args, adapter, labels, texts)} for adapter in files["adapters"]]
        tfidf = {"rows": refit_tfidf(files["tfidf"], labels, texts)} if files["tfidf"] else None
        probs = combine(members, tfidf, first.get("ensemble", {}).get("weight"))["rows"]
        return probs if adjust is None else adjust(probs)

    table = predict_table(frame, args.text_column, labels, probs_of, source=args.input)
    # The temperature and review threshold fitted on the same model's (adjusted) validation predictions.
    calibration = read_json(files["calibration"])
    table = with_calibration(table, labels, calibration["temperature"], calibration["review"])
    review = calibration["review"]
    if review is not None:
        print(f"{int(table['needs_review'].sum())} of {len(table)} rows need review", file=sys.stderr)
        if review["message"]:
            print(f"warning: {review['message']}", file=sys.stderr)
    write_xlsx(Path(args.out), table)


def adapter_probs(args, adapter: str, labels: list[str], texts: list[str]):
    """One adapter's probabilities of `texts` (float64, as the ensemble stage reads them back from xlsx); the
    model is let go before the next adapter of an ensemble loads."""
    import numpy as np

    from focalcls.evaluate.inference import predict_probs
    from focalcls.train.model import load_for_inference

    model, tokenizer, meta, bf16 = load_for_inference(
        args.checkpoint, Path(adapter), labels, model_config=args.model, precision=args.precision
    )
    settings = {"form": meta["loss"]["form"], "max_length": args.model["max_length"], "batch_size": args.batch_size}
    return predict_probs(model, tokenizer, texts, bf16=bf16, **settings).astype(np.float64)


def refit_tfidf(tfidf: dict, labels: list[str], texts: list[str]):
    """The TF-IDF baseline fitted again on the training split with its seed, as the baseline_tfidf rule fits it
    (seconds, and the same model), and its probabilities of `texts`."""
    import pandas as pd

    from focalcls.data.cleaning import TEXT
    from focalcls.evaluate.baselines import tfidf_probs

    train = read_table(tfidf["train"])
    return tfidf_probs(train, {"rows": pd.DataFrame({TEXT: texts})}, labels, seed=tfidf["seed"])["rows"]


def logit_adjustment(metrics: dict, path: str):
    """The chosen preset's logit adjustment (the tau and prior of its adjusted/metrics.json) as a function."""
    import numpy as np

    from focalcls.train.logit_adjustment import adjusted_probs

    adjustment = metrics.get("logit_adjustment")
    if adjustment is None:
        raise UserError(
            f"{path}: holds no logit adjustment; with predict.logit_adjustment give each preset's "
            "adjusted/metrics.json (the logit_adjustment rule's), or set it false"
        )
    return partial(adjusted_probs, prior=np.array(adjustment["log_prior"]), tau=adjustment["tau"])


def described(metrics: dict) -> str:
    """What the console says of the chosen model beyond its name: its logit adjustment, or what the ensemble needs."""
    if "logit_adjustment" in metrics:
        return f" and its logit adjustment (tau={metrics['logit_adjustment']['tau']:g})"
    ensemble = metrics.get("ensemble")
    if ensemble is None:
        return ""
    if ensemble["kind"] == "seeds":
        return f": the adapters of {', '.join(ensemble['runs'])}, their log-probabilities averaged"
    weight = ensemble["weight"]
    return f": {ensemble['runs'][0]}'s adapter blended with TF-IDF refitted on the training split, weight {weight:g}"


def build_parser():
    p = cli.parser(__doc__, required=("checkpoint", "labels", "input", "text-column", "out"), sections=("model",))
    p.add_argument(
        "--runs",
        type=cli.json_arg,
        required=True,
        help="{preset or ensemble: {adapters: [folders], calibration: calibration.json, metrics: [metrics.json of each "
        "run], tfidf: {train, seed} of a TF-IDF blend, or {}}} as JSON",
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
