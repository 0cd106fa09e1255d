"""The reference workloads, glassnet against PyTorch: steps/s, their ratio, and peak memory of each.

    python -m bench.run              # W0-W4, each system in its own subprocess, alternating, 3 rounds
    (--scaling also measures the size table: W1 at batch 32/128/512, W3 at sequence 32/64/128, then W0-W4 at 1, 2 and
all cores' threads, and prints each system's speed-up over its own 1-thread figure)
    python -m bench.run --quick      # smoke test: short windows, one round
    python -m bench.run --workloads W3,W4-t32 --rounds 5
    python -m bench.run --threads 1  # one BLAS/OpenMP thread each: steadier when other processes share the cores
    python -m bench.run --compile    # and glassnet's step through gn.compile (capture once, replay), a third column
    python -m bench.run --scaling    # also W0-W4 again at 1, 2 and all cores' threads, so the scaling shows
    python -m bench.run --kernels numba   # glassnet with its compiled kernels (GLASSNET_KERNELS; needs numba)
    python -m bench.run --device cuda --workloads W1,W2,W3,W4   # on a GPU: glassnet (CuPy) against PyTorch CUDA

Each measurement runs in a fresh subprocess so that its peak RSS (`resource.getrusage`) is its own: "glassnet MiB"
is glassnet's worker alone (torch never imported), as a glassnet user runs it; "glassnet+torch MiB" is the same
worker's peak after it also imports torch and steps again (how the tables before 2026-12-07 05:00 counted it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from bench.workloads import SCALING, WORKLOADS, parse


def worker(system: str, workload: str, min_time: float, repeats: int, threads: int = 2, device: str = "cpu") -> dict:
    """Measure one system on one workload in this process; return steps/s and peak RSS in MiB."""
    from bench.harness import measure
    from bench.workloads import glassnet_step, torch_step

    if system == "pytorch":
        step = torch_step(workload, threads, device)
    else:
        step = glassnet_step(workload, device, compiled=system == "compiled")
    rate = measure(step, min_time=min_time, repeats=repeats, warmup_time=min(0.5, min_time))
    result = {"steps_per_s": rate, "peak_mib": _peak_mib()}
    if system != "pytorch":
        # The figure above is glassnet alone, as its user runs it (checked: torch was not loaded). For the tables of
        # earlier days, which loaded torch in both workers, the peak again with torch's libraries in the process.
        assert "torch" not in sys.modules, "torch was loaded in glassnet's worker"
        import torch  # noqa: F401

        measure(step, min_time=min(0.5, min_time), repeats=1, warmup_time=0.0)
        result["peak_mib_with_torch"] = _peak_mib()
    return result


def _peak_mib() -> float:
    """This process's peak RSS in MiB: VmHWM, the high-water mark of its own memory map, where Linux reports it.
    (ru_maxrss is not its own: Linux carries the parent's RSS at fork into a child's ru_maxrss across exec, so a
    worker started by a large process, such as a pytest session, reads as large as its parent.)"""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


KERNELS: str | None = None  # GLASSNET_KERNELS for glassnet's workers (--kernels); None: as the environment says


def _spawn(system: str, workload: str, min_time: float, repeats: int, threads: int, device: str = "cpu") -> dict:
    # The BLAS thread count has to be set before NumPy loads: through the environment of a fresh process.
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               NUMBA_NUM_THREADS=str(threads))
    if KERNELS is not None:
        env["GLASSNET_KERNELS"] = KERNELS
    out = subprocess.run(
        [sys.executable, "-m", "bench.run", "--worker", system, workload, str(min_time), str(repeats), str(threads),
         device],
        capture_output=True, text=True, check=True, env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _measure_both(workload: str, min_time: float, repeats: int, rounds: int, threads: int,
                  systems: tuple = ("glassnet", "pytorch"), device: str = "cpu") -> dict:
    """Median steps/s and max peak RSS of each system over `rounds` subprocess runs, the order rotated each round."""
    runs = {s: [] for s in systems}
    for r in range(rounds):
        order = systems[r % len(systems):] + systems[: r % len(systems)]
        for system in order:
            runs[system].append(_spawn(system, workload, min_time, repeats, threads, device))
    return {s: _summary(v) for s, v in runs.items()}


def _summary(runs: list) -> dict:
    """Median steps/s and the highest peak RSS of one system's runs (and with torch loaded, where measured)."""
    out = {"steps_per_s": statistics.median(x["steps_per_s"] for x in runs),
           "peak_mib": max(x["peak_mib"] for x in runs)}
    with_torch = [x["peak_mib_with_torch"] for x in runs if "peak_mib_with_torch" in x]
    if with_torch:
        out["peak_mib_with_torch"] = max(with_torch)
    return out


