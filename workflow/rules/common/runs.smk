# Runs, named: the presets, the search's runs, what each rule reads and writes by run (focalcls.config.runs).


def one_of(names):
    """A wildcard constraint that matches exactly `names`. With none, a pattern nothing matches: an empty one
    constrains nothing, and Snakemake would try the rule (its input functions) for every path."""
    return "|".join(map(re.escape, names)) or "(?!)"


def seeds_of(preset):
    """The seeds a preset is trained with; an adapter trained elsewhere is one run, named as a first seed's."""
    return SEEDS[:1] if preset in ADAPTERS else SEEDS


def runs_by_preset(presets):
    """{preset: its runs, first seed first} (focalcls.config.runs names them)."""
    return {preset: [run_name(preset, seed, SEEDS) for seed in seeds_of(preset)] for preset in presets}


def runs_of(presets):
    """Every seed's run of each of `presets`, for expand() and wildcard constraints."""
    return [run for runs in runs_by_preset(presets).values() for run in runs]


def files_of(presets, kinds):
    """{preset: [{kind: path} for each run]}: a rule's explicit map of the files of `presets`' runs."""
    return run_files(runs_by_preset(presets), kinds)


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


def search_points(values, gamma_of, alpha_of):
    """One stage's candidates, by name: [{value, run, metrics: [its runs' metrics.json]}] (focalcls.train.search)."""
    points = []
    for value in values:
        run = searched_run(gamma_of(value), alpha_of(value))
        metrics = [files["metrics"] for files in files_of([run], ["metrics"])[run]]
        points.append({"value": value, "run": run, "metrics": metrics})
    return points


def gamma_points():
    """The first stage's candidates: each gamma at tune.alpha."""
    return search_points(TUNE["gammas"], lambda gamma: gamma, lambda gamma: TUNE["alpha"])


def alpha_points():
    """The second stage's candidates: each alpha at the gamma the first stage chose."""
    gamma = chosen(checkpoints.tune_gamma)
    return search_points(alpha_candidates(), lambda alpha: gamma, lambda alpha: alpha)


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
RUNS = {run_name(preset, seed, SEEDS): (preset, seed) for preset in [*TRAINED, *PRESETS] for seed in seeds_of(preset)}
TRAINED_RUNS = one_of(run for run, (preset, _) in RUNS.items() if preset in TRAINED)
# The runs that evaluate scores: those trained here, and the adapters that import_adapter copies.
EVALUATED_RUNS = one_of(run for run, (preset, _) in RUNS.items() if preset in TRAINED or preset in ADAPTERS)
# What calibrate reads and writes beside: the predictions of a run's eval/ or adjusted/ folder, or a baseline's.
# Every run: the tuned preset's eval/ is a copy of the search winner's, calibrated as any other.
CALIBRATED_FOLDERS = "|".join(
    [f"presets/({one_of(RUNS)})/(eval|adjusted)", *(f"baselines/{re.escape(b)}" for b in config["baselines"])]
)


wildcard_constraints:
    preset=one_of(RUNS),
    baseline=one_of(config["baselines"]),
    name=one_of(config["predict"]["files"]),
    file=one_of(config["evaluate"]["files"]),


def evaluated_pairs():
    """(file, model) for every evaluate.files entry and every preset chosen to score on it, then every
    baseline (baselines), which scores each file too."""
    models = [*(config["evaluate"]["presets"] or PRESETS), *config["baselines"]]
    return [(file, model) for file in config["evaluate"]["files"] for model in models]


def evaluated_files():
    return [path for models in report_files()["evaluations"].values() for path in models.values()]


def chosen_over_runs(presets, kinds):
    """{preset: {kind: its first run's path, metrics: [each run's, first seed first]}} for a stage that chooses a
    preset as the report does (on the mean over runs, on validation) and then reads the first run's files."""
    files = files_of(presets, kinds)
    return {preset: {**runs[0], "metrics": [run["metrics"] for run in runs]} for preset, runs in files.items()}


