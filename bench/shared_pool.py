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
The cell is glassnet's own kernel (glassnet.kernels `lstm_cell_forward`), built serial or with its `prange` loop on
numba's pool.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

STEPS, BATCH, HIDDEN = 64, 32, 256


def worker(mode: str, threads: int, loops: int, mkl_path: str | None) -> dict:
    """Time the loop in this process, whose thread libraries `_run` chose through the environment."""
    import time

    import numpy as np

    cell = _cell(parallel=mode == "shared")
    rng = np.random.default_rng(0)
    gi = rng.standard_normal((STEPS, BATCH, 4, HIDDEN)).astype(np.float32)
    w_t = np.ascontiguousarray((rng.standard_normal((4 * HIDDEN, HIDDEN)) * 0.05).astype(np.float32).T)
    if mode == "shared":
        from bench import mkl as mkl_lib

        mkl = mkl_lib.load(mkl_path)

        def product(h, out):
            mkl_lib.sgemm(mkl, h, w_t, out)
    else:
        def product(h, out):
            np.matmul(h, w_t, out=out)

    def loop():
        h = c = np.zeros((BATCH, HIDDEN), np.float32)
        gates = np.empty((BATCH, 4, HIDDEN), np.float32)
        hs, cs, tanh_cs = (np.empty((STEPS, BATCH, HIDDEN), np.float32) for _ in range(3))
        for t in range(STEPS):
            product(h, gates.reshape(BATCH, 4 * HIDDEN))
            cell(gates, gi[t], c, cs[t], tanh_cs[t], hs[t])
            h, c = hs[t], cs[t]
        return hs

    loop()
    times = []
    for _ in range(loops):
        start = time.perf_counter()
        loop()
        times.append(time.perf_counter() - start)
    return {"ms": sorted(times)[len(times) // 2] * 1e3, "h_sum": float(loop()[-1].sum())}


def _cell(parallel: bool):
    """glassnet's LSTM cell kernel, serial (as glassnet runs it) or with its `prange` loop on numba's pool. The
    parallel build is cached in a directory of its own (`_run` sets NUMBA_CACHE_DIR): numba keys its disk cache by
    function and signature, not by `parallel`, and would otherwise replace glassnet's serial build on disk."""
    from glassnet import kernels

    kernels.PARALLEL = parallel
    return kernels._build_sequence()["lstm_cell_forward"]


def _run(mode: str, threads: int, loops: int, mkl_path: str | None, cache_dir: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env.update(OMP_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads), NUMBA_THREADING_LAYER="omp",
               MKL_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads if mode == "openblas" else 1))
    if mode == "shared":
        env["MKL_THREADING_LAYER"] = "GNU"  # MKL's threads on libgomp, the pool numba's OpenMP layer uses
        env["NUMBA_CACHE_DIR"] = cache_dir
    args = [sys.executable, "-m", "bench.shared_pool", "--worker", mode, str(threads), str(loops), mkl_path or ""]
    out = subprocess.run(args, capture_output=True, text=True, check=True, env=env,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    from bench import mkl as mkl_lib

    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loops", type=int, default=20, help="64-step loops timed in each process")
    parser.add_argument("--mkl", help="libmkl_rt to load (default: the `mkl` wheel's in this environment; '': none)")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        mode, threads, loops, path = args.worker
        print(json.dumps(worker(mode, int(threads), int(loops), path or None)))
        return {}
    mkl_path = mkl_lib.find(args.mkl)
    modes = ["openblas"] + (["shared"] if mkl_path else [])
    print(f"W3's recurrent forward loop ({STEPS} steps, {BATCH}x{HIDDEN} by {HIDDEN}x{4 * HIDDEN}), "
          f"{args.threads} thread(s), ms per loop, median of {args.loops}")
    if not mkl_path:
        print("  (no `shared` row: it needs MKL; `pip install mkl`, or --mkl PATH to a libmkl_rt)")
    results = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as cache_dir:
        for r in range(args.rounds):
            for mode in modes[r % len(modes):] + modes[: r % len(modes)]:
                results[mode].append(_run(mode, args.threads, args.loops, mkl_path, cache_dir))
    for mode in modes:
        print(f"  {mode:<9}" + "  ".join(f"{x['ms']:7.2f}" for x in results[mode]))
    sums = [x["h_sum"] for runs in results.values() for x in runs]
    if max(sums) - min(sums) > 1e-3 * max(1.0, abs(sums[0])):  # the same loop: both ways must give its h
        raise AssertionError(f"the arrangements disagree: last h sums {sums}")
    return results


if __name__ == "__main__":
    main()
