rule fetch_demo_data:
    output:
        "resources/demo/thucnews.xlsx",
    log:
        "results/logs/fetch_demo_data.log",
    benchmark:
        "results/benchmarks/fetch_demo_data.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
    params:
        what="data",
        spec=section(config["demo"]["data"]),
        downloads="resources/downloads",
        find_links=verbatim(config["demo"]["find_links"]),
    script:
        "../scripts/fetch_demo.py"


rule extract_labels:
    input:
        raw_inputs,
    output:
        rows=f"{DATA}/extracted.xlsx",
        labels=f"{DATA}/labels.json",
        report=f"{DATA}/extract_report.json",
        dropped=f"{DATA}/dropped_rows.xlsx",
    log:
        "results/logs/extract_labels.log",
    benchmark:
        "results/benchmarks/extract_labels.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
    params:
        data=section(config["data"]),
    script:
        "../scripts/extract_labels.py"


rule split_and_balance:
    input:
        rows=rules.extract_labels.output.rows,
        labels=rules.extract_labels.output.labels,
        report=rules.extract_labels.output.report,
        model=model_input,
    output:
        **split_files(),
        summary=f"{DATA}/summary.json",
    log:
        "results/logs/split_and_balance.log",
    benchmark:
        "results/benchmarks/split_and_balance.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
    params:
        split=section(config["split"]),
        balance=section(config["balance"]),
        model=section(config["model"]),
        files={key: config["data"][key] for key in ("raw", "train", "val", "test")},
        checkpoint=verbatim(model_folder()),
    script:
        "../scripts/split_and_balance.py"
