import json
import os
import re
import sys
from pathlib import Path

from snakemake.utils import min_version

from focalcls.adapters import adapter_files
from focalcls.checks import (
    check_against_labels,
    check_config,
    check_gpu_budget,
    check_writable,
    preset_names,
    read_last_run,
)
from focalcls.config import complete, complete_preset
from focalcls.config_file import check_config_file
from focalcls.execution import cluster_executor
from focalcls.gpus import gpu_plan_line, plan_gpus

min_version("9.0")


SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"

# Snakemake's loader has kept the last of two equal keys and shares aliased values: check the files themselves
# before any step walks the config.
for configfile in workflow.configfiles:
    check_config_file(configfile)
config.update(complete(config, Path(workflow.basedir, "config", "schema.yaml")))  # defaults from the schema only
check_config(config)
_granted = workflow.global_resources.get("gpu")
GPU_RESOURCE = getattr(_granted, "value", _granted)  # --resources gpu=N, or None when not given
# A cluster run (Slurm), its main process and its jobs: no pool to share, the scheduler gives each job its
# GPUs. Read from the command line: workflow.local_exec is true while the Snakefile is read, whatever runs it.
CLUSTER = workflow.remote_exec or cluster_executor(sys.argv, os.environ) is not None
GPU_SETTING = config["train"]["gpus"]  # a number, or auto
config["train"]["gpus"], GPU_POOL = plan_gpus(
    config["train"], GPU_RESOURCE, cluster=CLUSTER, scheduled_job=workflow.remote_exec
)
check_gpu_budget(config["train"]["gpus"], GPU_RESOURCE, GPU_POOL)
if GPU_POOL and (GPU_RESOURCE is None or GPU_RESOURCE > len(GPU_POOL)):
    # Without --resources gpu=N (or with N above the pool) Snakemake would start more GPU jobs than there
    # are ids, and the surplus would wait in the lock pool; cap GPU use at the pool's size instead.
    workflow.global_resources["gpu"] = len(GPU_POOL)

SEEDS = config["train"]["seeds"]
TUNE = config["tune"]
# The presets the report, predict and evaluate.files know: the config's, `tuned`, the search's winner, and
# the adapters trained elsewhere (evaluate.adapters), each imported into its own folder as one run.
PRESETS = preset_names(config)
ADAPTERS = config["evaluate"]["adapters"]


def run_name(preset, seed):
    """A preset trained with one seed: the first seed's run keeps the preset's own folder (what predict, merge
    and evaluate.files use), each further seed's lies in a sub-folder, so every run is its own target."""
    return preset if seed == SEEDS[0] else f"{preset}/seed-{seed}"


def seeds_of(preset):
    """The seeds a preset is trained with; an adapter trained elsewhere is one run, named as a first seed's."""
    return SEEDS[:1] if preset in ADAPTERS else SEEDS


def runs_of(presets):
    """Every seed's run of each of `presets`, preset by preset, seeds in train.seeds order."""
    return [run_name(preset, seed) for preset in presets for seed in seeds_of(preset)]


def tune_run(gamma, alpha):
    """One training of the search: its own preset, named by its settings, so a setting both stages ask
    for is one run, trained once."""
    return f"tune/gamma-{gamma:g}-alpha-{alpha:g}"


def alpha_candidates():
    """The second stage's alphas: the first stage's, already trained at the best gamma, then tune.alphas."""
    return [TUNE["alpha"], *(a for a in TUNE["alphas"] if a != TUNE["alpha"])]


def trained_settings(preset):
    """What training reads of a preset: tau only where the loss is logit-adjusted."""
    return {k: v for k, v in preset.items() if k != "tau" or preset["loss"] == "logit-adjusted"}


def search_point(gamma, alpha):
    """The preset settings the search trains at (gamma, alpha)."""
    return complete_preset({"loss": "focal", "form": TUNE["form"], "gamma": gamma, "alpha": alpha})


