"""Wall-clock timing shared by `eval` and the benchmarks: warm up, time each call, report percentiles."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

Input = TypeVar("Input")


def time_calls(call: Callable[[Input], object], inputs: Sequence[Input], warmup: int = 5) -> np.ndarray:
    """Milliseconds per call of `call` on each input, after `warmup` untimed calls on the first inputs."""
    for item in inputs[:warmup]:
        call(item)
    timings = []
    for item in inputs:
        start = time.perf_counter()
        call(item)
        timings.append((time.perf_counter() - start) * 1000)
    return np.array(timings)


def percentiles_ms(timings: np.ndarray, prefix: str = "latency_ms") -> dict[str, float]:
    """`{prefix}_p50` and `{prefix}_p95`, rounded to microseconds.

    >>> percentiles_ms(np.array([1.0, 2.0, 3.0]))
    {'latency_ms_p50': 2.0, 'latency_ms_p95': 2.9}
    """
    return {f"{prefix}_p{q}": round(float(np.percentile(timings, q)), 3) for q in (50, 95)}
