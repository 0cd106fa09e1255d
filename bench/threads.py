"""The thread-policy measurement behind glassnet's default of one BLAS thread (glassnet/threads.py).

    python -m bench.threads            # about 3 minutes on a 2-core machine
    python -m bench.threads --quick    # a smoke test (CI)
    python -m bench.threads --whole-tour   # the whole `glassnet tour --quick`, default threads, quiet and busy

For each load -- "quiet" (nothing started by the bench) and "busy" (one other CPU-bound process, a Python busy loop
that the bench starts and stops) -- it measures, with one BLAS thread and with one per core:

- small: the tour's GAN chapter (`glassnet tour --quick --chapter 9`), wall time of a fresh process;
- a yardstick: a pure-Python loop, which no thread setting touches: its slowdown is the share of a core the
  machine gives this process;
- large: the reference workloads W1-W4 of bench/workloads.py (and W0, the tiny MLP), training steps per second,
  the two thread settings alternating window by window in one process, median of the rounds.

It prints the table and the load average before and after, since "quiet" only means that the bench added nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from bench.workloads import glassnet_step

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
last_hog: subprocess.Popen | None = None  # the busy process of the last "busy" load (for the smoke test)


@contextlib.contextmanager
def load(kind: str):
    """Nothing ("quiet"), or one CPU-bound process for the duration ("busy"), stopped at the end."""
    if kind == "quiet":
        yield
        return
    global last_hog
    hog = last_hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it reach the run queue
        yield
    finally:
        hog.kill()
        hog.wait()


def tour_seconds(threads: int, timeout: float, chapters: tuple[str, ...] = ("--chapter", "9")) -> tuple[float, float]:
    """Wall and CPU seconds of `glassnet tour --quick --chapter 9` (or other `chapters` options; () for the whole
    tour) in a fresh process with `threads` BLAS threads (wall inf if it ran past `timeout`). CPU time above wall
    time is threads spinning while they wait."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env.update(GLASSNET_NUM_THREADS=str(threads), PYTHONPATH=ROOT + os.pathsep + env.get("PYTHONPATH", ""))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        try:
            subprocess.run(
                [sys.executable, "-m", "glassnet", "tour", "--quick", *chapters, "--out", out],
                env=env,
                stdout=subprocess.DEVNULL,
                check=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return float("inf"), float("nan")
        wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _rate(step, window: float) -> float:
    """Steps per second over about `window` seconds (at least one step: a setting may be very slow)."""
    n, start = 0, time.perf_counter()
    while n < 1 or time.perf_counter() - start < window:
        step()
        n += 1
    return n / (time.perf_counter() - start)


def steps_per_second(workload: str, settings: tuple[int, ...], rounds: int, window: float) -> dict[int, float]:
    """Median steps/s of `workload` under each thread count, the settings alternating window by window."""
    import glassnet as gn

    step = glassnet_step(workload) if workload != "py" else (lambda: sum(range(100_000)))
    rates: dict[int, list[float]] = {n: [] for n in settings}
    for n in settings:  # warm up under each setting (thread pools started, caches filled)
        gn.set_num_threads(n)
        _rate(step, min(window, 0.2))
    for r in range(rounds):
        for n in settings[r % 2 :] + settings[: r % 2]:
            gn.set_num_threads(n)
            rates[n].append(_rate(step, window))
    return {n: statistics.median(v) for n, v in rates.items()}


def _fmt(x: float) -> str:
    return f"{x:,.1f}/s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke test: W0 and a small W1, short windows, no tour")
    parser.add_argument(
        "--whole-tour",
        action="store_true",
        help="only the whole `glassnet tour --quick` with the default thread setting, quiet and busy",
    )
    args = parser.parse_args(argv)
    if args.whole_tour:
        import glassnet as gn

        n = gn.threads.DEFAULT_NUM_THREADS
        for kind in ("quiet", "busy"):
            with load(kind):
                wall, cpu = tour_seconds(n, timeout=600.0, chapters=())
            print(f"| {kind} | glassnet tour --quick, {n} thread(s) | {wall:.1f} s (CPU {cpu:.1f} s) |", flush=True)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    settings = (1, cores) if cores > 1 else (1,)
    # "py": a pure-Python loop, no BLAS: how much of a core this process gets, the yardstick for the others
    workloads = ("py", "W0", "W1-b16") if args.quick else ("py", "W0", "W1", "W2", "W3", "W4")
    rounds, window = (1, 0.05) if args.quick else (3, 0.5)
    print(
        f"bench.threads: {cores} cores, thread settings {settings}; load average before: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    rows = []
    for kind in ("quiet", "busy"):
        with load(kind):
            if not args.quick:
                # with a thread per core it took 65 s busy in the issue: bounded, reported as timed out
                seconds = {n: tour_seconds(n, timeout=30.0) for n in settings}
                cells = [
                    f"{seconds[n][0]:.1f} s (CPU {seconds[n][1]:.1f} s)" if seconds[n][0] < float("inf") else "> 30 s"
                    for n in settings
                ]
                rows.append((kind, "tour --quick --chapter 9, wall (CPU)", *cells))
                print(rows[-1], flush=True)
            for w in workloads:
                rates = steps_per_second(w, settings, rounds, window)
                name = "Python loop (no BLAS) calls/s" if w == "py" else f"{w} steps/s"
                rows.append((kind, name, *(_fmt(rates[n]) for n in settings)))
                print(rows[-1], flush=True)
    header = ("load", "workload", *(f"{n} thread{'s' if n > 1 else ''}" for n in settings))
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