def predict_runs():
    """The presets predict chooses from, with their adapter and calibration (temperature, review threshold);
    the metrics and calibration are the logit-adjusted rows' with predict.logit_adjustment."""
    adjusted = config["predict"]["logit_adjustment"]
    kinds = {"adapter": "adapter", "metrics": "adjusted_metrics" if adjusted else "metrics"}
    kinds["calibration"] = "adjusted_calibration" if adjusted else "calibration"
    return chosen_over_runs(predict_candidates(), kinds)


def audit_runs():
    """The presets the audit chooses from, with the first run's calibrated validation and test rows."""
    return chosen_over_runs(PRESETS, ("metrics", "calibrated_val", "calibrated"))


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


def report_files():
    """The report's inputs as explicit maps: {preset: [{kind: path} per run]} for the presets, their training
    files (the presets trained here) and their logit-adjusted rows (when logit_adjustment.taus is set),
    {baseline: {kind: path}}, and {file: {model: metrics path}} for evaluate.files."""
    kinds = ("metrics", "predictions", "confusion", "binary", "calibration", "calibrated")
    adjusted = {"metrics": "adjusted_metrics", "predictions": "adjusted_predictions"}
    adjusted["calibration"] = "adjusted_calibration"
    return {
        "presets": files_of(PRESETS, kinds),
        "training": files_of(trained_presets(), ("train_summary", "train_log")),
        "adjusted": files_of(PRESETS, adjusted) if config["logit_adjustment"]["taus"] else {},
        "baselines": {
            name: {kind: f"results/baselines/{name}/{path}" for kind, path in BASELINE_FILES.items()}
            for name in config["baselines"]
        },
        "evaluations": {
            file: {
                model: f"results/evaluations/{file}/{model}/metrics.json" for f, model in evaluated_pairs() if f == file
            }
            for file in config["evaluate"]["files"]
        },
    }


def preset_params(run):
    """A run's preset settings as the train rule's param: tau left out unless the loss is logit-adjusted."""
    return trained_settings(TRAINED[RUNS[run][0]])


def train_params(run):
    """The train section as the train rule's param, with the run's seed where train.seed stood before
    train.seeds existed (a first seed of 42 retrains nothing trained then). Keys that never change a trained
    adapter (evaluate's batch size, which GPUs, how many CPU threads, the other seeds, where curves are
    reported) are left out, so changing them retrains nothing; so is an empty accelerate_args. train.py fills
    them back in (report_to comes to it with the tracking settings, in its environment)."""
    unused = ("eval_batch_size", "gpu_ids", "cpu_threads", "seeds", "report_to")
    kept = {k: v for k, v in config["train"].items() if k not in unused and not (k == "accelerate_args" and not v)}
    return {**kept, "seed": RUNS[run][1]}


def tracked_runs():
    """The runs that track.smk logs to MLflow, as its inputs list them: every run trained here (adapters
    trained elsewhere have no curve); `tuned` copies the search winner's run, whose settings it holds."""
    return [
        {"name": run, "seed": seed, "settings": trained_settings(TRAINED[preset]) if preset in TRAINED else {}}
        for run, (preset, seed) in ((run, RUNS[run]) for run in runs_of(trained_presets()))
    ]


def tracking_outputs():
    """What track.smk writes where MLflow is on (train.report_to), for the default target."""
    return ["results/tracking/mlflow_runs.json"] if "mlflow" in TRACKING["report_to"] else []


def chosen(stage):
    """The value a finished stage chose (reading it makes Snakemake wait for that checkpoint)."""
    return json.loads(Path(stage.get().output.stage).read_text(encoding="utf-8"))["chosen"]


def tuned_source(wildcards):
    """The winning run of the seed of `wildcards.preset` (tuned, or tuned/seed-<s>): its training and evaluation."""
    winner = searched_run(chosen(checkpoints.tune_gamma), chosen(checkpoints.tune_alpha))
    (files,) = run_files({winner: [run_name(winner, RUNS[wildcards.preset][1], SEEDS)]}, TUNED_FILES)[winner]
    return files


# The tuned rule's inputs and outputs, by name: the kinds of a run's files it copies.
TUNED_FILES = {
    "adapter": "adapter",
    "log_csv": "train_log",
    "summary": "train_summary",
    "metrics": "metrics",
    "predictions": "predictions",
    "val_predictions": "val_predictions",
    "confusion": "confusion",
}
