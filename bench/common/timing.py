"""The speed benchmarks' one clock (time.perf_counter): a call's wall seconds, the median of repeated calls,
variants interleaved on the same inputs, and the machine's matrix-product rate."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import TypeVar

import torch

T = TypeVar("T")
X = TypeVar("X")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """What fn returns, and the wall seconds it took."""
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def median_seconds(fn: Callable[[], T], repeats: int) -> tuple[float, list[T]]:
    """The median wall seconds of `repeats` calls of fn, and what each call returned."""
    runs = [timed(fn) for _ in range(repeats)]
    return statistics.median(seconds for _, seconds in runs), [result for result, _ in runs]


def interleaved(
    variants: Mapping[str, Callable[[X], object]],
    warm_up: X,
    inputs: Iterable[X],
    after_round: Callable[[], None] = lambda: None,
) -> dict[str, list[float]]:
    """Wall seconds of each variant on each input, the variants in turn on one input before the next, so drift
    in a shared machine's speed hits each alike; after one untimed call of each on `warm_up` (first calls
    allocate and pick kernels). `after_round` runs, untimed, after each input's round."""
    for run in variants.values():
        run(warm_up)
    times = {name: [] for name in variants}
    for x in inputs:
        for name, run in variants.items():
            times[name].append(timed(partial(run, x))[1])
        after_round()
    return times


def matmul_gflops(m: int, k: int, n: int, seconds: float = 1.0, dtype: torch.dtype = torch.bfloat16) -> float:
    """GFLOP/s of an (m x k) @ (k x n) product in `dtype`, repeated for `seconds` after three warm-up calls."""
    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    for _ in range(3):
        a @ b
    started, calls = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        a @ b
        calls += 1
    return 2 * m * k * n * calls / (time.perf_counter() - started) / 1e9
