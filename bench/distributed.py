"""Data-parallel training over MPI: throughput at 1 and 2 ranks, all-reduce cost and overlap, and a scaling model.

    python -m bench.distributed            # about a minute; prints the tables, writes nothing
    python -m bench.distributed --json F   # also keep the figures in F

Each configuration runs as its own `mpiexec -n R python -m bench.distributed --worker …` job, every rank with one
BLAS thread. A rank trains W1 (MLP) or W2 (LeNet-5) from bench/workloads.py on its own batch of the workload's
default size (the per-rank batch, as in PyTorch), so samples/s counts R × batch per step.

Measured in the 2-rank jobs:
- backward time, and the part of it spent waiting for the all-reduce after the walk handed over the last bucket
  (what backward could not hide); the share of the gradient bytes whose reduction had started, and had been seen
  complete, by then;
- the reduction alone (same gradients, no backward to hide behind): DistributedDataParallel's bucketed reduction
  against mpi4py's bare `Iallreduce` of the same buckets, glassnet.distributed.all_reduce of one flat tensor
  against mpi4py's bare `Allreduce` of the same bytes (the order rotated per call);
- in the 1-rank jobs, the same calls in CPU time: with no partner the all-reduce costs almost nothing, and what
  remains is glassnet's own work (Python, DDP's one pass over the gradients);
- Allreduce time against message size, from which latency α and bandwidth β come (for 2 ranks, t = 2α + n/β).

The scaling model predicts a step on N ranks over a network as compute (measured at 1 rank) plus the ring
all-reduce of the gradients, 2(N−1)/N · bytes / bandwidth + 2(N−1) · latency, with the network's bandwidth and its
latency added to the one measured here (stated in the output), with and without the overlap measured here.
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

import numpy as np

REPO = Path(__file__).resolve().parents[1]
WORKLOADS = ("W1", "W2")
SMALL_BUCKETS_MB = {"W1": 0.5, "W2": 0.06}  # about 5 buckets each: room for overlap
NETWORKS = {"10 Gb/s": (10e9 / 8, 20e-6), "100 Gb/s": (100e9 / 8, 5e-6)}  # bytes/s, one-way latency per message
RANKS_MODELLED = (8, 64, 512)
REDUCTION_ROUNDS = 60  # timed calls of each way of reducing the gradients, per job


# ----- the rank side -------------------------------------------------------------------------------------------------
def _worker(workload: str, bucket_cap_mb: float, seconds: float) -> None:
    import glassnet as gn
    import glassnet.distributed as dist
    import glassnet.nn.functional as F
    from bench.workloads import batch, build
    from glassnet import nn
    from glassnet.nn.parallel import DistributedDataParallel

    dist.init_process_group(blas_threads=1)
    rank, size = dist.get_rank(), dist.get_world_size()
    gn.manual_seed(0)
    x, y = (gn.tensor(a) for a in batch(workload, seed=rank))
    model, loss_fn = build(nn, F, workload)
    ddp = DistributedDataParallel(model, bucket_cap_mb=bucket_cap_mb) if size > 1 else model
    optimizer = gn.optim.SGD(model.parameters(), lr=0.01)
    backward_s: list[float] = []
    waited_s: list[float] = []
    overlapped: list[float] = []
    started: list[float] = []

    def step() -> None:
        optimizer.zero_grad()
        loss = loss_fn(ddp(x), y)
        t0 = time.perf_counter()
        loss.backward()
        backward_s.append(time.perf_counter() - t0)
        if size > 1:
            waited_s.append(ddp.last_reduction["waited"])
            overlapped.append(ddp.last_reduction["overlapped_fraction"])
            started.append(ddp.last_reduction["started_fraction"])
        optimizer.step()

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(3):
        step()
    per_step = (time.perf_counter() - t0) / 3
    steps = np.array([max(5, int(seconds / per_step))])
    dist.broadcast(gn.tensor(steps), src=0)  # every rank runs the same number of steps
    backward_s.clear()
    waited_s.clear()
    overlapped.clear()
    started.clear()
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(int(steps[0])):
        step()
    dist.barrier()
    elapsed = time.perf_counter() - t0
    result = {
        "workload": workload,
        "ranks": size,
        "batch_per_rank": int(x.shape[0]),
        "steps": int(steps[0]),
        "samples_per_s": size * int(x.shape[0]) * int(steps[0]) / elapsed,
        "step_s": elapsed / int(steps[0]),
        "backward_s": statistics.median(backward_s),
        "gradient_bytes": int(sum(p.data.nbytes for p in model.parameters())),
    }
    if size > 1:
        result.update(
            buckets=len(ddp._buckets),
            bucket_cap_mb=bucket_cap_mb,
            waited_s=statistics.median(waited_s),
            overlapped_fraction=statistics.mean(overlapped),
            started_fraction=statistics.mean(started),
        )
        result.update(_reduction_alone(ddp, dist))
    else:  # no partner to wait for: what the machinery itself costs per call
        result.update(_machinery_alone(model, dist, bucket_cap_mb=SMALL_BUCKETS_MB[workload]))
    if rank == 0:
        print("BENCH " + json.dumps(result), flush=True)


def _systems(ddp, dist) -> dict:
    """The same gradients reduced four ways: DistributedDataParallel's buckets (its whole machinery, as during
    backward), mpi4py's bare Iallreduce of the same bucket layout, gn.distributed.all_reduce of one flat tensor,
    and mpi4py's bare Allreduce of that flat tensor."""
    import glassnet as gn

    group = dist._world()
    comm, mpi = group.comm, group.MPI
    flat = np.concatenate([p.grad.data.reshape(-1) for p in ddp._params])
    tensor = gn.tensor(flat.copy())
    arrays = [np.zeros(b.size, dtype=b.dtype) for b in ddp._buckets]

    def buckets() -> None:
        ddp._prepare(None)
        for bucket in ddp._buckets:
            for i in bucket.indices:
                ddp._mark_ready(i)

    def bare_buckets() -> None:
        mpi.Request.Waitall([comm.Iallreduce(mpi.IN_PLACE, a, op=mpi.SUM) for a in arrays])

    return {
        "ddp_buckets": buckets,
        "bare_buckets": bare_buckets,
        "gn_all_reduce": lambda: dist.all_reduce(tensor),
        "bare_allreduce": lambda: comm.Allreduce(mpi.IN_PLACE, flat, op=mpi.SUM),
    }


