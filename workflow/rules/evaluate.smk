rule import_adapter:
    input:
        files=outside_adapter_files,
        labels=rules.extract_labels.output.labels,
    output:
        adapter=directory("results/presets/{preset}/adapter"),
    log:
        "results/logs/import_adapter/{preset}.log",
    benchmark:
        "results/benchmarks/import_adapter/{preset}.tsv"
    wildcard_constraints:
        preset=one_of(ADAPTERS),  # an adapter trained elsewhere (evaluate.adapters)
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
    params:
        entry=lambda wc: section(ADAPTERS[wc.preset]),
    script:
        "../scripts/import_adapter.py"


rule evaluate:
    input:
        adapter=rules.train.output.adapter,
        val=f"{DATA}/val.xlsx",
        test=f"{DATA}/test.xlsx",
        labels=rules.extract_labels.output.labels,
        summary=rules.split_and_balance.output.summary,
        model=model_input,
    output:
        metrics=report(
            "results/presets/{preset}/eval/metrics.json",
            caption="../report/metrics.rst",
            category="2. Presets",
            labels={"preset": "{preset}", "file": "metrics"},
        ),
        predictions="results/presets/{preset}/eval/predictions.xlsx",
        val_predictions="results/presets/{preset}/eval/val_predictions.xlsx",
        confusion=report(
            "results/presets/{preset}/eval/confusion.csv",
            caption="../report/confusion.rst",
            category="2. Presets",
            labels={"preset": "{preset}", "file": "confusion"},
        ),
    log:
        "results/logs/evaluate/{preset}.log",
    benchmark:
        "results/benchmarks/evaluate/{preset}.tsv"
    wildcard_constraints:
        preset=EVALUATED_RUNS,  # a preset, a search's run or an imported adapter: tuned is copied (tune.smk)
    conda:
        ENV
    threads: gpu_job_threads(gpus_per_job())
    resources:
        gpu=gpus_per_job(),
        mem_mb=8000,
    params:
        **evaluate_params(),
        out_dir="results/presets/{preset}/eval",
    shell:
        evaluate_command("--val {input.val:q} --out-dir {params.out_dir:q}")


rule binary_test:
    input:
        val=rules.evaluate.output.val_predictions,
        test=rules.evaluate.output.predictions,
        labels=rules.extract_labels.output.labels,
        summary=rules.split_and_balance.output.summary,
    output:
        metrics=report(
            "results/presets/{preset}/binary/metrics.json",
            caption="../report/binary.rst",
            category="2. Presets",
            labels={"preset": "{preset}", "file": "binary test"},
        ),
    log:
        "results/logs/binary_test/{preset}.log",
    benchmark:
        "results/benchmarks/binary_test/{preset}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
    params:
        binary=section(config["binary"]),
    script:
        "../scripts/binary_test.py"


rule logit_adjustment:
    input:
        val=f"{DATA}/val.xlsx",
        test=f"{DATA}/test.xlsx",
        val_predictions=rules.evaluate.output.val_predictions,
        predictions=rules.evaluate.output.predictions,
        preset_metrics=rules.evaluate.output.metrics,
        labels=rules.extract_labels.output.labels,
        summary=rules.split_and_balance.output.summary,
    output:
        metrics="results/presets/{preset}/adjusted/metrics.json",
        predictions="results/presets/{preset}/adjusted/predictions.xlsx",
        val_predictions="results/presets/{preset}/adjusted/val_predictions.xlsx",
        confusion="results/presets/{preset}/adjusted/confusion.csv",
    log:
        "results/logs/logit_adjustment/{preset}.log",
    benchmark:
        "results/benchmarks/logit_adjustment/{preset}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
    params:
        adjustment=section(config["logit_adjustment"]),
        keep=verbatim(config["data"]["keep_columns"]),
    script:
        "../scripts/logit_adjustment.py"


# The ensembles (ensembles): a preset's seeds averaged, each run blended with TF-IDF; stored predictions only.
rule ensemble:
    input:
        ensemble_inputs,
        val=f"{DATA}/val.xlsx",
        test=f"{DATA}/test.xlsx",
        labels=rules.extract_labels.output.labels,
        summary=rules.split_and_balance.output.summary,
    output:
        metrics=report(
            f"{ENSEMBLES_FOLDER}/{{ensemble}}/metrics.json",
            caption="../report/ensemble.rst",
            category="2. Presets",
            labels={"preset": "{ensemble}", "file": "metrics"},
        ),
        predictions=f"{ENSEMBLES_FOLDER}/{{ensemble}}/predictions.xlsx",
        val_predictions=f"{ENSEMBLES_FOLDER}/{{ensemble}}/val_predictions.xlsx",
        confusion=f"{ENSEMBLES_FOLDER}/{{ensemble}}/confusion.csv",
    log:
        "results/logs/ensemble/{ensemble}.log",
    benchmark:
        "results/benchmarks/ensemble/{ensemble}.tsv"
    wildcard_constraints:
        ensemble=one_of(ENSEMBLE_RUNS),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
    params:
        # {name, kind, preset, members: {run: {val_predictions, predictions, metrics}}, tfidf}: the inputs' paths.
        sources=ensemble_sources,
        weights=config["ensembles"]["weights"],
        metric=config["report"]["selection_metric"],
        keep=verbatim(config["data"]["keep_columns"]),
    script:
        "../scripts/ensemble.py"


