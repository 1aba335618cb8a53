# The original tool's advice automated (tune: in the config): first one training per gamma at tune.alpha,
# then one per alpha at the best gamma, each judged on the mean validation tune.metric over train.seeds.
# Each stage is a checkpoint, so Snakemake plans the second stage from the first one's result; the winner's
# runs are copied to results/presets/tuned/, which the report, predict and evaluate.files treat as a preset.
# A point whose settings equal a configured preset's (mild, moderate, severe are points of the default
# search) is that preset's runs, not trained again; its stage record names it.


checkpoint tune_gamma:
    input:
        metrics=[path for point in gamma_points() for path in point["metrics"]],
    output:
        stage="results/tune/gamma.json",
    log:
        "results/logs/tune/gamma.log",
    benchmark:
        "results/benchmarks/tune/gamma.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
    params:
        parameter="gamma",
        points=gamma_points(),
        fixed={"alpha": TUNE["alpha"]},
        metric=TUNE["metric"],
    script:
        "../scripts/tune_stage.py"


checkpoint tune_alpha:
    input:
        metrics=lambda wc: [path for point in alpha_points() for path in point["metrics"]],
    output:
        stage="results/tune/alpha.json",
    log:
        "results/logs/tune/alpha.log",
    benchmark:
        "results/benchmarks/tune/alpha.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
    params:
        parameter="alpha",
        points=lambda wc: alpha_points(),
        fixed=lambda wc: {"gamma": chosen(checkpoints.tune_gamma)},
        metric=TUNE["metric"],
    script:
        "../scripts/tune_stage.py"


rule tuned:
    input:
        unpack(tuned_source),
    output:
        adapter=directory("results/presets/{preset}/adapter"),
        log_csv="results/presets/{preset}/train_log.csv",
        summary="results/presets/{preset}/train_summary.json",
        metrics="results/presets/{preset}/eval/metrics.json",
        predictions="results/presets/{preset}/eval/predictions.xlsx",
        val_predictions="results/presets/{preset}/eval/val_predictions.xlsx",
        confusion="results/presets/{preset}/eval/confusion.csv",
    log:
        "results/logs/tuned/{preset}.log",
    benchmark:
        "results/benchmarks/tuned/{preset}.tsv"
    wildcard_constraints:
        preset=one_of(runs_of(["tuned"])),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
    script:
        "../scripts/copy_run.py"
