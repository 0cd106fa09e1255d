"""The sequence-model kernels (glassnet.kernels, GLASSNET_KERNELS=numba) against the NumPy path and PyTorch, in one
process: W3 (LSTM) and W4 (GPT) training steps, interleaved rounds, CPU time and wall time per step.

    python -m bench.seq_kernels                        # W3 and W4, 1 thread, 5 rounds of 3 steps
    python -m bench.seq_kernels --threads 2 --workloads W4 --rounds 3 --steps 2
    python -m bench.seq_kernels --kernel-threads 1     # numba's pool at 1 thread whatever the BLAS threads

Each round runs the three systems once, in an order rotated from round to round; the ratios (PyTorch time /
glassnet time: above 1 means glassnet is faster) are taken within each round, so a slow spell of a shared machine
falls on all three alike. CPU time is process time (all threads); wall time is what a user waits. With more than one
thread the systems share the process's cores with each other's waiting threads (OpenBLAS's spin after a glassnet
step, PyTorch's OpenMP threads after its own), which is not fair to either: for threads > 1, `bench.run`
(a process per system) is the comparison, and this benchmark compares the glassnet paths with each other.
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from this command's environment (the process restarts itself
without them) and the BLAS libraries and the kernel OpenBLAS runs are printed (threadpoolctl).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

_UNFAIR = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def blas_report() -> str:
    """One line per BLAS/OpenMP library loaded: prefix, version, the OpenBLAS kernel (architecture), threads."""
    from threadpoolctl import threadpool_info

    return "\n".join(
        f"  {lib.get('prefix')} {lib.get('version')} kernel={lib.get('architecture', '-')} "
        f"threads={lib.get('num_threads')} ({os.path.basename(lib.get('filepath', ''))})"
        for lib in threadpool_info()
    )


def run(workload: str, threads: int, rounds: int, steps: int, kernel_threads: int | None = None) -> dict:
    """Seconds per step (CPU, wall) of glassnet's NumPy path, glassnet with kernels, and PyTorch, per round."""
    import glassnet as gn
    from bench.workloads import glassnet_step, torch_step
    from glassnet import kernels

    gn.set_num_threads(threads)
    table = kernels.compiled_table()
    tables = {"numpy": {}, "kernels": table, "pytorch": {}}
    systems = {}
    kernels.use({})
    systems["numpy"] = glassnet_step(workload)
    kernels.use(table)
    systems["kernels"] = glassnet_step(workload)
    systems["pytorch"] = torch_step(workload, threads)
    gn.set_num_threads(threads)  # again: torch's OpenMP library is loaded now
    if kernel_threads is not None:
        import numba

        numba.set_num_threads(kernel_threads)
    for name, step in systems.items():  # warm up (and compile the kernels, or load them from numba's cache)
        kernels.use(tables[name])
        step(), step()
    times: dict = {name: [] for name in systems}
    names = list(systems)
    try:
        for r in range(rounds):
            for name in names[r % 3:] + names[: r % 3]:
                kernels.use(tables[name])
                cpu, wall = time.process_time(), time.perf_counter()
                for _ in range(steps):
                    systems[name]()
                times[name].append(((time.process_time() - cpu) / steps, (time.perf_counter() - wall) / steps))
    finally:
        kernels.use(None)
    return times


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workloads", default="W3,W4")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--kernel-threads", type=int, default=None, help="numba's threads (default: --threads)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    if any(v in os.environ for v in _UNFAIR) or os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        env = {k: v for k, v in os.environ.items() if k not in _UNFAIR}
        env.update(OPENBLAS_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads),
                   NUMBA_NUM_THREADS=str(max(args.threads, args.kernel_threads or 1)))
        sys.exit(subprocess.call([sys.executable, "-m", "bench.seq_kernels", *(argv or sys.argv[1:])], env=env))
    for workload in args.workloads.split(","):
        times = run(workload, args.threads, args.rounds, args.steps, args.kernel_threads)
        print(f"{workload}, {args.threads} thread(s), kernel threads {args.kernel_threads or args.threads}, "
              f"{args.rounds} rounds x {args.steps} steps, load average {os.getloadavg()[0]:.1f}", flush=True)
        print(blas_report())
        for name, v in times.items():
            print(f"  {name:8} CPU {statistics.median(c for c, _ in v) * 1e3:7.1f} ms/step   "
                  f"wall {statistics.median(w for _, w in v) * 1e3:7.1f} ms/step")
        for name in ("numpy", "kernels"):
            ratio = [statistics.median(t[k] / g[k] for t, g in zip(times["pytorch"], times[name])) for k in (0, 1)]
            print(f"  glassnet {name} vs PyTorch (>1: glassnet faster): CPU {ratio[0]:.2f}x  wall {ratio[1]:.2f}x")


if __name__ == "__main__":
    main()
