"""Latency measurement: warm-up, N timed runs, median / p90 / throughput."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from spinenet_lite.errors import SpineNetLiteError


@dataclass(frozen=True)
class Timing:
    """Wall-clock statistics of one callable, in milliseconds per call."""

    median_ms: float
    p90_ms: float
    mean_ms: float
    min_ms: float
    runs: int
    batch: int = 1

    @property
    def throughput(self) -> float:
        """Images per second at the median latency."""
        return 1000.0 * self.batch / self.median_ms if self.median_ms > 0 else float("inf")


def time_fn(
    fn: Callable[[], object],
    runs: int = 50,
    warmup: int = 5,
    batch: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Timing:
    """Call `fn()` `warmup` times untimed, then `runs` times timed with `time.perf_counter`.

    `progress(1)` is called after each timed run so a progress bar can follow. `fn` must block until its
    result is ready (every runtime here does: TFLite `invoke`, ONNX Runtime `run`, Keras `.numpy()`).
    """
    _check_counts(runs, warmup)
    for _ in range(warmup):
        fn()
    times = np.empty(runs, dtype=np.float64)
    for i in range(runs):
        start = time.perf_counter()
        fn()
        times[i] = time.perf_counter() - start
        if progress is not None:
            progress(1)
    return _timing(times, batch)


def time_interleaved(
    fns: list[Callable[[], object]],
    runs: int = 50,
    warmup: int = 5,
    batch: int = 1,
    progress: Callable[[int], None] | None = None,
) -> list[Timing]:
    """Time several callables in rounds, so a change in machine load hits all of them alike.

    Each callable gets `warmup` untimed calls; then each round calls every callable once untimed (its weights back
    in cache after the others ran: the steady state `time_fn` sees) and once timed. On a shared CPU, timing one
    model's runs after another's lets load drift between the two blocks skew their ratio by +-20% (measured
    here); interleaved, a ratio of two models holds to a few percent.
    """
    _check_counts(runs, warmup)
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = np.empty((len(fns), runs), dtype=np.float64)
    for i in range(runs):
        for j, fn in enumerate(fns):
            fn()
            start = time.perf_counter()
            fn()
            times[j, i] = time.perf_counter() - start
            if progress is not None:
                progress(1)
    return [_timing(row, batch) for row in times]


def _check_counts(runs: int, warmup: int) -> None:
    if runs < 1:
        raise SpineNetLiteError(f"--runs: {runs} is not a positive count; use --runs 1 or more")
    if warmup < 0:
        raise SpineNetLiteError(f"--warmup: {warmup} is negative; use --warmup 0 or more")


def _timing(seconds: np.ndarray, batch: int) -> Timing:
    times = np.asarray(seconds, dtype=np.float64) * 1000.0
    return Timing(
        median_ms=float(np.median(times)),
        p90_ms=float(np.percentile(times, 90)),
        mean_ms=float(times.mean()),
        min_ms=float(times.min()),
        runs=len(times),
        batch=batch,
    )
