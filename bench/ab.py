"""Before and after: two glassnet trees and PyTorch on one workload, interleaved, CPU and wall ms per step.

    git worktree add /tmp/before <commit>
    python -m bench.ab /tmp/before . --workloads W2,W3,W4 --rounds 15

Each system runs in its own persistent process (its own modules, BLAS pool and heap), and the processes take turns:
in each round every system runs `--steps` training steps while the others wait on a pipe, in an order that flips
from round to round. On a machine whose speed drifts by ±10% within minutes (this project's VM does), a slow spell
then falls on all systems alike, which back-to-back `bench.run` workers cannot promise; the ratios are taken within
each round and their median is printed: of CPU time (`time.process_time`) with one thread, of wall time with more
(CPU time then counts BLAS's spinning threads as well as their work).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

_WORKER = """
import json, sys, time
system, workload, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
from bench.workloads import glassnet_step, torch_step
step = torch_step(workload, threads) if system == "pytorch" else glassnet_step(workload)
for _ in range(3):
    step()
for line in sys.stdin:
    n = int(line)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        step()
    print(json.dumps([(time.process_time() - cpu) / n * 1e3, (time.perf_counter() - wall) / n * 1e3]), flush=True)
"""


def _start(tree: Path, system: str, workload: str, threads: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(tree), OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    return subprocess.Popen([sys.executable, "-c", _WORKER, system, workload, str(threads)], cwd=tree, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def compare(trees: dict, workload: str, rounds: int, steps: int, threads: int) -> dict:
    """name -> list of (CPU ms, wall ms) per step, one per round; `trees` maps a name to (tree, system)."""
    procs = {name: _start(tree, system, workload, threads) for name, (tree, system) in trees.items()}
    times: dict = {name: [] for name in procs}
    try:
        for r in range(rounds):
            for name in list(procs)[:: 1 if r % 2 == 0 else -1]:
                procs[name].stdin.write(f"{steps}\n")
                procs[name].stdin.flush()
                line = procs[name].stdout.readline()
                if not line:
                    raise RuntimeError(f"bench.ab: the {name} worker on {workload} stopped (run it alone to see why)")
                times[name].append(json.loads(line))
    finally:
        for p in procs.values():
            p.stdin.close()
            p.wait()
    return times


def _ratio_line(workload: str, times: dict, slow: str, fast: str, label: str, column: int) -> str:
    """The per-round ratio slow-time / fast-time (above 1: `fast` is faster) of CPU (column 0) or wall (1) time."""
    ratios = [a[column] / b[column] for a, b in zip(times[slow], times[fast])]
    clock = ("CPU", "wall")[column]
    return (f"{workload} {label} ({clock}): median {statistics.median(ratios):.3f} "
            f"(rounds {min(ratios):.3f}-{max(ratios):.3f})")


def report(workload: str, times: dict, threads: int = 1) -> None:
    """Each system's CPU and wall ms per step, then the ratios: CPU time with one thread, wall time with more (CPU
    time then counts the BLAS threads' spinning as well as their work)."""
    for name, rows in times.items():
        cpu, wall = [t[0] for t in rows], [t[1] for t in rows]
        print(f"{workload} {name:8s} CPU ms/step median {statistics.median(cpu):8.2f} (min {min(cpu):8.2f})   "
              f"wall median {statistics.median(wall):8.2f}")
    column = 0 if threads == 1 else 1
    print(_ratio_line(workload, times, "before", "after", "speed-up after/before", column))
    if "pytorch" in times:
        for name in ("before", "after"):
            label = f"glassnet {name} / PyTorch (above 1: glassnet faster)"
            print(_ratio_line(workload, times, "pytorch", name, label, column))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path, help="the glassnet tree to compare against (e.g. a git worktree)")
    p.add_argument("after", type=Path, help="the glassnet tree under test")
    p.add_argument("--workloads", default="W1,W2,W3,W4")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--seconds", type=float, default=0.5, help="about how long each system runs in each round")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    args = p.parse_args(argv)
    here = Path(__file__).resolve().parent.parent
    print(f"bench.ab, {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.2f}, "
          f"{args.threads} thread(s), {args.rounds} rounds")
    for workload in args.workloads.split(","):
        trees = {"before": (args.before.resolve(), "glassnet"), "after": (args.after.resolve(), "glassnet")}
        if not args.no_torch:
            trees["pytorch"] = (here, "pytorch")
        probe = compare({"after": trees["after"]}, workload, 1, 1, args.threads)["after"][0][1]
        steps = max(1, round(args.seconds * 1e3 / probe))
        report(workload, compare(trees, workload, args.rounds, steps, args.threads), args.threads)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