rule baseline_tfidf:
    input:
        unpack(split_files),
        labels=rules.extract_labels.output.labels,
        summary=rules.split_and_balance.output.summary,
    output:
        metrics=report(
            "results/baselines/tfidf/metrics.json",
            caption="../report/baseline.rst",
            category="4. Baselines",
            labels={"baseline": "tfidf"},
        ),
        predictions="results/baselines/tfidf/predictions.xlsx",
        val_predictions="results/baselines/tfidf/val_predictions.xlsx",
        confusion="results/baselines/tfidf/confusion.csv",
    log:
        "results/logs/baselines/tfidf.log",
    benchmark:
        "results/benchmarks/baselines/tfidf.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
    params:
        keep=verbatim(config["data"]["keep_columns"]),
        seed=config["train"]["seeds"][0],
    script:
        "../scripts/baseline_tfidf.py"


rule baseline_direct:
    input:
        val=f"{DATA}/val.xlsx",
        test=f"{DATA}/test.xlsx",
        labels=rules.extract_labels.output.labels,
        summary=rules.split_and_balance.output.summary,
        model=model_input,
    output:
        metrics=report(
            "results/baselines/direct/metrics.json",
            caption="../report/baseline.rst",
            category="4. Baselines",
            labels={"baseline": "direct"},
        ),
        predictions="results/baselines/direct/predictions.xlsx",
        val_predictions="results/baselines/direct/val_predictions.xlsx",
        confusion="results/baselines/direct/confusion.csv",
    log:
        "results/logs/baselines/direct.log",
    benchmark:
        "results/benchmarks/baselines/direct.tsv"
    conda:
        ENV
    threads: gpu_job_threads(min(1, gpus_per_job()))
    resources:
        gpu=min(1, gpus_per_job()),
        mem_mb=8000,
    params:
        **direct_params(),
    shell:
        direct_command("--val {input.val:q} --out-dir results/baselines/direct")


rule prepare_evaluation:
    input:
        rows=lambda wc: config["evaluate"]["files"][wc.file],
        labels=rules.extract_labels.output.labels,
        cleaning=rules.extract_labels.output.report,
        train=f"{DATA}/train.xlsx",
    output:
        rows="results/evaluations/{file}/rows.xlsx",
        report="results/evaluations/{file}/cleaning.json",
        dropped="results/evaluations/{file}/dropped_rows.xlsx",
    log:
        "results/logs/prepare_evaluation/{file}.log",
    benchmark:
        "results/benchmarks/prepare_evaluation/{file}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
    params:
        data=section(config["data"]),
        sheet=verbatim(config["evaluate"]["sheet"]),
    script:
        "../scripts/prepare_evaluation.py"


rule evaluate_file:
    input:
        adapter=rules.train.output.adapter,
        test=rules.prepare_evaluation.output.rows,
        labels=rules.extract_labels.output.labels,
        summary=rules.split_and_balance.output.summary,
        model=model_input,
    output:
        metrics=report(
            "results/evaluations/{file}/{preset}/metrics.json",
            caption="../report/metrics.rst",
            category="6. Evaluations",
            labels={"file": "{file}", "preset": "{preset}"},
        ),
        predictions="results/evaluations/{file}/{preset}/predictions.xlsx",
        confusion="results/evaluations/{file}/{preset}/confusion.csv",
    log:
        "results/logs/evaluate_file/{file}/{preset}.log",
    benchmark:
        "results/benchmarks/evaluate_file/{file}/{preset}.tsv"
    conda:
        ENV
    threads: gpu_job_threads(gpus_per_job())
    resources:
        gpu=gpus_per_job(),
        mem_mb=8000,
    params:
        **evaluate_params(),
        out_dir="results/evaluations/{file}/{preset}",
    shell:
        evaluate_command("--out-dir {params.out_dir:q}")


# The baselines score each evaluate.files entry too, beside the presets (results/evaluations/<file>/<baseline>/).
rule evaluate_file_tfidf:
    input:
        train=f"{DATA}/train.xlsx",
        test=rules.prepare_evaluation.output.rows,
        labels=rules.extract_labels.output.labels,
        summary=rules.split_and_balance.output.summary,
    output:
        metrics=report(
            "results/evaluations/{file}/tfidf/metrics.json",
            caption="../report/evaluation_baseline.rst",
            category="6. Evaluations",
            labels={"file": "{file}", "preset": "tfidf"},
        ),
        predictions="results/evaluations/{file}/tfidf/predictions.xlsx",
        confusion="results/evaluations/{file}/tfidf/confusion.csv",
    log:
        "results/logs/evaluate_file/{file}/tfidf.log",
    benchmark:
        "results/benchmarks/evaluate_file/{file}/tfidf.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
    params:
        keep=verbatim(config["data"]["keep_columns"]),
        seed=config["train"]["seeds"][0],
    script:
        "../scripts/baseline_tfidf.py"


