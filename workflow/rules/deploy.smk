# Outputs for using a trained preset elsewhere; built on request (or for predict.files), not by default.


rule model_card:
    input:
        adapter=rules.train.output.adapter,
        metrics=rules.evaluate.output.metrics,
        predictions=rules.evaluate.output.predictions,
        calibration="results/presets/{preset}/eval/calibrated/calibration.json",
        labels=rules.extract_labels.output.labels,
        summary=rules.split_and_balance.output.summary,
        findings=rules.report.output.findings,
    output:
        adapter_card="results/presets/{preset}/model_card/README.md",
        merged_card="results/presets/{preset}/model_card/merged.md",
    log:
        "results/logs/model_card/{preset}.log",
    benchmark:
        "results/benchmarks/model_card/{preset}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
    params:
        run="{preset}",
        preset=lambda wc: RUNS[wc.preset][0],
        seed=lambda wc: RUNS[wc.preset][1],
        seeds=SEEDS,
        split_seed=config["split"]["seed"],
        base_model=verbatim(model_folder()),
        data_name=verbatim(data_name()),
        # The folder an adapter trained elsewhere came from ("" for the presets trained here).
        elsewhere=lambda wc: str(adapter_folder(ADAPTERS[wc.preset])) if wc.preset in ADAPTERS else "",
        repo=workflow.basedir,
    script:
        "../scripts/model_card.py"


rule merge:
    input:
        adapter=rules.train.output.adapter,
        card=rules.model_card.output.merged_card,
        labels=rules.extract_labels.output.labels,
        model=model_input,
    output:
        merged=directory("results/presets/{preset}/merged"),
    log:
        "results/logs/merge/{preset}.log",
    benchmark:
        "results/benchmarks/merge/{preset}.tsv"
    conda:
        ENV
    threads: 2
    resources:
        # The merge runs in float32: about 4 bytes per parameter, twice over while saving (8B: ~64 GB).
        mem_mb=32000,
    params:
        checkpoint=verbatim(model_folder()),
        trust_remote_code=config["model"]["trust_remote_code"],
        allow_pickle=config["model"]["allow_pickle"],
    script:
        "../scripts/merge.py"


rule predict:
    input:
        rows=lambda wc: config["predict"]["files"][wc.name],
        adapters=[path for files in predict_runs().values() for path in files["adapters"]],
        # A TF-IDF blend's training split: predict fits TF-IDF on it again, as the baseline did.
        tfidf_train=[files["tfidf"]["train"] for files in predict_runs().values() if files["tfidf"]],
        metrics=[path for files in predict_runs().values() for path in files["metrics"]],
        calibrations=[files["calibration"] for files in predict_runs().values()],
        labels=rules.extract_labels.output.labels,
        model=model_input,
    output:
        report(
            "results/predictions/{name}.xlsx",
            caption="../report/predictions.rst",
            category="5. Predictions",
            labels={"file": "{name}"},
        ),
    log:
        "results/logs/predict/{name}.log",
    benchmark:
        "results/benchmarks/predict/{name}.tsv"
    conda:
        ENV
    threads: gpu_job_threads(min(1, gpus_per_job()))
    resources:
        gpu=min(1, gpus_per_job()),
        mem_mb=8000,
    params:
        # {preset or ensemble: {adapters, calibration, metrics of each run, tfidf}}, by name: the inputs' paths.
        runs=as_json(predict_runs()),
        sheet=as_json(config["predict"]["sheet"]),
        model=as_json(config["model"]),
        text_column=verbatim(config["predict"]["text_column"] or config["data"]["text_column"]),
        metric=config["report"]["selection_metric"],
        adjust=as_json(config["predict"]["logit_adjustment"]),
        batch_size=config["train"]["eval_batch_size"],
        precision=config["train"]["precision"],
        gpus=gpus_per_job(),
        checkpoint=verbatim(model_folder()),
        script=script_path("predict.py"),
    shell:
        "python {params.script:q} --threads {threads} --checkpoint={params.checkpoint:q}"
        " --runs {params.runs:q}"
        " --selection-metric {params.metric} --logit-adjustment {params.adjust:q} --labels {input.labels:q} --input={input.rows:q}"
        " --sheet={params.sheet:q} --text-column={params.text_column:q} --model {params.model:q}"
        " --batch-size {params.batch_size} --precision {params.precision} --gpus {params.gpus}"
        " --out {output:q} > {log:q} 2>&1"