def _time_rotated(systems: dict, comm, rounds: int, warm: int) -> dict[str, list[float]]:
    """Each system once per round, the order rotated each round, every call after a barrier."""
    names = list(systems)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            comm.Barrier()
            t0 = time.perf_counter()
            systems[name]()
            elapsed = time.perf_counter() - t0
            if round_ >= warm:
                times[name].append(elapsed)
    return times


def _reduction_alone(ddp, dist) -> dict:
    """The gradients' reduction with no backward to hide behind (2 ranks)."""
    times = _time_rotated(_systems(ddp, dist), dist._world().comm, REDUCTION_ROUNDS + 8, 8)
    out = {f"{name}_s": statistics.median(ts) for name, ts in times.items()}
    out.update({f"{name}_min_s": min(ts) for name, ts in times.items()})
    return out


def _machinery_alone(model, dist, bucket_cap_mb: float) -> dict:
    """At 1 rank an MPI all-reduce has no partner and costs almost nothing, so what remains is glassnet's own
    work per call: Python, and DDP's one pass over the gradients. Measured in CPU time, with one bucket and with
    the small buckets, over batches of calls."""
    from glassnet.nn.parallel import DistributedDataParallel

    out = {}
    for label, cap in (("one", 25.0), ("small", bucket_cap_mb)):
        ddp = DistributedDataParallel(model, bucket_cap_mb=cap)
        systems = _systems(ddp, dist)
        per_call: dict[str, list[float]] = {name: [] for name in systems}
        for _ in range(15):
            for name, fn in systems.items():
                t0 = time.process_time()
                for _ in range(50):
                    fn()
                per_call[name].append((time.process_time() - t0) / 50)
        for name, ts in per_call.items():
            out[f"alone_{label}_{name}_s"] = statistics.median(ts)
        out[f"alone_{label}_buckets"] = len(ddp._buckets)
        ddp._release()
    return out


