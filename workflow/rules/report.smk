# The report reads only what it declares: its params map every run, baseline and evaluated file to its
# paths by name (report_files in common.smk), and its inputs list those same paths, so Snakemake makes them first.


rule report:
    input:
        unpack(split_files),
        labels=rules.extract_labels.output.labels,
        summary=rules.split_and_balance.output.summary,
        presets=all_paths(report_files()["presets"]),
        training=all_paths(report_files()["training"]),
        adjusted=all_paths(report_files()["adjusted"]),
        ensembles=all_paths(report_files()["ensembles"]),
        baselines=[path for files in report_files()["baselines"].values() for path in files.values()],
        evaluations=evaluated_files(),
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
        files=report_files(),
        config=section(config),
        # Provenance: the checkout's pinned packages and commit, and every rule's benchmark so far.
        repo=workflow.basedir,
        benchmarks="results/benchmarks",
    script:
        "../scripts/report.py"
