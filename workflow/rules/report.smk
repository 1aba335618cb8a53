# The report reads only what it declares: one named input per kind of file, listing one file per run (a
# preset trained with one seed) in the order of params.presets, or per baseline in that of params.baselines.


rule report:
    input:
        unpack(split_files),
        labels=rules.extract_labels.output.labels,
        summary=rules.split_and_balance.output.summary,
        metrics=expand("results/presets/{preset}/eval/metrics.json", preset=runs_of(PRESETS)),
        predictions=expand("results/presets/{preset}/eval/predictions.xlsx", preset=runs_of(PRESETS)),
        confusion=expand("results/presets/{preset}/eval/confusion.csv", preset=runs_of(PRESETS)),
        binary=expand("results/presets/{preset}/binary/metrics.json", preset=runs_of(PRESETS)),
        calibration=expand("results/presets/{preset}/eval/calibrated/calibration.json", preset=runs_of(PRESETS)),
        calibrated=expand("results/presets/{preset}/eval/calibrated/predictions.xlsx", preset=runs_of(PRESETS)),
        # Only the presets trained here have training files; adapters trained elsewhere are left out.
        train_summary=expand("results/presets/{preset}/train_summary.json", preset=runs_of(trained_presets())),
        train_log=expand("results/presets/{preset}/train_log.csv", preset=runs_of(trained_presets())),
        baseline_metrics=expand("results/baselines/{baseline}/metrics.json", baseline=config["baselines"]),
        baseline_predictions=expand("results/baselines/{baseline}/predictions.xlsx", baseline=config["baselines"]),
        baseline_calibration=expand(
            "results/baselines/{baseline}/calibrated/calibration.json", baseline=config["baselines"]
        ),
        evaluations=evaluated_files(),
        adjusted_metrics=adjusted_files("metrics.json"),
        adjusted_predictions=adjusted_files("predictions.xlsx"),
        adjusted_calibration=adjusted_files("calibrated/calibration.json"),
        tune=["results/tune/gamma.json", "results/tune/alpha.json"] if TUNE["gammas"] else [],
        audit=["results/audit/summary.json"] if config["audit"]["folds"] else [],
    output:
        html=report(
            "results/report.html",
            caption="../report/report.rst",
            category="1. Summary",
            labels={"file": "report.html"},
        ),
        # What the model cards quote of the page: the preset chosen, and each model against ce.
        findings="results/report_findings.json",
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
    params:
        # {preset: its runs, one per seed}, in the order the inputs list them.
        presets={preset: runs_of([preset]) for preset in PRESETS},
        adjusted={preset: runs_of([preset]) for preset in PRESETS} if config["logit_adjustment"]["taus"] else {},
        baselines=config["baselines"],
        evaluations=evaluated_pairs(),
        config=section(config),
        # Provenance: the checkout's pinned packages and commit, and every rule's benchmark so far.
        repo=workflow.basedir,
        benchmarks="results/benchmarks",
    script:
        "../scripts/report.py"