rule evaluate_file_direct:
    input:
        test=rules.prepare_evaluation.output.rows,
        labels=rules.extract_labels.output.labels,
        summary=rules.split_and_balance.output.summary,
        model=model_input,
    output:
        metrics=report(
            "results/evaluations/{file}/direct/metrics.json",
            caption="../report/evaluation_baseline.rst",
            category="6. Evaluations",
            labels={"file": "{file}", "preset": "direct"},
        ),
        predictions="results/evaluations/{file}/direct/predictions.xlsx",
        confusion="results/evaluations/{file}/direct/confusion.csv",
    log:
        "results/logs/evaluate_file/{file}/direct.log",
    benchmark:
        "results/benchmarks/evaluate_file/{file}/direct.tsv"
    conda:
        ENV
    threads: gpu_job_threads(min(1, gpus_per_job()))
    resources:
        gpu=min(1, gpus_per_job()),
        mem_mb=8000,
    params:
        **direct_params(),
        out_dir="results/evaluations/{file}/direct",
    shell:
        direct_command("--out-dir {params.out_dir:q}")


# Every set of predictions scored on val and test (a preset's run, its logit-adjusted variant, a baseline) gets a
# temperature and a review threshold fitted on its validation rows; nothing is predicted again.
rule calibrate:
    input:
        val="results/{scored}/val_predictions.xlsx",
        test="results/{scored}/predictions.xlsx",
        labels=rules.extract_labels.output.labels,
    output:
        calibration="results/{scored}/calibrated/calibration.json",
        predictions="results/{scored}/calibrated/predictions.xlsx",
        val_predictions="results/{scored}/calibrated/val_predictions.xlsx",
    log:
        "results/logs/calibrate/{scored}.log",
    benchmark:
        "results/benchmarks/calibrate/{scored}.tsv"
    wildcard_constraints:
        scored=CALIBRATED_FOLDERS,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
    params:
        review=section(config["predict"]["review"]),
    script:
        "../scripts/calibrate.py"


# The audit's cross-fitting with a preset (audit.model): each fold's training and held-out rows; the fold's run
# trains as any run (train), then scores the rows it never saw, as an evaluate.files entry is scored.
rule audit_fold:
    input:
        train=f"{DATA}/train.xlsx",
        labels=rules.extract_labels.output.labels,
    output:
        **audit_fold_files("{fold}"),
    log:
        "results/logs/audit_fold/{fold}.log",
    benchmark:
        "results/benchmarks/audit_fold/{fold}.tsv"
    wildcard_constraints:
        fold=one_of(str(fold) for fold in AUDIT_RUNS.values()),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
    params:
        folds=config["audit"]["folds"],
        fold=lambda wc: int(wc.fold),
        seed=config["train"]["seeds"][0],  # as TF-IDF's folds: the same rows held out together
    script:
        "../scripts/audit_fold.py"


rule audit_held_out:
    input:
        adapter=rules.train.output.adapter,
        test=lambda wc: audit_fold_files(AUDIT_RUNS[wc.preset])["held"],
        labels=rules.extract_labels.output.labels,
        summary=rules.split_and_balance.output.summary,
        model=model_input,
    output:
        predictions="results/presets/{preset}/held/predictions.xlsx",
        metrics="results/presets/{preset}/held/metrics.json",
        confusion="results/presets/{preset}/held/confusion.csv",
    log:
        "results/logs/audit_held_out/{preset}.log",
    benchmark:
        "results/benchmarks/audit_held_out/{preset}.tsv"
    wildcard_constraints:
        preset=one_of(AUDIT_RUNS),
    conda:
        ENV
    threads: gpu_job_threads(gpus_per_job())
    resources:
        gpu=gpus_per_job(),
        mem_mb=8000,
    params:
        **evaluate_params(),
        out_dir="results/presets/{preset}/held",
    shell:
        evaluate_command("--out-dir {params.out_dir:q}")


rule audit:
    input:
        train=f"{DATA}/train.xlsx",
        held=list(audit_held_predictions().values()),  # audit.model's fold runs' predictions; none with tfidf
        sources=raw_inputs,
        labels=rules.extract_labels.output.labels,
        # Every run's figures, to choose the preset as the report does; each preset's first run's predictions.
        metrics=[path for files in audit_runs().values() for path in files["metrics"]],
        calibrated_val=[files["calibrated_val"] for files in audit_runs().values()],
        calibrated=[files["calibrated"] for files in audit_runs().values()],
    output:
        suspects="results/audit/suspect_labels.xlsx",
        summary="results/audit/summary.json",
    log:
        "results/logs/audit.log",
    benchmark:
        "results/benchmarks/audit.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
    params:
        **audit_model_params(),
        # {preset: {metrics of each run, calibrated_val, calibrated}}, by name: the same paths as the inputs.
        runs=audit_runs(),
        metric=config["report"]["selection_metric"],
        folds=config["audit"]["folds"],
        seed=config["train"]["seeds"][0],
        data=section(config["data"]),
        # With a preset: {model, held: {fold run: its predictions}}; none with tfidf, whose audit reruns nothing.
    script:
        "../scripts/audit.py"
