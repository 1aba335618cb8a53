# How config values reach jobs: command lines, params that Snakemake never reads for wildcards, paths.


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


def raw_inputs(wildcards):
    data = config["data"]
    return [data[k] for k in ("raw", "train", "val", "test") if data[k]]