def _row(workload: str, r: dict) -> None:
    g, t = r["glassnet"], r["pytorch"]
    compiled = ""
    if "compiled" in r:
        c = r["compiled"]["steps_per_s"]
        compiled = f"{c:>12.2f}{c / t['steps_per_s']:>7.2f}x{r['compiled']['peak_mib']:>14.0f}"
    with_torch = f"{g['peak_mib_with_torch']:>20.0f}" if "peak_mib_with_torch" in g else f"{'-':>20}"
    print(f"{workload:<9}{g['steps_per_s']:>12.2f}{t['steps_per_s']:>12.2f}"
          f"{g['steps_per_s'] / t['steps_per_s']:>7.2f}x{g['peak_mib']:>14.0f}{t['peak_mib']:>13.0f}{with_torch}"
          f"{compiled}", flush=True)


def _table(title: str, workloads, measure, done: dict, compiled: bool = False) -> dict:
    """Measure each workload (unless `done` has it) and print its row as soon as it is known."""
    extra = f"{'compiled/s':>12}{'ratio':>8}{'compiled MiB':>14}" if compiled else ""
    print(f"{title:<9}{'glassnet/s':>12}{'PyTorch/s':>12}{'ratio':>8}{'glassnet MiB':>14}{'PyTorch MiB':>13}"
          f"{'glassnet+torch MiB':>20}{extra}")
    results = {}
    for w in workloads:
        results[w] = done.get(parse(w)) or measure(w)
        _row(w, results[w])
    return results


def main(argv=None) -> dict:
    """Run every workload in both systems, alternating, and print the table; returns the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short windows and one round: a smoke test")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--scaling", action="store_true", help="also W1 at batch 32/128/512, W3 at seq 32/64/128")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads of both systems (default 2)")
    parser.add_argument("--compile", action="store_true", help="also glassnet's step through gn.compile")
    parser.add_argument("--device", default="cpu", help="where both systems train: cpu (default) or cuda")
    parser.add_argument("--kernels", choices=("numpy", "numba"), help="glassnet's GLASSNET_KERNELS (default: as set)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        system, workload, min_time, repeats, *rest = args.worker
        threads, device = (int(rest[0]) if rest else 2), (rest[1] if len(rest) > 1 else "cpu")
        print(json.dumps(worker(system, workload, float(min_time), int(repeats), threads, device)))
        return {}
    min_time, repeats, rounds = (0.2, 1, 1) if args.quick else (3.0, 3, args.rounds)
    global KERNELS
    KERNELS = args.kernels
    load = os.getloadavg()[0]
    kernels = KERNELS or os.environ.get("GLASSNET_KERNELS", "numpy")
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, load average {load:.1f}, "
          f"{args.threads} thread(s) per system, device {args.device}, glassnet kernels {kernels}", flush=True)

    systems = ("glassnet", "pytorch", "compiled") if args.compile else ("glassnet", "pytorch")

    def measure(w, threads=args.threads):
        return _measure_both(w, min_time, repeats, rounds, threads, systems, args.device)

    workloads = args.workloads.split(",")
    results = _table("workload", workloads, measure, {}, args.compile)
    if args.scaling:  # W1 is W1-b128 and W3 is W3-t64: measured once
        by_threads = {args.threads: dict(results)}
        results.update(_table("scaling", SCALING, measure, {parse(w): r for w, r in results.items()}, args.compile))
        for threads in sorted({1, 2, os.cpu_count() or 1} - {args.threads}):  # how each system scales with cores
            print(f"{threads} thread(s) per system, load average {os.getloadavg()[0]:.1f}", flush=True)
            by_threads[threads] = _table(f"{threads} thr", workloads, lambda w, t=threads: measure(w, t), {},
                                         args.compile)
        _speedups(by_threads, systems)
    return results


def _speedups(by_threads: dict, systems) -> None:
    """Each system's steps/s at every thread count as a multiple of its own at 1 thread: how it scales."""
    counts = sorted(by_threads)
    print(f"speed-up over 1 thread, load average {os.getloadavg()[0]:.1f}")
    print(f"{'workload':<9}{'system':<10}" + "".join(f"{f'{t} thr':>9}" for t in counts))
    for w in by_threads[counts[0]]:
        for system in systems:
            one = by_threads[1][w][system]["steps_per_s"]
            print(f"{w:<9}{system:<10}" + "".join(f"{by_threads[t][w][system]['steps_per_s'] / one:>8.2f}x"
                                                    for t in counts), flush=True)


if __name__ == "__main__":
    main()
