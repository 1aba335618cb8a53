# Focal-loss LoRA text classification for imbalanced data. Every key: config/README.md.
# The demo's config applies to the demo alone: a user's --configfile stands on its own, and the keys it
# leaves out take the schema's defaults (no simulated long tail, only the presets it lists).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/tune.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/deploy.smk"
include: "workflow/rules/check_env.smk"
include: "workflow/rules/track.smk"


# Seconds of work each, from stored predictions or metrics to small files: under a cluster executor these
# run on the host that runs Snakemake instead of waiting, each as a job of its own, for a queue and for the
# executor's status queries (tens of seconds a job). Without one, nothing changes.
localrules:
    calibrate,
    binary_test,
    logit_adjustment,
    ensemble,
    model_card,
    tune_gamma,
    tune_alpha,
    tuned,
    report,
    track,


rule all:
    default_target: True
    input:
        "results/report.html",
        expand("results/predictions/{name}.xlsx", name=config["predict"]["files"]),
        evaluated_files(),
        tracking_outputs(),
        all_paths(files_of(PRESETS, ["model_card"])),


onsuccess:
    if Path("results/report.html").exists():
        print(f"Done. The report: {Path('results/report.html').resolve()} (opens from disk in any browser)")
