rule train:
    input:
        unpack(training_rows),  # an audit fold run's: the split less its fold
        labels=rules.extract_labels.output.labels,
        summary=rules.split_and_balance.output.summary,
        model=model_input,
    output:
        adapter=directory("results/presets/{preset}/adapter"),
        log_csv=report(
            "results/presets/{preset}/train_log.csv",
            caption="../report/train_log.rst",
            category="3. Training",
            labels={"preset": "{preset}"},
        ),
        summary="results/presets/{preset}/train_summary.json",
    log:
        "results/logs/train/{preset}.log",
    benchmark:
        "results/benchmarks/train/{preset}.tsv"
    wildcard_constraints:
        preset=TRAINED_RUNS,  # a preset or a search's run: tuned is copied (tune.smk)
    conda:
        ENV
    threads: gpu_job_threads(gpus_per_job())
    resources:
        gpu=gpus_per_job(),
        mem_mb=8000,
    params:
        # Only this preset's settings: changing one preset reruns that preset alone (the run's seed is in
        # train). tau only where the loss reads it: adding it to the schema retrained no preset of another loss.
        name=lambda wc: RUNS[wc.preset][0],
        preset=lambda wc: json_text(preset_params(wc.preset)),
        lora=as_json(config["lora"]),
        train=lambda wc: json_text(train_params(wc.preset)),
        model=as_json(config["model"]),
        checkpoint=verbatim(model_folder()),
        out_dir="results/presets/{preset}",
        script=script_path("train.py"),
    shell:
        "python {params.script:q} --threads {threads} --train {input.train:q} --val {input.val:q}"
        " --labels {input.labels:q} --summary {input.summary:q} --checkpoint={params.checkpoint:q}"
        " --preset {params.name:q} --run {wildcards.preset:q} --preset-settings {params.preset:q} --lora {params.lora:q}"
        " --train-settings {params.train:q} --model {params.model:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"
