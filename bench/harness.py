"""Timing harness: warm up, then the median steps/s of several windows (the method of ../shared/bench)."""

from __future__ import annotations

import statistics
import time


def measure(step, min_time: float = 1.0, repeats: int = 3, warmup_time: float = 0.3) -> float:
    """Median calls per second of `step` over `repeats` windows of at least `min_time` seconds."""
    t0 = time.perf_counter()
    n = 0
    while n < 3 or time.perf_counter() - t0 < warmup_time:
        step()
        n += 1
    rates = []
    for _ in range(repeats):
        n = 0
        t0 = time.perf_counter()
        while n < 2 or time.perf_counter() - t0 < min_time:
            step()
            n += 1
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)