def twin_preset(gamma, alpha):
    """The configured preset that trains exactly the search's point (the original tool's presets are points
    of the default search: mild, moderate, severe), or None."""
    point = trained_settings(search_point(gamma, alpha))
    return next((name for name, preset in config["presets"].items() if trained_settings(preset) == point), None)


def searched_run(gamma, alpha):
    """The run that holds the search's point: its twin preset's, which is not trained again, else its own."""
    return twin_preset(gamma, alpha) or tune_run(gamma, alpha)


# What the train step trains (the config's presets, every run the search may ask for), by name.
TRAINED = {
    **config["presets"],
    **{
        tune_run(gamma, alpha): search_point(gamma, alpha)
        for gamma in TUNE["gammas"]
        for alpha in alpha_candidates()
        if not twin_preset(gamma, alpha)
    },
}
# run name -> (preset, seed)
RUNS = {run_name(preset, seed): (preset, seed) for preset in [*TRAINED, *PRESETS] for seed in seeds_of(preset)}
TRAINED_RUNS = "|".join(re.escape(run) for run, (preset, _) in RUNS.items() if preset in TRAINED)
# The runs that evaluate scores: those trained here, and the adapters that import_adapter copies.
EVALUATED_RUNS = "|".join([TRAINED_RUNS, *map(re.escape, ADAPTERS)])
# What calibrate reads and writes beside: the predictions of a run's eval/ or adjusted/ folder, or a baseline's.
# Every run: the tuned preset's eval/ is a copy of the search winner's, calibrated as any other.
CALIBRATED_FOLDERS = "|".join(
    [f"presets/({'|'.join(map(re.escape, RUNS))})/(eval|adjusted)", *map("baselines/{}".format, config["baselines"])]
)
# Where predict takes a preset's figures from: its logit-adjusted predictions or its own.
SCORED_FOLDER = "adjusted" if config["predict"]["logit_adjustment"] else "eval"
DEMO_MODEL = "resources/models/demo"
DATA = "results/data"
ENV = "../../envs/focalcls.yaml"


wildcard_constraints:
    preset="|".join(map(re.escape, RUNS)),
    baseline="|".join(config["baselines"]),
    name="|".join(map(re.escape, config["predict"]["files"])),
    file="|".join(map(re.escape, config["evaluate"]["files"])),


def evaluate_command(extra):
    """evaluate.py's command line, shared by a preset's own evaluation and the evaluation of a new file."""
    return (
        "python {params.script:q} --threads {threads} --checkpoint={params.checkpoint:q}"
        " --adapter {input.adapter:q} --labels {input.labels:q} --summary {input.summary:q}"
        " --test {input.test:q} --model {params.model:q} --keep-columns {params.keep:q}"
        " --batch-size {params.batch_size} --precision {params.precision} --gpus {params.gpus}"
        f" --cpu-processes {{params.cpu_processes}} {extra} > {{log:q}} 2>&1"
    )


def evaluate_params():
    """The params evaluate_command reads (a dict literal: a line starting `checkpoint=` would read as a rule)."""
    return {
        "model": as_json(config["model"]),
        "keep": as_json(config["data"]["keep_columns"]),
        "batch_size": config["train"]["eval_batch_size"],
        "precision": config["train"]["precision"],
        "gpus": gpus_per_job(),
        "cpu_processes": config["train"]["cpu_processes"],
        "checkpoint": verbatim(model_folder()),
        "script": script_path("evaluate.py"),
    }


def direct_command(extra):
    """baseline_direct.py's command line, shared by the baseline's own evaluation and that of a new file."""
    return (
        "python {params.script:q} --threads {threads} --checkpoint={params.checkpoint:q}"
        " --labels {input.labels:q} --summary {input.summary:q} --test {input.test:q}"
        " --model {params.model:q} --direct {params.direct:q} --keep-columns {params.keep:q}"
        f" --precision {{params.precision}} --gpus {{params.gpus}} {extra} > {{log:q}} 2>&1"
    )


