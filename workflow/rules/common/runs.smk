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
    """What training reads of a preset: tau only where the loss is logit-adjusted, label_smoothing only
    where it is on (so presets trained before it existed retrain nothing)."""
    return {
        k: v
        for k, v in preset.items()
        if (k != "tau" or preset["loss"] == "logit-adjusted") and (k != "label_smoothing" or v)
    }


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
# The audit's fold runs, {run: fold}, with audit.model a preset: each that preset's first seed, trained as any
# run without one fold of the training split (audit_fold); none with tfidf or the audit off.
AUDIT = config["audit"]
AUDIT_RUNS = {audit_run(f): f for f in range(1, AUDIT["folds"] + 1)} if AUDIT["model"] in config["presets"] else {}
# run name -> (preset, seed)
RUNS = {run_name(preset, seed, SEEDS): (preset, seed) for preset in [*TRAINED, *PRESETS] for seed in seeds_of(preset)}
RUNS.update({run: (AUDIT["model"], SEEDS[0]) for run in AUDIT_RUNS})
TRAINED_RUNS = one_of(run for run, (preset, _) in RUNS.items() if preset in TRAINED)
# The runs that evaluate scores: those trained here, and the adapters that import_adapter copies.
EVALUATED_RUNS = one_of(run for run, (preset, _) in RUNS.items() if preset in TRAINED or preset in ADAPTERS)
# The ensembles of the presets' stored predictions (ensembles): {name: {kind, preset, runs: {run: its members}}}.
ENSEMBLES = configured_ensembles(config)
# ensemble run name -> (ensemble, the preset runs it combines)
ENSEMBLE_RUNS = {run: (name, members) for name, e in ENSEMBLES.items() for run, members in e["runs"].items()}
# What calibrate reads and writes beside: the predictions of a run's eval/ or adjusted/ folder, or a baseline's.
# Every run: the tuned preset's eval/ is a copy of the search winner's, calibrated as any other.
CALIBRATED_FOLDERS = "|".join(
    [
        f"presets/({one_of(RUNS)})/(eval|adjusted)",
        *(f"baselines/{re.escape(b)}" for b in config["baselines"]),
        f"ensembles/({one_of(ENSEMBLE_RUNS)})",
    ]
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


def chosen_over_runs(files):
    """{model: {kind: its first run's path, metrics: [each run's, first seed first]}} from `files` ({model: [{kind:
    path} per run]}) for a stage that chooses a model as the report does (on the mean over runs, on validation)
    and then reads the first run's files."""
    return {model: {**runs[0], "metrics": [run["metrics"] for run in runs]} for model, runs in files.items()}


def ensemble_files(names, kinds):
    """{ensemble: [{kind: path} per ensemble run]} for `names` (ENSEMBLES), as files_of gives a preset's."""
    runs = {name: list(ENSEMBLES[name]["runs"]) for name in names}
    return run_files(runs, kinds, folder=ENSEMBLES_FOLDER, layout=ENSEMBLE_FILES)


def ensemble_sources(wildcards):
    """What one ensemble run combines, by name: {name, kind, preset, members: {run: {val_predictions, predictions,
    metrics}}, first seed first, tfidf: the TF-IDF baseline's predictions for a blend, else {}}."""
    name, members = ENSEMBLE_RUNS[wildcards.ensemble]
    kinds = ("val_predictions", "predictions", "metrics")
    files = dict(zip(members, run_files({name: members}, kinds)[name]))
    blend = ENSEMBLES[name]["kind"] == "tfidf"
    tfidf = {kind: f"results/baselines/tfidf/{kind}.xlsx" for kind in ("val_predictions", "predictions")}
    return {**ENSEMBLES[name], "name": name, "members": files, "tfidf": tfidf if blend else {}}


def ensemble_inputs(wildcards):
    sources = ensemble_sources(wildcards)
    return [*(path for files in sources["members"].values() for path in files.values()), *sources["tfidf"].values()]


def predict_runs():
    """The presets and ensembles predict chooses from, by name: {adapters, metrics (each run's), calibration (the
    first run's temperature and review threshold), tfidf ({train, seed} for a TF-IDF blend, else {})}; the
    metrics and calibration are the logit-adjusted rows' with predict.logit_adjustment."""
    adjusted = config["predict"]["logit_adjustment"]
    kinds = {"adapter": "adapter", "metrics": "adjusted_metrics" if adjusted else "metrics"}
    kinds["calibration"] = "adjusted_calibration" if adjusted else "calibration"
    presets = [name for name in predict_candidates() if name not in ENSEMBLES]
    found = chosen_over_runs(files_of(presets, kinds))
    runs = {name: {"adapters": [found[name].pop("adapter")], "tfidf": {}, **found[name]} for name in presets}
    ensembles = [name for name in predict_candidates() if name in ENSEMBLES]
    for name, files in chosen_over_runs(ensemble_files(ensembles, ("metrics", "calibration"))).items():
        members = next(iter(ENSEMBLES[name]["runs"].values()))  # a blend's first run, or every seed's run
        tfidf = {"train": f"{DATA}/train.xlsx", "seed": SEEDS[0]}  # as the baseline_tfidf rule fits it
        adapters = [paths["adapter"] for paths in run_files({name: members}, ["adapter"])[name]]
        runs[name] = {**files, "adapters": adapters, "tfidf": tfidf if ENSEMBLES[name]["kind"] == "tfidf" else {}}
    return runs


def training_rows(wildcards):
    """The train rule's split files, by name: an audit fold run trains on the split less its fold, every other
    run on the whole split (the same inputs as before fold runs existed, so nothing retrains)."""
    fold = AUDIT_RUNS.get(wildcards.preset)
    return {**split_files(), **({"train": audit_fold_files(fold)["train"]} if fold else {})}


def audit_held_predictions():
    """{fold run: its held-out rows' predictions}: what the audit reads of audit.model's fold runs (none with tfidf)."""
    return {
        run: files["held_predictions"]
        for run, (files,) in run_files({r: [r] for r in AUDIT_RUNS}, ["held_predictions"]).items()
    }


def audit_model_params():
    """The audit rule's params for audit.model a preset: its name and its fold runs' predictions; {} for tfidf."""
    return {"model": AUDIT["model"], "held": audit_held_predictions()} if AUDIT_RUNS else {}


def audit_runs():
    """The presets and ensembles the audit chooses from, with the first run's calibrated validation and test rows."""
    kinds = ("metrics", "calibrated_val", "calibrated")
    return chosen_over_runs({**files_of(PRESETS, kinds), **ensemble_files(ENSEMBLES, kinds)})


def predict_candidates():
    """What predict chooses from: every preset and ensemble for 'best' (no ensemble with predict.logit_adjustment:
    they combine the runs' unadjusted predictions), else the one named."""
    chosen = config["predict"]["preset"]
    if chosen != "best":
        return [chosen]
    return [*PRESETS, *([] if config["predict"]["logit_adjustment"] else ENSEMBLES)]


def trained_presets():
    """The presets this workflow trains (and so has training logs of): every one but the adapters trained elsewhere."""
    return [preset for preset in PRESETS if preset not in ADAPTERS]


def outside_adapter_files(wildcards):
    """An adapter trained elsewhere's files: replacing one imports it again, and rescores it."""
    return adapter_files(ADAPTERS[wildcards.preset])


def report_files():
    """The report's inputs as explicit maps: {preset: [{kind: path} per run]} for the presets, their training
    files (the presets trained here), their logit-adjusted rows (when logit_adjustment.taus is set) and the
    ensembles,
    {baseline: {kind: path}}, and {file: {model: metrics path}} for evaluate.files."""
    kinds = ("metrics", "predictions", "confusion", "binary", "calibration", "calibrated")
    adjusted = {"metrics": "adjusted_metrics", "predictions": "adjusted_predictions"}
    adjusted["calibration"] = "adjusted_calibration"
    return {
        "presets": files_of(PRESETS, kinds),
        "training": files_of(trained_presets(), ("train_summary", "train_log")),
        "adjusted": files_of(PRESETS, adjusted) if config["logit_adjustment"]["taus"] else {},
        "ensembles": ensemble_files(ENSEMBLES, ("metrics", "predictions", "calibration", "calibrated")),
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
    reported) are left out, so changing them retrains nothing; so are an empty accelerate_args and a head_lr
    of null (runs trained before either existed retrain nothing). train.py fills them back in (report_to comes
    to it with the tracking settings, in its environment)."""
    unused = ("eval_batch_size", "gpu_ids", "cpu_threads", "seeds", "report_to")
    unset = {"accelerate_args": [], "head_lr": None}
    kept = {k: v for k, v in config["train"].items() if k not in unused and not (k in unset and v == unset[k])}
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
