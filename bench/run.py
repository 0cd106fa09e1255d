"""The reference workloads, glassnet against PyTorch: steps/s, their ratio, and peak memory of each.

    python -m bench.run              # W0-W2, each system in its own subprocess, alternating, 3 rounds
    python -m bench.run --quick      # smoke test: short windows, one round

Each measurement runs in a fresh subprocess so that its peak RSS (`resource.getrusage`) is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys

from bench.workloads import WORKLOADS


def worker(system: str, workload: str, min_time: float, repeats: int) -> dict:
    """Measure one system on one workload in this process; return steps/s and peak RSS in MiB."""
    from bench.harness import measure
    from bench.workloads import glassnet_step, torch_step

    step = (glassnet_step if system == "glassnet" else torch_step)(workload)
    if system == "glassnet":
        import torch  # noqa: F401 - loaded in both workers so that peak RSS compares like with like

    rate = measure(step, min_time=min_time, repeats=repeats, warmup_time=min(0.5, min_time))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"steps_per_s": rate, "peak_mib": peak_mib}


def _spawn(system: str, workload: str, min_time: float, repeats: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.run", "--worker", system, workload, str(min_time), str(repeats)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    """Run every workload in both systems, alternating, and print the table; returns the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short windows and one round: a smoke test")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        system, workload, min_time, repeats = args.worker
        print(json.dumps(worker(system, workload, float(min_time), int(repeats))))
        return {}
    min_time, repeats, rounds = (0.2, 1, 1) if args.quick else (3.0, 3, args.rounds)
    results: dict = {}
    for workload in args.workloads.split(","):
        runs = {"glassnet": [], "pytorch": []}
        for r in range(rounds):
            order = ("glassnet", "pytorch") if r % 2 == 0 else ("pytorch", "glassnet")
            for system in order:
                runs[system].append(_spawn(system, workload, min_time, repeats))
        results[workload] = {
            s: {"steps_per_s": statistics.median(x["steps_per_s"] for x in v),
                "peak_mib": max(x["peak_mib"] for x in v)}
            for s, v in runs.items()
        }
    print(f"{'workload':<9}{'glassnet/s':>12}{'PyTorch/s':>12}{'ratio':>8}{'glassnet MiB':>14}{'PyTorch MiB':>13}")
    for workload, r in results.items():
        g, t = r["glassnet"], r["pytorch"]
        print(f"{workload:<9}{g['steps_per_s']:>12.1f}{t['steps_per_s']:>12.1f}"
              f"{g['steps_per_s'] / t['steps_per_s']:>7.2f}x{g['peak_mib']:>14.0f}{t['peak_mib']:>13.0f}")
    return results


if __name__ == "__main__":
    main()
