rule report:
    input:
        unpack(split_files),
        labels=rules.extract_labels.output.labels,
        summary=rules.balance.output.summary,
        metrics=expand("results/presets/{preset}/eval/metrics.json", preset=PRESETS),
        predictions=expand("results/presets/{preset}/eval/predictions.xlsx", preset=PRESETS),
        confusion=expand("results/presets/{preset}/eval/confusion.csv", preset=PRESETS),
        binary=expand("results/presets/{preset}/binary/metrics.json", preset=PRESETS),
        train=expand("results/presets/{preset}/train_summary.json", preset=PRESETS),
        curves=expand("results/presets/{preset}/train_log.csv", preset=PRESETS),
        baselines=expand("results/baselines/{baseline}/metrics.json", baseline=config["baselines"]),
        baseline_predictions=expand("results/baselines/{baseline}/predictions.xlsx", baseline=config["baselines"]),
    output:
        report(
            "results/report.html",
            caption="../report/report.rst",
            category="1. Summary",
            labels={"file": "report.html"},
        ),
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
        config=lambda wc: as_json(config),
        presets=as_json(PRESETS),
        baselines=as_json(config["baselines"]),
        script=script_path("report.py"),
    shell:
        "python {params.script:q} --config {params.config:q} --presets {params.presets:q}"
        " --baselines {params.baselines:q} --results results --out {output:q} > {log:q} 2>&1"
