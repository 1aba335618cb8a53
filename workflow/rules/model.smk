rule fetch_demo_model:
    output:
        directory(DEMO_MODEL),
    log:
        "results/logs/fetch_demo_model.log",
    benchmark:
        "results/benchmarks/fetch_demo_model.tsv"
    conda:
        ENV
    threads: 2
    resources:
        mem_mb=4000,
    params:
        spec=as_json(config["demo"]["model"]),
        find_links=find_links_option(),
        script=script_path("fetch_demo.py"),
    shell:
        "python {params.script:q} model --threads {threads} --spec {params.spec:q} --out {output:q}"
        " --downloads resources/downloads {params.find_links} > {log:q} 2>&1"
