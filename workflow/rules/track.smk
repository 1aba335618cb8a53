# With train.report_to mlflow: once the report is built, each trained run's MLflow run gets its test
# metrics, its preset's settings and the commit. Changing tracking.* reruns this rule alone.


rule track:
    input:
        report=rules.report.output.html,
        summaries=expand("results/presets/{preset}/train_summary.json", preset=runs_of(trained_presets())),
        logs=expand("results/presets/{preset}/train_log.csv", preset=runs_of(trained_presets())),
        metrics=expand("results/presets/{preset}/eval/metrics.json", preset=runs_of(trained_presets())),
    output:
        runs="results/tracking/mlflow_runs.json",
    log:
        "results/logs/track.log",
    benchmark:
        "results/benchmarks/track.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
    params:
        runs=tracked_runs(),
        tracking=TRACKING,
        repo=workflow.basedir,
    script:
        "../scripts/track.py"
