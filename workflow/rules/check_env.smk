# snakemake check_env [--configfile my.yaml] [--resources gpu=4]: a table of what is ready, the fixes for what is not.
# No output and no benchmark file (Snakemake would take it for an output): it runs on every call.


rule check_env:
    log:
        "results/logs/check_env.log",
    localrule: True
    conda:
        ENV
    params:
        model=as_json(config["model"]),
        train=as_json(config["train"]),
        gpu_resource=f"--gpu-resource {GPU_RESOURCE}" if GPU_RESOURCE is not None else "",
        demo_model=DEMO_MODEL,
        plan=verbatim(GPU_PLAN),
        script=script_path("check_env.py"),
    shell:
        "python {params.script:q} --model {params.model:q} --train {params.train:q} --results results"
        " --demo-model {params.demo_model:q} --gpu-plan {params.plan:q} {params.gpu_resource} 2>&1 | tee {log:q}"
