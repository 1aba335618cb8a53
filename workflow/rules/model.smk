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
        what="model",
        spec=section(config["demo"]["model"]),
        downloads="resources/downloads",
        find_links=verbatim(config["demo"]["find_links"]),
    script:
        "../scripts/fetch_demo.py"
