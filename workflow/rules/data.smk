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
        spec=as_json(config["demo"]["data"]),
        find_links=find_links_option(),
        script=script_path("fetch_demo.py"),
    shell:
        "python {params.script:q} data --spec {params.spec:q} --out {output:q}"
        " --downloads resources/downloads {params.find_links} > {log:q} 2>&1"


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
        data=as_json(config["data"]),
        script=script_path("extract_labels.py"),
    shell:
        "python {params.script:q} --data {params.data:q} --out {output.rows:q} --labels {output.labels:q}"
        " --report {output.report:q} --dropped {output.dropped:q} > {log:q} 2>&1"


rule balance:
    input:
        rows=rules.extract_labels.output.rows,
        labels=rules.extract_labels.output.labels,
        report=rules.extract_labels.output.report,
        model=model_input,
    output:
        **split_files(),
        summary=f"{DATA}/summary.json",
    log:
        "results/logs/balance.log",
    benchmark:
        "results/benchmarks/balance.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
    params:
        split=as_json(config["split"]),
        balance=as_json(config["balance"]),
        model=as_json(config["model"]),
        checkpoint=model_folder(),
        script=script_path("balance.py"),
    shell:
        "python {params.script:q} --extracted {input.rows:q} --labels {input.labels:q}"
        " --extract-report {input.report:q} --split {params.split:q} --balance {params.balance:q}"
        " --model {params.model:q} --checkpoint {params.checkpoint:q}"
        " --train {output.train:q} --val {output.val:q} --test {output.test:q}"
        " --summary {output.summary:q} > {log:q} 2>&1"
