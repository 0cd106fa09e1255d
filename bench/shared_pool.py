"""One thread pool for GEMMs and the LSTM cell, or two: W3's recurrent forward loop at N threads, two ways.

    python -m bench.shared_pool                  # 2 threads, 3 rounds; MKL rows if the `mkl` wheel is installed
    python -m bench.shared_pool --threads 2 --rounds 5 --mkl /path/to/libmkl_rt.so.3

The loop is W3's (64 steps, batch 32, hidden 256): each step one product h @ W_hhᵀ (32×256 by 256×1024) and one
LSTM cell (the gates σ/tanh, c, h) as a numba loop. Two arrangements, each in its own process (the thread
libraries are chosen when they load), taking turns round by round:

- `openblas`: NumPy's matmul on OpenBLAS's own pthread pool (N threads), the cell on one thread: glassnet's
  arrangement with the opt-in kernels (glassnet.kernels.PARALLEL is off).
- `shared`: MKL's cblas_sgemm with its GNU OpenMP layer (N threads) and the cell as a numba `parallel=True` loop
  on numba's OpenMP layer: both on libgomp's one pool, PyTorch's arrangement (its GEMMs and its kernels share one
  OpenMP pool). MKL comes from the `mkl` wheel through ctypes (bench/mkl.py); without it this row is left out.

The question it answers: would one shared pool let the non-GEMM work use the second core without the two pools
taking the cores from each other? Milliseconds per 64-step loop (median of 20 loops), each round's figure printed.
The cell here is this benchmark's own, not glassnet's kernel: the same formulas, with the rational tanh that the
kernels use.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

STEPS, BATCH, HIDDEN = 64, 32, 256

_WORKER = r"""
import json, os, sys, time
mode, threads, loops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
import numpy as np
from numba import njit, prange
from bench.shared_pool import BATCH, HIDDEN, STEPS, cell_source
namespace = {"np": np, "njit": njit, "prange": prange}
exec(cell_source(parallel=mode == "shared"), namespace)
cell = namespace["cell"]
rng = np.random.default_rng(0)
gi = rng.standard_normal((STEPS, BATCH, 4, HIDDEN)).astype(np.float32)
w_t = np.ascontiguousarray((rng.standard_normal((4 * HIDDEN, HIDDEN)) * 0.05).astype(np.float32).T)
if mode == "shared":
    from bench import mkl as mkl_lib
    mkl = mkl_lib.load(sys.argv[4])
    def product(h, out):
        mkl_lib.sgemm(mkl, h, w_t, out)
else:
    def product(h, out):
        np.matmul(h, w_t, out=out)
def loop():
    h = np.zeros((BATCH, HIDDEN), np.float32); c = np.zeros((BATCH, HIDDEN), np.float32)
    gates = np.empty((BATCH, 4, HIDDEN), np.float32)
    hs = np.empty((STEPS, BATCH, HIDDEN), np.float32); cs = np.empty_like(hs)
    for t in range(STEPS):
        product(h, gates.reshape(BATCH, 4 * HIDDEN))
        cell(gates, gi[t], c, cs[t], hs[t])
        h, c = hs[t], cs[t]
    return hs
loop()
times = []
for _ in range(loops):
    start = time.perf_counter(); loop(); times.append(time.perf_counter() - start)
print(json.dumps({"ms": sorted(times)[len(times) // 2] * 1e3, "h_sum": float(loop()[-1].sum())}))
"""


def cell_source(parallel: bool) -> str:
    """The numba source of one LSTM cell: a (N, 4, H) holds h W_hhᵀ on entry and the activated gates after;
    i, f, o = σ(a + gi) = ½ tanh(½(a + gi)) + ½, g = tanh(a + gi), c = f c_prev + i g, h = o tanh c."""
    return f'''
half = np.float32(0.5)
clamp = np.float32(7.90531110763549805)
A = [np.float32(v) for v in (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11,
                             5.12229709037114e-08, 1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03)]
B = [np.float32(v) for v in (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03)]
a13, a11, a9, a7, a5, a3, a1 = A
b6, b4, b2, b0 = B

@njit(inline="always", error_model="numpy")
def tanh32(x):
    x = min(max(x, -clamp), clamp)
    x2 = x * x
    p = ((((((a13 * x2 + a11) * x2 + a9) * x2 + a7) * x2 + a5) * x2 + a3) * x2 + a1) * x
    return p / (((b6 * x2 + b4) * x2 + b2) * x2 + b0)

@njit(parallel={parallel}, error_model="numpy")
def cell(a, gi, c_prev, c, h):
    for n in prange(a.shape[0]):
        an, gn = a[n], gi[n]
        for k in (0, 1, 3):
            ak, gk = an[k], gn[k]
            for j in range(ak.shape[0]):
                ak[j] = half * tanh32(half * (ak[j] + gk[j])) + half
        ag, gg = an[2], gn[2]
        for j in range(ag.shape[0]):
            ag[j] = tanh32(ag[j] + gg[j])
        for j in range(ag.shape[0]):
            c[n, j] = an[1, j] * c_prev[n, j] + an[0, j] * an[2, j]
        for j in range(ag.shape[0]):
            h[n, j] = an[3, j] * tanh32(c[n, j])
'''


def _run(mode: str, threads: int, loops: int, mkl_path: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env.update(OMP_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads), NUMBA_THREADING_LAYER="omp",
               MKL_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads if mode == "openblas" else 1))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    if mode == "shared":
        env["MKL_THREADING_LAYER"] = "GNU"  # MKL's threads on libgomp, the pool numba's OpenMP layer uses
    args = [sys.executable, "-c", _WORKER, mode, str(threads), str(loops)] + ([mkl_path] if mkl_path else [])
    out = subprocess.run(args, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    from bench import mkl as mkl_lib

    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loops", type=int, default=20, help="64-step loops timed in each process")
    parser.add_argument("--mkl", help="libmkl_rt to load (default: the `mkl` wheel's in this environment; '': none)")
    args = parser.parse_args(argv)
    mkl_path = mkl_lib.find(args.mkl)
    modes = ["openblas"] + (["shared"] if mkl_path else [])
    print(f"W3's recurrent forward loop ({STEPS} steps, {BATCH}x{HIDDEN} by {HIDDEN}x{4 * HIDDEN}), "
          f"{args.threads} thread(s), ms per loop, median of {args.loops}")
    if not mkl_path:
        print("  (no `shared` row: it needs MKL; `pip install mkl`, or --mkl PATH to a libmkl_rt)")
    results = {mode: [] for mode in modes}
    for r in range(args.rounds):
        for mode in modes[r % len(modes):] + modes[: r % len(modes)]:
            results[mode].append(_run(mode, args.threads, args.loops, mkl_path))
    for mode in modes:
        print(f"  {mode:<9}" + "  ".join(f"{x['ms']:7.2f}" for x in results[mode]))
    sums = [x["h_sum"] for runs in results.values() for x in runs]
    if max(sums) - min(sums) > 1e-3 * max(1.0, abs(sums[0])):  # the same loop: both ways must give its h
        raise AssertionError(f"the arrangements disagree: last h sums {sums}")
    return results


if __name__ == "__main__":
    main()
