"""The bench scripts run end to end on the tiny model and print their figures (speed is not asserted:
timings belong to the benchmarks, not to tests)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from helpers import run_bench

pytestmark = pytest.mark.slow  # runs Snakemake or trains: python -m pytest -m 'not slow' skips it


def bench(module: str, *args, cwd) -> str:
    return run_bench(module, *args, cwd=cwd).stdout


@pytest.fixture(scope="module")
def demo_like(stages, tiny_model_dir, tmp_path_factory):
    """The stages' split files and a config naming the tiny model, laid out as the demo leaves them."""
    from conftest import LORA, MODEL

    work = tmp_path_factory.mktemp("bench")
    config = {
        "model": MODEL,
        "lora": LORA,
        "train": {"batch_size": 16, "precision": "fp32"},
        "presets": {"ce": {"loss": "ce"}, "balanced": {"loss": "focal", "alpha": "balanced", "gamma": 2.0}},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    return work, stages / "d"


def test_gpu_check_runs_its_path_on_the_cpu_with_the_tiny_shape(tmp_path):
    """Through the shell script, as a GPU box runs it: the package from the checkout, the figures in $OUT."""
    import os

    import torch

    done = subprocess.run(
        ["bash", str(REPO / "bench/speed/gpu_check.sh"), "--shape", "tiny", "--rows", "48", "--max-length", "32"],
        env={**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    log = (tmp_path / "gpu_check.log").read_text()
    assert "training tokens/s:" in log and "evaluation rows/s:" in log
    figures = json.loads((tmp_path / "gpu_check.json").read_text())
    assert figures["device"] == ("CPU" if not torch.cuda.is_available() else torch.cuda.get_device_name())
    # the rate is over the optimizer steps alone, which the stage's load and validation come on top of
    assert figures["optimizer_step_seconds"] < figures["stage_seconds"]
    assert figures["tokens_per_s"] == pytest.approx(figures["tokens"] / figures["optimizer_step_seconds"], rel=0.02)
    assert figures["versions"]["torch"] == torch.__version__


def test_a_gpus_dense_bf16_peak_is_read_from_its_whole_name(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    from bench.speed.gpu_check import peak_tflops

    # an NVL part is not its SXM sibling, nor A10 an A100; an unknown name gives no utilisation at all
    assert peak_tflops("NVIDIA H200") == peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert peak_tflops("NVIDIA H200 NVL") == peak_tflops("NVIDIA H100 NVL") == 835.0
    assert peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0 and peak_tflops("NVIDIA A10") == 125.0
    assert peak_tflops("NVIDIA GeForce RTX 4090") is None and peak_tflops(None) is None


def test_head_only_quality_prints_every_preset_baseline_and_the_gain(demo_like, tiny_model_dir):
    work, data = demo_like
    out = bench(
        "quality.head_only",
        "--config",
        work / "config.yaml",
        "--checkpoint",
        tiny_model_dir,
        "--data",
        data,
        "--seeds",
        "1",
        "2",
        "--long-epochs",
        "3",
        cwd=work,
    )
    for name in ("ce", "balanced", "ce, 3 epochs", "ce + hard-example batches", "tfidf"):
        assert re.search(rf"^{re.escape(name)}\s+\d\.\d{{3}} ± ", out, flags=re.M), name  # its own row, with figures
    assert "focal preset with the best validation minority_f1" in out.splitlines()[-1]


def test_speed_benchmarks_print_their_ratios(demo_like, tiny_model_dir):
    work, data = demo_like
    common = ["--config", work / "config.yaml", "--checkpoint", tiny_model_dir, "--data", data]
    assert "speed-up:" in bench("speed.train_throughput", *common, "--steps", "3", cwd=work).splitlines()[-1]
    assert "focal loss overhead:" in bench("speed.loss_overhead", *common, "--repeats", "2", cwd=work).splitlines()[-1]
    profiled = bench("speed.step_profile", *common, "--steps", "2", "--batch-size", "4", "--dropout", "0.1", cwd=work)
    assert "all (profiled)" in profiled and profiled.splitlines()[-1].startswith("fast dropout vs torch dropout:")
    fixed = bench("speed.fixed_cost", *common, "--repeats", "1", "--passes", "1", cwd=work)
    assert "validation, first pass (cold)" in fixed
    assert fixed.splitlines()[-1].startswith("floor (imports, then 1 validation")
    # the floor is the imports plus each pass with its products at their ceilings, figures as printed
    imports = float(re.search(r"imports \(interpreter start included\)\s+([\d.]+) s", fixed)[1])
    at_ceiling = float(re.search(r"products at their shapes' ceilings: ([\d.]+) s", fixed)[1])
    floor = float(re.search(r"validation pass\(es\) at the ceilings\): ([\d.]+) s", fixed)[1])
    assert floor == pytest.approx(imports + at_ceiling, abs=0.11)
    out = bench(
        "speed.eval_throughput",
        "--checkpoint",
        tiny_model_dir,
        "--rows",
        data / "test.xlsx",
        "--n",
        "16",
        "--max-length",
        "16",
        "--precision",
        "fp32",
        cwd=work,
    )
    assert "speed-up:" in out.splitlines()[-1]


def test_convergence_replays_early_stopping_exactly(demo_like, tiny_model_dir, tmp_path):
    """The learning curve, replayed with a stopping rule, stops and keeps what the train stage itself does
    with that rule (dropout on, so a test pass that moved the random generator would show)."""
    import pandas as pd

    from focalcls.config.loading import complete_preset
    from helpers import run_script, train_flags

    work, data = demo_like
    settings = {"epochs": 6, "lr": 5e-3, "patience": 1, "early_stopping_metric": "minority_f1"}
    lora = {**yaml.safe_load((work / "config.yaml").read_text())["lora"], "dropout": 0.2}
    config = {**yaml.safe_load((work / "config.yaml").read_text()), "lora": lora}
    config["train"] = {**config["train"], **settings, "seeds": [0]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    common = ["--config", tmp_path / "config.yaml", "--checkpoint", tiny_model_dir, "--data", data]
    runs = ["--presets", "ce", "--seeds", "0", "--epochs", "6", "--out", "c.csv"]
    out = bench("quality.convergence", *common, *runs, cwd=tmp_path)
    curve = pd.read_csv(tmp_path / "c.csv")
    assert list(curve["epoch"]) == [1, 2, 3, 4, 5, 6] and "minority_f1, patience 1" in out

    flags = train_flags(
        tiny_model_dir,
        tmp_path / "ce",
        data=data,
        preset="ce",
        preset_settings=complete_preset({"loss": "ce"}),
        lora=lora,
        settings={**settings, "seed": 0},
    )
    run_script("train.py", *flags, cwd=tmp_path)
    summary = json.loads((tmp_path / "ce" / "train_summary.json").read_text())
    sys.path.insert(0, str(REPO))
    from bench.quality.convergence import replay

    kept = replay(curve[curve["preset"] == "ce"].reset_index(drop=True), "minority_f1", 1)
    assert summary["stop_reason"] == "early_stopping"  # else this test would not test the replay of a stop
    assert summary["best_step"] == kept["step"]
    assert summary["steps"] == int(curve.loc[curve["epoch"] == kept["stopped_at"], "step"].iloc[0])


def test_second_data_set_reads_the_first_turn_and_topic_and_its_config_is_valid(tmp_path):
    """The chat corpus's layout in a small sdist: English files only, one row per conversation."""
    import io
    import tarfile

    from focalcls.config.loading import complete

    sys.path.insert(0, str(REPO))
    from bench.quality.second_dataset import STUDY, chat_messages

    files = {
        "chatterbot_corpus/data/english/food.yml": "conversations:\n- - Do you eat?\n  - No.\n- - 42\n  - a number\n",
        "chatterbot_corpus/data/english/money.yml": "conversations:\n- - what is a stock\n  - a share\n",
        "chatterbot_corpus/data/german/food.yml": "conversations:\n- - Isst du?\n  - Nein.\n",
    }
    sdist = tmp_path / "corpus.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            member = tarfile.TarInfo(f"chatterbot-corpus-1.3.3/{name}")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    rows = chat_messages(sdist)
    assert rows.values.tolist() == [["Do you eat?", "food"], ["42", "food"], ["what is a stock", "money"]]
    config = complete(STUDY.config(tmp_path / "chatbot.xlsx", split_seed=7))
    assert config["train"]["epochs"] == complete({})["train"]["epochs"]  # the recipe is the schema's
    assert list(config["presets"]) == list(yaml.safe_load((REPO / "config/config.yaml").read_text())["presets"])


def test_third_data_set_reads_each_category_under_its_chapter_and_its_config_is_valid(tmp_path):
    """The tabular list's layout in a small sdist: chapter > section > category > subcategory."""
    import io
    import tarfile

    from focalcls.config.loading import complete

    sys.path.insert(0, str(REPO))
    from bench.quality.third_dataset import STUDY, diagnosis_categories

    xml = (
        "<ICD10CM.tabular><introduction><title>Includes:</title></introduction>"
        "<chapter><name>1</name><desc>Certain infectious and parasitic diseases (A00-B99)</desc>"
        "<section id='A00-A09'><desc>Intestinal infectious diseases (A00-A09)</desc>"
        "<diag><name>A00</name><desc>Cholera</desc><diag><name>A00.0</name><desc>Cholera, classical</desc></diag>"
        "</diag><diag><name>A01</name><desc>Typhoid and paratyphoid fevers</desc></diag></section></chapter>"
        "<chapter><name>2</name><desc>Neoplasms (C00-D49)</desc><section id='C00-C14'><desc>Lip (C00-C14)</desc>"
        "<diag><name>C00</name><desc> Malignant neoplasm of lip </desc></diag></section></chapter></ICD10CM.tabular>"
    )
    sdist = tmp_path / "icd.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for name, text in {"data/code-list.txt": "A00\n", "data/icd10cm-tabular-2026.xml": xml}.items():
            member = tarfile.TarInfo(f"simple_icd_10_cm-1.5.0/simple_icd_10_cm/{name}")
            member.size = len(text.encode())
            archive.addfile(member, io.BytesIO(text.encode()))
    rows = diagnosis_categories(sdist)
    infectious = "Certain infectious and parasitic diseases"
    assert rows.values.tolist() == [
        ["Cholera", infectious],
        ["Typhoid and paratyphoid fevers", infectious],
        ["Malignant neoplasm of lip", "Neoplasms"],
    ]
    config = complete(STUDY.config(tmp_path / "icd10cm.xlsx", split_seed=7))
    assert config["train"]["epochs"] == complete({})["train"]["epochs"]  # the recipe is the schema's
    assert "{text}" in config["direct"]["prompt"] and config["data"]["min_count"] == 12


def test_the_step_profile_refuses_a_config_without_dropout(demo_like, tiny_model_dir):
    work, data = demo_like  # the tiny config's lora.dropout is 0
    common = ["--config", work / "config.yaml", "--checkpoint", tiny_model_dir, "--data", data]
    done = run_bench("speed.step_profile", *common, cwd=work, check=False)
    assert done.returncode == 2 and "lora.dropout is 0.0: no dropout to compare; pass --dropout" in done.stderr


def test_label_audit_bench_finds_the_flips_it_made(tmp_path):
    out = bench("quality.label_audit", "--synthetic", "--seeds", 2, "--shares", 0.1, cwd=tmp_path)
    lines = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert set(lines) == {"uniform", "neighbour"}
    for cells in lines.values():
        # kind, share, then flagged, precision, recall ... each "mean ± sd": the means at 2, 5, 8.
        precision, recall = float(cells[5]), float(cells[8])
        assert precision > 0.5 and recall > 0.5  # chance precision is the share flipped, 0.1


def write_run(folder: Path, seeds: list[int], val: float, test: float) -> None:
    """A finished ce run of every seed and TF-IDF in `folder`, as the workflow writes their metrics."""
    runs = ["results/presets/ce"] + [f"results/presets/ce/seed-{s}" for s in seeds[1:]]
    for i, run in enumerate(runs):
        path = folder / run / "eval/metrics.json"
        path.parent.mkdir(parents=True)
        figures = {"macro_f1": test + 0.01 * i, "minority_f1": test - 0.1}
        path.write_text(json.dumps({**figures, "val": {"macro_f1": val + 0.01 * i, "minority_f1": val - 0.1}}))
    tfidf = folder / "results/baselines/tfidf/metrics.json"
    tfidf.parent.mkdir(parents=True)
    tfidf.write_text(json.dumps({"macro_f1": 0.5, "minority_f1": 0.4}))


def test_the_defaults_study_chooses_on_the_validation_mean_over_every_data_set(tmp_path):
    """lr-4e-4 is far best on chat and on test, r-8 best on the validation mean over both sets: r-8 is chosen.
    A candidate not yet run on every set is shown, never chosen."""
    val = {"default": (0.80, 0.70), "lr-4e-4": (0.70, 0.90), "r-8": (0.86, 0.78), "r-32": (0.99, None)}
    for candidate, (demo, chat) in val.items():
        write_run(tmp_path / "demo" / candidate, [42, 1], demo, test=0.95 if candidate == "lr-4e-4" else 0.6)
        if chat is not None:
            write_run(tmp_path / "chat" / candidate, [42, 1], chat, test=0.95 if candidate == "lr-4e-4" else 0.6)
    args = ["--work", tmp_path, "--print-only", "--sets", "demo", "chat", "--seeds", "42", "1"]
    out = run_bench("quality.defaults", *args, "--candidates", *val, cwd=tmp_path).stdout
    lines = out.splitlines()
    assert re.search(r"^r-8\s+0\.865\s+0\.785\s+0\.825$", out, flags=re.M)  # each set's mean over seeds, then theirs
    assert re.search(r"^r-32\s+0\.995\s+-\s+-$", out, flags=re.M)
    chosen = "chosen on the mean validation macro_f1 over demo, chat (ce, seeds [42, 1]), a change only by more than"
    assert f"{chosen} 0.01: r-8" in lines
    gains = lines.index(f"{chosen} 0.01: r-8") + 1
    assert lines[gains : gains + 2] == ["  lr-4e-4: +0.050 against the defaults", "  r-8: +0.070 against the defaults"]
    assert lines[gains + 2].startswith("tokens per row: ")  # no rows extracted here: nothing counted
    assert sum(line.startswith("tfidf ") for line in lines) == 2  # a test row in both test blocks
    # r-8's +0.070 is within a margin of 0.08: the defaults stay
    out = run_bench("quality.defaults", *args, "--margin", "0.08", "--candidates", *val, cwd=tmp_path).stdout
    assert f"{chosen} 0.08: default" in out.splitlines()


def test_the_defaults_study_breaks_a_tie_for_the_defaults_whatever_order_they_are_named_in(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    from bench.quality.defaults import choose

    assert choose({"r-8": 0.8, "default": 0.8}, margin=0.0) == "default"
    assert choose({"r-8": 0.8, "lr-4e-4": 0.8}, margin=0.0) == "lr-4e-4"  # CANDIDATES' order
    assert choose({"r-8": 0.811, "default": 0.8}, margin=0.01) == "r-8"
    assert choose({}, margin=0.01) is None


def test_a_candidate_changes_only_its_own_knobs_of_the_data_sets_config(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    from bench.quality.defaults import CANDIDATES, candidate_config, demo_config
    from focalcls.config.loading import complete

    base = demo_config()
    assert base["split"]["seed"] == 7 and "train" not in base and "lora" not in base  # the schema's recipe
    assert base["model"]["max_length"] == 64  # as the two studies set it
    default = complete(candidate_config(base, "default", "ce", [42, 1]))
    assert list(default["presets"]) == ["ce"] and default["baselines"] == ["tfidf"]
    assert default["train"]["seeds"] == [42, 1]
    for name, changes in CANDIDATES.items():
        config = complete(candidate_config(base, name, "ce", [42, 1]))
        sections = {"train": config["train"], "lora": config["lora"], "model": config["model"]}
        sections["preset"] = config["presets"]["ce"]
        changed = {
            (section, key)
            for section, values in sections.items()
            for key in values
            if values[key] != (default["presets"]["ce"] if section == "preset" else default[section])[key]
        }
        assert changed == {(section, key) for section, knobs in changes.items() for key in knobs}, name


def test_the_defaults_study_goes_on_past_a_failed_run_and_names_it(monkeypatch, tmp_path):
    import argparse

    monkeypatch.syspath_prepend(str(REPO))
    from bench.quality import defaults

    ran = []

    def run(folder, config, preset, seeds, cores, triggers):
        ran.append((folder.relative_to(tmp_path).as_posix(), triggers))
        return folder.name != "r-8"  # r-8's runs fail

    monkeypatch.setattr(defaults, "base_config", lambda name, work: {})
    monkeypatch.setattr(defaults, "run", run)
    args = argparse.Namespace(sets=["demo", "chat"], preset="ce", seeds=[42], cores=2, rerun_triggers=["params"])
    failed = defaults.train_every_candidate(tmp_path, args, ["default", "r-8", "r-32"])
    assert failed == [tmp_path / "demo/r-8", tmp_path / "chat/r-8"]
    # a candidate runs on every data set before the next one starts: a stopped study leaves whole rows
    order = ["demo/default", "chat/default", "demo/r-8", "chat/r-8", "demo/r-32", "chat/r-32"]
    assert ran == [(folder, ["params"]) for folder in order]


def test_a_study_prepared_again_leaves_its_rows_file_untouched_unless_the_rows_change(tmp_path, monkeypatch):
    """Snakemake reruns everything below a raw file whose time changes: preparing a set again for each candidate
    of the defaults study must not make the runs already made stale."""
    import os

    import pandas as pd

    sys.path.insert(0, str(REPO))
    from bench.common import study

    monkeypatch.setattr(study, "pip_download", lambda requirement, folder, source: [tmp_path / "pkg.tar.gz"])
    monkeypatch.setattr(study, "verify_sha256", lambda path, sha256: None)
    texts = ["a b", "c d"]
    fake = study.Study(
        "pkg", "1.0", "0" * 64, "fake", lambda sdist: pd.DataFrame({"text": texts, "label": ["x", "y"]}), "{text}"
    )
    config = study.prepare(fake, tmp_path, split_seed=7)
    data = tmp_path / "fake.xlsx"
    os.utime(data, (1, 1))
    os.utime(config, (1, 1))
    assert study.prepare(fake, tmp_path, split_seed=7) == config
    assert data.stat().st_mtime == 1 and config.stat().st_mtime == 1  # the same rows and config: nothing written
    texts[1] = "c e"
    study.prepare(fake, tmp_path, split_seed=8)
    assert data.stat().st_mtime > 1 and config.stat().st_mtime > 1
    assert pd.read_excel(data)["text"].tolist() == ["a b", "c e"]


def test_the_defaults_study_names_its_targets_before_the_options_that_take_several_values(monkeypatch, tmp_path):
    """--rerun-triggers and --configfile take every word after them: a target written after either is lost."""
    monkeypatch.syspath_prepend(str(REPO))
    from bench.quality import defaults

    calls = []
    monkeypatch.setattr(defaults.subprocess, "run", lambda cmd: calls.append(cmd) or completed(0))
    assert defaults.run(tmp_path, {}, "ce", [42, 1], 2, ["mtime", "params"])
    cmd = calls[0]
    triggers, configfile = cmd.index("--rerun-triggers"), cmd.index("--configfile")
    assert cmd[triggers + 1 : configfile] == ["mtime", "params"]
    assert cmd[configfile + 1 :] == [str(tmp_path / "config.yaml")]
    assert [word for word in cmd if word.endswith(".json")] == defaults.targets("ce", [42, 1])
    assert max(cmd.index(t) for t in defaults.targets("ce", [42, 1])) < triggers


def completed(returncode: int):
    import subprocess

    return subprocess.CompletedProcess([], returncode)


def test_the_defaults_study_counts_the_rows_each_max_length_cuts(monkeypatch, tmp_path, tiny_model_dir):
    """A max_length above every row's length trains what the defaults train: the study says how many rows each
    candidate's max_length cuts, counted with the model's tokenizer."""
    import pandas as pd
    from transformers import AutoTokenizer

    monkeypatch.syspath_prepend(str(REPO))
    from bench.quality.defaults import row_lengths

    texts = ["a b c d e f g h", "a", "a b c", "x y z w v u t s r q"]
    lengths = [len(ids) for ids in AutoTokenizer.from_pretrained(str(tiny_model_dir))(texts)["input_ids"]]
    for candidate, limit in (("default", 4), ("max-length-256", 256)):
        folder = tmp_path / "demo" / candidate
        (folder / "results/data").mkdir(parents=True)
        (folder / "config.yaml").write_text(yaml.safe_dump({"model": {"max_length": limit}}))
    pd.DataFrame({"text": texts, "label": list("abab")}).to_excel(tmp_path / "demo/default/results/data/extracted.xlsx")
    lines = row_lengths(tmp_path, ["demo", "chat"], ["default", "max-length-256"], tiny_model_dir)
    over = sum(n > 4 for n in lengths)
    assert 0 < over < len(texts)
    assert lines[1:] == [
        f"  demo: 4 rows, {sum(lengths) / 4:.1f} tokens a row, longest {max(lengths)}; {over} over 4, 0 over 256"
    ]  # chat has no rows yet: no line
    assert row_lengths(tmp_path, ["demo"], ["default"], tmp_path / "no-model") == [
        f"tokens per row: not counted, {tmp_path / 'no-model'} has no tokenizer (fetch the demo's model first)"
    ]
