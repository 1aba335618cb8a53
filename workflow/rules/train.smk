rule train:
    input:
        unpack(split_files),
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
    conda:
        ENV
    threads: gpu_job_threads(gpus_per_job())
    resources:
        gpu=gpus_per_job(),
        mem_mb=8000,
    params:
        # Only this preset's settings: changing one preset reruns that preset alone.
        # tau only where the loss reads it: adding it to the schema retrained no preset of another loss.
        preset=lambda wc: as_json(preset_params(config["presets"][wc.preset])),
        lora=as_json(config["lora"]),
        # Keys that never change a trained adapter (evaluate's batch size, which GPUs, how many CPU threads)
        # are left out, so changing them retrains nothing; so is an empty accelerate_args, so results trained
        # before these keys existed stay up to date. train.py fills them back in from the schema.
        train=as_json(
            {
                k: v
                for k, v in config["train"].items()
                if k not in ("eval_batch_size", "gpu_ids", "cpu_threads") and not (k == "accelerate_args" and not v)
            }
        ),
        model=as_json(config["model"]),
        checkpoint=model_folder(),
        out_dir="results/presets/{preset}",
        script=script_path("train.py"),
    shell:
        "python {params.script:q} --threads {threads} --train {input.train:q} --val {input.val:q}"
        " --labels {input.labels:q} --summary {input.summary:q} --checkpoint {params.checkpoint:q}"
        " --preset {wildcards.preset:q} --preset-settings {params.preset:q} --lora {params.lora:q}"
        " --train-settings {params.train:q} --model {params.model:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"
