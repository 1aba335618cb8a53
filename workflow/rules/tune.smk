# The original tool's advice automated (tune: in the config): first one training per gamma at tune.alpha,
# then one per alpha at the best gamma, each judged on the mean validation tune.metric over train.seeds.
# Each stage is a checkpoint, so Snakemake plans the second stage from the first one's result; the winner's
# runs are copied to results/presets/tuned/, which the report, predict and evaluate.files treat as a preset.
# A point whose settings equal a configured preset's (mild, moderate, severe are points of the default
# search) is that preset's runs, not trained again; its stage record names it.


checkpoint tune_gamma:
    input:
        metrics=expand(
            "results/presets/{preset}/eval/metrics.json",
            preset=runs_of([searched_run(gamma, TUNE["alpha"]) for gamma in TUNE["gammas"]]),
        ),
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
        values=TUNE["gammas"],
        runs=[searched_run(gamma, TUNE["alpha"]) for gamma in TUNE["gammas"]],
        fixed={"alpha": TUNE["alpha"]},
        seeds=len(SEEDS),
        metric=TUNE["metric"],
    script:
        "../scripts/tune_stage.py"


checkpoint tune_alpha:
    input:
        metrics=lambda wc: expand(
            "results/presets/{preset}/eval/metrics.json",
            preset=runs_of([searched_run(chosen(checkpoints.tune_gamma), alpha) for alpha in alpha_candidates()]),
        ),
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
        values=alpha_candidates(),
        runs=lambda wc: [searched_run(chosen(checkpoints.tune_gamma), alpha) for alpha in alpha_candidates()],
        fixed=lambda wc: {"gamma": chosen(checkpoints.tune_gamma)},
        seeds=len(SEEDS),
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
        preset="|".join(map(re.escape, runs_of(["tuned"]))),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
    script:
        "../scripts/copy_run.py"
