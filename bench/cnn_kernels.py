"""The conv/pool kernels of glassnet.kernels against their NumPy references, on W2's (LeNet-5, batch 64) shapes.

    python -m bench.cnn_kernels                  # each kernel and the W2 step, 1 and 2 threads, 7 rounds
    python -m bench.cnn_kernels --threads 1,2,4 --rounds 11
    python -m bench.cnn_kernels --quick          # a smoke test

For each thread count (`gn.set_num_threads`: BLAS's and numba's pool), each case runs its NumPy reference and its
kernel alternately in one process, the order swapped every round, for a window of `--window` seconds each; it
prints the median over the rounds of the CPU time and the wall time per call of each, and the median of the
per-round ratios reference/kernel (above 1: the kernel is faster). CPU time counts every thread's work, so a
kernel on two threads that is no faster in wall time shows about twice the CPU. The load average is printed with
each table: on a shared machine, wall times at 2 threads say more about the other processes than about the code.
Needs numba (the `accel` extra).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def cases():
    """{name: function of no arguments} for every kernel call on W2's shapes, and the whole W2 step (the pool's
    arg-max and backward scatter have no kernel: they are NumPy in both columns of the step)."""
    from bench.workloads import glassnet_step
    from glassnet.ops import conv, pooling

    rng = np.random.default_rng(0)

    def channel_major(shape):  # the layout the convolution GEMM writes, which the next layers see
        return rng.standard_normal((shape[1], shape[0]) + shape[2:]).astype(np.float32).swapaxes(0, 1)

    x1 = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    x2 = np.maximum(channel_major((64, 6, 14, 14)), 0)
    cols2 = channel_major((64, 6, 5, 5, 10, 10))
    p1, p2 = np.maximum(channel_major((64, 6, 28, 28)), 0), np.maximum(channel_major((64, 16, 10, 10)), 0)
    two = ((2, 2), (2, 2), (1, 1))
    no_pad = ((0, 0), (0, 0))

    return {
        "im2col conv1 1x28x28 k5 pad2": lambda: conv.im2col(x1, (5, 5), (1, 1), ((2, 2), (2, 2)), (1, 1), (28, 28)),
        "im2col conv2 6x14x14 k5": lambda: conv.im2col(x2, (5, 5), (1, 1), no_pad, (1, 1), (10, 10)),
        "col2im conv2 6x14x14 k5": lambda: conv.col2im(cols2, (14, 14), (5, 5), (1, 1), no_pad, (1, 1)),
        "max pool1 6x28x28": lambda: pooling.window_max(p1, (14, 14), *two),
        "max pool2 16x10x10": lambda: pooling.window_max(p2, (5, 5), *two),
        "W2 step (kernels on or off)": glassnet_step("W2"),
    }


def _window(fn, seconds: float) -> tuple[float, float]:
    """CPU and wall seconds per call of `fn` over a window of at least `seconds` (at least 3 calls)."""
    n, c0, w0 = 0, time.process_time(), time.perf_counter()
    while n < 3 or time.perf_counter() - w0 < seconds:
        fn()
        n += 1
    return (time.process_time() - c0) / n, (time.perf_counter() - w0) / n


def compare(fn, table, rounds: int, seconds: float) -> dict:
    """Reference and kernel alternately; per-call medians and the median per-round ratio (reference / kernel)."""
    from glassnet import kernels

    runs = {"numpy": [], "kernel": []}
    for r in range(rounds + 1):  # round 0 warms both up (numba compiles, or loads its cache)
        for name in (("numpy", "kernel") if r % 2 else ("kernel", "numpy")):
            kernels.use(table if name == "kernel" else {})
            t = _window(fn, seconds)
            if r:
                runs[name].append(t)
    kernels.use({})
    med = {k: [statistics.median(t[i] for t in v) for i in (0, 1)] for k, v in runs.items()}
    ratio = [statistics.median(a[i] / b[i] for a, b in zip(runs["numpy"], runs["kernel"])) for i in (0, 1)]
    return {"numpy": med["numpy"], "kernel": med["kernel"], "ratio": ratio}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--window", type=float, default=0.3, help="seconds per window (default 0.3)")
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    parser.add_argument("--quick", action="store_true", help="one short round: a smoke test")
    args = parser.parse_args(argv)
    rounds, seconds = (1, 0.02) if args.quick else (args.rounds, args.window)

    import glassnet as gn
    from glassnet import kernels

    table = kernels.compiled_table()
    previous = kernels.use({})
    before = gn.get_num_threads()
    results = {}
    try:
        for threads in (int(t) for t in args.threads.split(",")):
            gn.set_num_threads(threads)
            print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, {threads} thread(s), load average "
                  f"{os.getloadavg()[0]:.1f}; per call, median of {rounds} rounds: CPU ms (wall ms)", flush=True)
            print(f"{'case':<30}{'NumPy':>18}{'kernel':>18}{'ratio CPU':>11}{'ratio wall':>11}")
            for name, fn in cases().items():
                if args.only not in name:
                    continue
                r = results[threads, name] = compare(fn, table, rounds, seconds)
                (nc, nw), (kc, kw), (rc, rw) = r["numpy"], r["kernel"], r["ratio"]
                print(f"{name:<30}{nc * 1e3:>8.3f} ({nw * 1e3:>6.3f}){kc * 1e3:>8.3f} ({kw * 1e3:>6.3f})"
                      f"{rc:>10.2f}x{rw:>10.2f}x", flush=True)
            print(f"load average after: {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        gn.set_num_threads(before)
        kernels.use(previous)
    return results


if __name__ == "__main__":
    main()