def direct_params():
    """The params direct_command reads."""
    return {
        "model": as_json(config["model"]),
        "direct": as_json(config["direct"]),
        "keep": as_json(config["data"]["keep_columns"]),
        "precision": config["train"]["precision"],
        "gpus": gpus_per_job(),
        "checkpoint": verbatim(model_folder()),
        "script": script_path("baseline_direct.py"),
    }


def evaluated_pairs():
    """(file, model) for every evaluate.files entry and every preset chosen to score on it, then every
    baseline (baselines), which scores each file too."""
    models = [*(config["evaluate"]["presets"] or PRESETS), *config["baselines"]]
    return [(file, model) for file in config["evaluate"]["files"] for model in models]


def evaluated_files():
    return [f"results/evaluations/{file}/{preset}/metrics.json" for file, preset in evaluated_pairs()]


def script_path(name):
    return str(SCRIPTS / name)


def verbatim(value):
    """A param that holds a config value, as it stands. Snakemake reads `{word}` in a param's string (or
    list of strings) as a wildcard: `predict.text_column: "{name}"` would become the file's name, and
    `{x}` stop the run with a WildcardError naming no key. A function's value it takes as it is."""
    return lambda wildcards: value


def json_text(value):
    """A config section as one line of JSON, its keys sorted at every level: Snakemake reruns a job when a
    param's text changes, and the same settings written in another order must retrain nothing."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def as_json(value):
    """A config section as a `shell:` rule's param: one JSON argument, quoted by the shell directive."""
    return verbatim(json_text(value))


def section(value):
    """A config section as a `script:` rule's param (a dict, which Snakemake never reads for wildcards)."""
    return json.loads(json_text(value))


def model_folder():
    chosen = config["model"]["checkpoint"]
    return DEMO_MODEL if chosen == "demo" else chosen


def data_name():
    """The data's name in a model card: the file it came from (the demo's, or the user's), without its folder."""
    data = config["data"]
    return Path(data["raw"] or data["train"] or "data").stem


def model_input(wildcards):
    """The demo model is built by a rule; a user's checkpoint is a folder the workflow never rewrites."""
    return [DEMO_MODEL] if config["model"]["checkpoint"] == "demo" else []


def split_files(wildcards=None):
    return {name: f"{DATA}/{name}.xlsx" for name in ("train", "val", "test")}


def gpus_per_job():
    return config["train"]["gpus"]


# A cluster job's CPU request when train.cpu_threads is null: Snakemake's --cores there is the submitting
# node's (the default profile's `cores: all`), which says nothing of the node a job lands on.
CLUSTER_JOB_THREADS = 8


