"""Fixtures: a tiny randomly initialised Qwen3 with a tokenizer trained here, and synthetic imbalanced data."""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from filelock import FileLock

from focalcls.config.loading import complete

REPO = Path(__file__).resolve().parents[1]
# Each class has its own words, so even a tiny model can learn something in a few steps.
CLASS_WORDS = {
    "sports": ["球队", "比赛", "进球", "冠军", "教练"],
    "finance": ["股票", "银行", "利率", "市场", "基金"],
    "tech": ["芯片", "手机", "软件", "网络", "电脑"],
    "health": ["医院", "医生", "疫苗", "健康", "药品"],
}
FILLER = ["今天", "我们", "消息", "新闻", "表示", "记者", "报道"]


def pytest_configure(config):
    """The tests' fake GPU ids ("0" to "3") and ports lock files in a pool of this run's own, which its test
    processes share (pytest-xdist's workers inherit it): they never wait on, nor hold, the ids that a box's
    real trainings lock. OpenMP threads that wait sleep (every process the tests start inherits it)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:  # the run itself, not one of its workers
        os.environ["FOCALCLS_GPU_POOL"] = tempfile.mkdtemp(prefix=f"focalcls-test-gpu-pool-{os.getpid()}-")
    # Three test processes, each starting jobs, share two cores: an OpenMP thread that spins while it waits
    # burns a core another process needs (about a tenth of a training job's CPU here). Results are the same.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# The modules whose whole-workflow runs take longest, in the order the test processes start them. pytest-xdist
# (-n 3 --dist loadfile, no reordering: pyproject.toml) hands out whole modules in collection order, two to
# each process at the start, and a process runs its second only after its first: each of the three longest
# gets a quick module queued behind it, then the next longest go out as processes come free. One of these
# started last would end the run alone on one process while the others sat idle.
LONGEST = ("test_decisions.py", "test_slurm.py", "test_workflow.py")
LONG = ("test_scripts.py", "test_bench.py", "test_scheduling.py")


def pytest_collection_modifyitems(items):
    modules = list(dict.fromkeys(item.path for item in items))
    longest = [module for name in LONGEST for module in modules if module.name == name]
    long = [module for name in LONG for module in modules if module.name == name]
    rest = [module for module in modules if module not in longest and module not in long]  # quick ones first
    order = {module: i for i, module in enumerate(longest + rest[: len(longest)] + long + rest[len(longest) :])}
    items.sort(key=lambda item: order[item.path])


def pytest_unconfigure(config):
    if "PYTEST_XDIST_WORKER" not in os.environ:
        shutil.rmtree(os.environ.pop("FOCALCLS_GPU_POOL", ""), ignore_errors=True)


def synthetic_rows(counts: dict[str, int], seed: int = 0) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    for label, n in counts.items():
        for i in range(n):
            words = rng.sample(CLASS_WORDS[label], 2) + rng.sample(FILLER, 2)
            rng.shuffle(words)
            rows.append({"text": "".join(words) + f"{i}号", "label": label, "id": f"{label}-{i}"})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture(scope="session")
def imbalanced_rows() -> pd.DataFrame:
    return synthetic_rows({"sports": 120, "finance": 80, "tech": 50, "health": 30})


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder `name` that `build` fills once per test session, whichever pytest-xdist worker asks first (the
    others wait on its lock, then read it): a whole-workflow run that modules on several workers read is run
    once, not once a worker. A build that fails is not tried again: the workers that ask next fail at once,
    naming the error, and its folder is kept as `name`.failed for a look."""
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:  # each worker's basetemp is a folder of the session's
        root = root.parent
    folder, failed = root / name, root / f"{name}.failed"
    with FileLock(f"{folder}.lock", timeout=3600):
        if failed.exists():
            raise RuntimeError(f"{name} failed to build in another test process: {(failed / 'error').read_text()}")
        if not (folder / ".built").is_file():
            shutil.rmtree(folder, ignore_errors=True)  # what a killed process left half-built
            folder.mkdir()
            try:
                build(folder)
            except BaseException as e:
                folder.rename(failed)
                (failed / "error").write_text(f"{e.__class__.__name__}: {str(e)[:2000]}")
                raise
            (folder / ".built").touch()
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer Qwen3 causal LM with random weights and a character-level tokenizer, saved as safetensors: one
    folder for the session, so runs shared between workers and the tests reading them name the same model."""
    return built_once(tmp_path_factory, "tiny-qwen3", save_tiny_model)


def save_tiny_model(folder: Path) -> None:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    corpus = [w for words in CLASS_WORDS.values() for w in words] + FILLER + [f"{i}号" for i in range(200)]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "<unk>", "<eos>"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", eos_token="<eos>")
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    Qwen3ForCausalLM(config).save_pretrained(folder, safe_serialization=True)


# Config sections as the scripts receive them: complete, the schema's defaults filled in (focalcls.config.loading).
TINY = complete(
    {
        "train": {
            "epochs": 2,
            "batch_size": 16,
            "lr": 5e-3,
            "seeds": [0],
            "gpus": 0,
            "precision": "fp32",
            "patience": 3,
        },
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": "all-linear"},
        "model": {"max_length": 16},
        "presets": {"balanced": {"loss": "focal", "form": "softmax", "alpha": "balanced", "gamma": 2.0}},
    }
)
TRAIN, LORA, MODEL, PRESET = TINY["train"], TINY["lora"], TINY["model"], TINY["presets"]["balanced"]


@pytest.fixture(scope="session")
def stages(tmp_path_factory, imbalanced_rows, tiny_model_dir) -> Path:
    """Every stage script run once on the synthetic rows, chained as the workflow chains them; once a session
    (the tests using it write only files of their own names beside them)."""
    return built_once(tmp_path_factory, "stages", lambda work: run_stages(work, imbalanced_rows, tiny_model_dir))


def run_stages(work: Path, imbalanced_rows: pd.DataFrame, tiny_model_dir: Path) -> None:
    from focalcls.core.spreadsheets import write_xlsx
    from helpers import binary_and_tfidf, calibrate, evaluate_flags, extract_and_split, run_script, train_flags

    raw = imbalanced_rows.rename(columns={"text": "内容", "label": "类别"})
    write_xlsx(work / "raw.xlsx", raw)
    data = {"raw": "raw.xlsx", "text_column": "内容", "label_column": "类别", "keep_columns": ["id"], "sheet": 0}
    extract_and_split(
        work,
        data,
        checkpoint=tiny_model_dir,
        split={"val_fraction": 0.2, "test_fraction": 0.2, "seed": 0},
        balance={"strategy": "none"},
        model=MODEL,
    )
    run_script("train.py", *train_flags(tiny_model_dir, "p/balanced"), cwd=work)
    run_script("evaluate.py", *evaluate_flags(tiny_model_dir, "p/balanced/adapter", "p/balanced/eval"), cwd=work)
    binary_and_tfidf(work, "balanced", keep_columns=["id"])
    calibrate(work, "p/balanced/eval", {"share": 0.25})
    calibrate(work, "b/tfidf", None)