def _comm_worker() -> None:
    """Allreduce time against message size on 2 ranks: latency and bandwidth."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    sizes = [8, 1024, 65536, 1 << 20, 4 << 20, 16 << 20]
    out = {}
    for nbytes in sizes:
        buf = np.ones(nbytes // 4, dtype=np.float32)
        reps = 200 if nbytes <= 65536 else 20
        ts = []
        for _ in range(reps):
            comm.Barrier()
            t0 = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            ts.append(time.perf_counter() - t0)
        kept = ts[reps // 10 :]
        out[nbytes] = {"median": statistics.median(kept), "min": min(kept)}
    if comm.Get_rank() == 0:
        print("BENCH " + json.dumps({"allreduce_s_by_bytes": out}), flush=True)


# ----- the launcher side ---------------------------------------------------------------------------------------------
def _run(ranks: int, *args: str) -> dict:
    from glassnet.distributed.launch import mpiexec_command

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    command = mpiexec_command(ranks, [sys.executable, "-m", "bench.distributed", *args])
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH "))
    return json.loads(line[len("BENCH ") :])


def ring_allreduce_s(ranks: int, nbytes: float, bandwidth: float, latency: float) -> float:
    """Ring all-reduce: 2(N−1)/N · bytes / bandwidth + 2(N−1) · latency."""
    return 2 * (ranks - 1) / ranks * nbytes / bandwidth + 2 * (ranks - 1) * latency


def _config_name(workload: str, ranks: int, cap: float) -> str:
    return f"{workload} {ranks} rank{'s' if ranks > 1 else ''}" + (f", buckets <= {cap} MiB" if ranks > 1 else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.distributed", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per configuration and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds: every configuration once per round")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--worker", nargs=2, metavar=("WORKLOAD", "BUCKET_CAP_MB"), help=argparse.SUPPRESS)
    parser.add_argument("--comm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker[0], float(args.worker[1]), args.seconds)
        return 0
    if args.comm:
        _comm_worker()
        return 0

    print(
        f"bench.distributed: {os.cpu_count()} cores, 1 BLAS thread per rank, {args.rounds} rounds of "
        f"{args.seconds:.0f} s per configuration (order rotated each round)",
        flush=True,
    )
    configs = [(w, r, c) for w in WORKLOADS for r, c in ((1, 25.0), (2, 25.0), (2, SMALL_BUCKETS_MB[w]))]
    runs: dict[tuple, list[dict]] = {c: [] for c in configs}
    for round_ in range(args.rounds):
        shift = round_ % len(configs)
        for workload, ranks, cap in configs[shift:] + configs[:shift]:
            runs[(workload, ranks, cap)].append(
                _run(ranks, "--seconds", str(args.seconds), "--worker", workload, str(cap))
            )
        print(
            f"  round {round_ + 1}: "
            + ", ".join(
                f"{w}x{r}{'' if r == 1 else f'/{c}'} {runs[(w, r, c)][-1]['samples_per_s']:.0f}" for w, r, c in configs
            ),
            flush=True,
        )
    comm = _run(2, "--comm")["allreduce_s_by_bytes"]
    # The fastest of many calls: the cost when both ranks hold a core (on a shared machine the median mostly
    # measures how long the other rank waited to be scheduled).
    small, large = comm["8"]["min"], comm[str(16 << 20)]["min"]
    latency = small / 2  # 2 ranks: t = 2α + n/β
    bandwidth = (16 << 20) / (large - 2 * latency)

    def med(config: tuple, key: str) -> float:
        return statistics.median(r[key] for r in runs[config])

    print("\nThroughput (per-rank batch: W1 128, W2 64); medians over the rounds, speed-up per round (range)")
    print(
        f"{'configuration':32s} {'samples/s':>9s} {'speed-up':>19s} {'step ms':>8s} {'backward ms':>11s} "
        f"{'waited ms':>9s} {'started in backward':>19s} {'reduced in backward':>19s}"
    )
    summary = []
    for workload, ranks, cap in configs:
        one = runs[(workload, 1, 25.0)]
        these = runs[(workload, ranks, cap)]
        ratios = sorted(t["samples_per_s"] / o["samples_per_s"] for t, o in zip(these, one))
        row = {
            "workload": workload,
            "ranks": ranks,
            "bucket_cap_mb": cap,
            "buckets": these[0].get("buckets", 0),
            "samples_per_s": med((workload, ranks, cap), "samples_per_s"),
            "speedup": statistics.median(ratios),
            "speedup_range": [ratios[0], ratios[-1]],
            "step_s": med((workload, ranks, cap), "step_s"),
            "backward_s": med((workload, ranks, cap), "backward_s"),
            "gradient_bytes": these[0]["gradient_bytes"],
        }
        if ranks > 1:
            for key in ("waited_s", "overlapped_fraction", "started_fraction") + tuple(
                f"{system}{kind}_s"
                for system in ("ddp_buckets", "bare_buckets", "gn_all_reduce", "bare_allreduce")
                for kind in ("", "_min")
            ):
                row[key] = med((workload, ranks, cap), key)
        else:
            for key in these[0]:
                if key.startswith("alone_"):
                    row[key] = med((workload, ranks, cap), key)
        summary.append(row)
        speed = f"{row['speedup']:.2f}x ({ratios[0]:.2f}-{ratios[-1]:.2f})"
        extra = ""
        if ranks > 1:
            extra = f"{1e3 * row['waited_s']:9.2f} {row['started_fraction']:19.0%} {row['overlapped_fraction']:19.0%}"
        label = _config_name(workload, ranks, cap) + (f" ({row['buckets']})" if ranks > 1 else "")
        print(
            f"{label:32s} {row['samples_per_s']:9.0f} {speed:>19s} {1e3 * row['step_s']:8.2f} "
            f"{1e3 * row['backward_s']:11.2f} {extra}"
        )

    print(
        f"\nThe gradients' reduction alone, 2 ranks, same bytes (fastest of {REDUCTION_ROUNDS} calls per job, median "
        "over the rounds; in brackets: the median call), each against mpi4py doing the same messages:"
    )
    for row in summary:
        if row["ranks"] == 2:
            bare, gnr = row["bare_allreduce_min_s"], row["gn_all_reduce_min_s"]
            bare_b, ddp = row["bare_buckets_min_s"], row["ddp_buckets_min_s"]
            print(
                f"  {row['workload']} {row['gradient_bytes'] / 1e6:.2f} MB: mpi4py Allreduce {1e3 * bare:.3f} ms "
                f"({1e3 * row['bare_allreduce_s']:.3f}), gn.distributed.all_reduce {1e3 * gnr:.3f} ms "
                f"({1e3 * row['gn_all_reduce_s']:.3f}): {gnr / bare - 1:+.0%};  {row['buckets']} bucket(s): mpi4py "
                f"Iallreduce each + Waitall {1e3 * bare_b:.3f} ms ({1e3 * row['bare_buckets_s']:.3f}), "
                f"DistributedDataParallel {1e3 * ddp:.3f} ms ({1e3 * row['ddp_buckets_s']:.3f}): "
                f"{ddp / bare_b - 1:+.0%}"
            )
            one = next(r for r in summary if r["workload"] == row["workload"] and r["ranks"] == 1)
            label = "one" if row["bucket_cap_mb"] == 25.0 else "small"
            own_gn = one[f"alone_{label}_gn_all_reduce_s"] - one[f"alone_{label}_bare_allreduce_s"]
            own_ddp = one[f"alone_{label}_ddp_buckets_s"] - one[f"alone_{label}_bare_buckets_s"]
            print(
                f"      glassnet's own work per call (measured at 1 rank, below): all_reduce {1e6 * own_gn:.1f} µs = "
                f"{own_gn / bare:+.1%} of the fastest bare Allreduce here; DistributedDataParallel "
                f"{1e6 * own_ddp:.1f} µs = {own_ddp / bare_b:+.0%} of the fastest bare Iallreduce set"
            )
    print(
        "\nThe same calls at 1 rank (no partner: the all-reduce itself is almost free, what remains is glassnet's "
        "own work),\nCPU time per call, median of 15 batches of 50:"
    )
    for row in summary:
        if row["ranks"] == 1:
            for label in ("one", "small"):
                alone = {k[len(f"alone_{label}_") :]: v for k, v in row.items() if k.startswith(f"alone_{label}_")}
                print(
                    f"  {row['workload']} {int(alone['buckets'])} bucket(s): mpi4py Allreduce "
                    f"{1e6 * alone['bare_allreduce_s']:.1f} µs, gn.distributed.all_reduce "
                    f"{1e6 * alone['gn_all_reduce_s']:.1f} µs; mpi4py Iallreduce per bucket "
                    f"{1e6 * alone['bare_buckets_s']:.1f} µs, DistributedDataParallel "
                    f"{1e6 * alone['ddp_buckets_s']:.1f} µs"
                )

    print(
        f"\nAllreduce on this machine, 2 ranks: latency α = {1e6 * latency:.1f} µs, bandwidth β = "
        f"{bandwidth / 1e9:.2f} GB/s (fastest calls: 8 B {1e6 * small:.1f} µs, 16 MiB {1e3 * large:.2f} ms; "
        f"medians {1e6 * comm['8']['median']:.1f} µs and {1e3 * comm[str(16 << 20)]['median']:.2f} ms)"
    )
    print(
        "\nScaling model: step = compute (1 rank, measured) + ring all-reduce of the gradients, nothing hidden;\n"
        "bandwidth = min(link, β), latency = α + the link's (10 Gb/s: 20 µs, 100 Gb/s: 5 µs, assumed)"
    )
    model_rows = []
    for workload in WORKLOADS:
        compute = med((workload, 1, 25.0), "step_s")
        nbytes = runs[(workload, 1, 25.0)][0]["gradient_bytes"]
        for net, (link, link_latency) in NETWORKS.items():
            cells = []
            for n in RANKS_MODELLED:
                ar = ring_allreduce_s(n, nbytes, min(link, bandwidth), latency + link_latency)
                step = compute + ar
                model_rows.append(
                    {
                        "workload": workload,
                        "network": net,
                        "ranks": n,
                        "allreduce_s": ar,
                        "step_s": step,
                        "efficiency": compute / step,
                    }
                )
                cells.append(
                    f"{n} ranks: all-reduce {1e3 * ar:6.2f} ms, step {1e3 * step:6.2f} ms, "
                    f"efficiency {compute / step:4.0%}"
                )
            print(f"  {workload} {net:>8s}: " + ";  ".join(cells))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "runs": {" ".join(map(str, k)): v for k, v in runs.items()},
                    "summary": summary,
                    "allreduce_s_by_bytes": comm,
                    "latency_s": latency,
                    "bandwidth_Bps": bandwidth,
                    "model": model_rows,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
