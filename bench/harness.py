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


def interleaved(systems: dict, rounds: int = 7, min_time: float = 0.3, warmup_time: float = 0.3) -> dict:
    """Calls per second of each system in each of `rounds` rounds: one window per system per round, the order
    rotated from round to round, so that a slow spell of the machine falls on every system alike and a ratio can
    be taken within each round. Returns {system: [rate in round 1, rate in round 2, ...]}."""
    names = list(systems)
    for name in names:  # warm every system up once
        measure(systems[name], min_time=warmup_time, repeats=1, warmup_time=0.0)
    rates: dict = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            rates[name].append(measure(systems[name], min_time=min_time, repeats=1, warmup_time=0.0))
    return rates