def gpu_job_threads(gpus):
    """CPU threads of a job on `gpus` GPUs: train.cpu_threads, else --cores shared evenly among the GPU
    jobs that run at once (four one-GPU trainings on a 4-GPU, 8-core box: 2 each), so Snakemake starts
    them side by side; under a cluster executor, CLUSTER_JOB_THREADS. A CPU job (gpus 0) takes every core,
    so a large model is held in memory once; the demo sets train.cpu_threads 1, as its small model trains
    faster two at a time (BENCHMARKS.md)."""
    if config["train"]["cpu_threads"]:
        return config["train"]["cpu_threads"]
    if CLUSTER:
        return CLUSTER_JOB_THREADS
    return max(1, workflow.cores // gpu_jobs_at_once(gpus))


def gpu_jobs_at_once(gpus):
    """How many jobs of `gpus` GPUs each run side by side on this box: the pool (or --resources gpu) over
    `gpus`; one for a CPU job."""
    return min(len(GPU_POOL), GPU_RESOURCE or len(GPU_POOL)) // gpus if gpus and GPU_POOL else 1


GPU_PLAN = gpu_plan_line(
    GPU_SETTING, gpus_per_job(), GPU_POOL, gpu_jobs_at_once(gpus_per_job()), gpu_job_threads(gpus_per_job())
)
if not workflow.remote_exec:  # once a run, not once a cluster job; on stderr, so `snakemake --dag | dot` works
    print(GPU_PLAN, file=sys.stderr)


def raw_inputs(wildcards):
    data = config["data"]
    return [data[k] for k in ("raw", "train", "val", "test") if data[k]]


def predict_candidates():
    """The presets predict chooses from: all of them for 'best', else the one named."""
    chosen = config["predict"]["preset"]
    return PRESETS if chosen == "best" else [chosen]


def trained_presets():
    """The presets this workflow trains (and so has training logs of): every one but the adapters trained elsewhere."""
    return [preset for preset in PRESETS if preset not in ADAPTERS]


def outside_adapter_files(wildcards):
    """An adapter trained elsewhere's files: replacing one imports it again, and rescores it."""
    return adapter_files(ADAPTERS[wildcards.preset])


def labels_from_last_run():
    """results/data/labels.json when extract_labels made it from this config's data section (recorded in
    extract_report.json) and no input file changed since; labels of other data say nothing of this config."""
    labels, report = Path(DATA) / "labels.json", Path(DATA) / "extract_report.json"
    if not labels.exists() or not report.exists():
        return None
    if any(Path(p).exists() and Path(p).stat().st_mtime > labels.stat().st_mtime for p in raw_inputs(None)):
        return None
    if read_last_run(report).get("data_section") != section(config["data"]):
        return None
    return read_last_run(labels)


check_writable("results")
if config["data"]["labels"]:
    check_against_labels(config, config["data"]["labels"], "data.labels")
elif labels_from_last_run() is not None:
    check_against_labels(
        config, labels_from_last_run(), "results/data/labels.json of the last run, made from this data section"
    )


def adjusted_files(name):
    """Every preset's logit-adjusted `name`, or none when logit_adjustment.taus is empty (turned off)."""
    if not config["logit_adjustment"]["taus"]:
        return []
    return expand("results/presets/{preset}/adjusted/{name}", preset=runs_of(PRESETS), name=name)


def preset_params(run):
    """A run's preset settings as the train rule's param: tau left out unless the loss is logit-adjusted."""
    return trained_settings(TRAINED[RUNS[run][0]])


def train_params(run):
    """The train section as the train rule's param, with the run's seed where train.seed stood before
    train.seeds existed (a first seed of 42 retrains nothing trained then). Keys that never change a trained
    adapter (evaluate's batch size, which GPUs, how many CPU threads, the other seeds) are left out, so
    changing them retrains nothing; so is an empty accelerate_args. train.py fills them back in."""
    unused = ("eval_batch_size", "gpu_ids", "cpu_threads", "seeds")
    kept = {k: v for k, v in config["train"].items() if k not in unused and not (k == "accelerate_args" and not v)}
    return {**kept, "seed": RUNS[run][1]}


def chosen(stage):
    """The value a finished stage chose (reading it makes Snakemake wait for that checkpoint)."""
    return json.loads(Path(stage.get().output.stage).read_text(encoding="utf-8"))["chosen"]


def tuned_source(wildcards):
    """The winning run of the seed of `wildcards.preset` (tuned, or tuned/seed-<s>): its training and evaluation."""
    winner = searched_run(chosen(checkpoints.tune_gamma), chosen(checkpoints.tune_alpha))
    folder = f"results/presets/{run_name(winner, RUNS[wildcards.preset][1])}"
    return {kind: f"{folder}/{path}" for kind, path in TUNED_FILES.items()}


TUNED_FILES = {
    "adapter": "adapter",
    "log_csv": "train_log.csv",
    "summary": "train_summary.json",
    "metrics": "eval/metrics.json",
    "predictions": "eval/predictions.xlsx",
    "val_predictions": "eval/val_predictions.xlsx",
    "confusion": "eval/confusion.csv",
}
