"""W3's small GEMMs (the LSTM's recurrent products, 32×256 by 256×1024, and the backward's 32×1024 by 1024×256):
the ways available from the package index, side by side in one process, CPU time per product and GFLOP/s.

    python -m bench.small_gemm              # 1 thread, 9 rounds of 200 calls
    python -m bench.small_gemm --threads 2

Candidates: NumPy's OpenBLAS (numpy.libs, scipy-openblas) with each operand layout, the product transposed
(W·hᵀ, the weights as the left operand), SciPy's own OpenBLAS build through scipy.linalg.blas.sgemm (F-order
operands, so that f2py copies nothing), PyTorch's torch.mm (MKL here), the batched product of 64 steps'
rows at once (what a non-recurrent product, such as the input projection, gets: a bound for batching), and, when the
`mkl` wheel is installed (or --mkl PATH), MKL's sgemm and its packed-weight GEMM (the weights packed once, reused by
every step, as oneDNN's RNN does; bench/mkl.py). Rounds are
interleaved (each candidate once per round, the order fixed); the median of the rounds is printed. OPENBLAS_CORETYPE
and OPENBLAS_L2_SIZE are removed from this command's environment, and the OpenBLAS kernels in use are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

_UNFAIR = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def candidates(batch: int = 32, hidden: int = 256, steps: int = 64, mkl=None) -> dict:
    """name -> (call, flops per call) for the forward and backward recurrent products (and MKL's, given `mkl`)."""
    import numpy as np
    import scipy.linalg.blas as blas
    import torch

    rng = np.random.default_rng(0)
    f32 = np.float32
    w = rng.standard_normal((4 * hidden, hidden)).astype(f32)  # W_hh, (4H, H)
    wt = np.ascontiguousarray(w.T)
    h = rng.standard_normal((batch, hidden)).astype(f32)
    ht = np.ascontiguousarray(h.T)
    a, at = np.empty((batch, 4 * hidden), f32), np.empty((4 * hidden, batch), f32)
    da = rng.standard_normal((batch, 4 * hidden)).astype(f32)
    dh = np.empty((batch, hidden), f32)
    many = rng.standard_normal((steps * batch, hidden)).astype(f32)
    many_out = np.empty((steps * batch, 4 * hidden), f32)
    th, tw, twt, tda = (torch.from_numpy(v) for v in (h, w, wt, da))
    ta, tdh = torch.from_numpy(a), torch.from_numpy(dh)
    fwd = 2 * batch * hidden * 4 * hidden
    cases = {
        "forward  NumPy h @ Wᵀ (Wᵀ contiguous)": (lambda: np.matmul(h, wt, out=a), fwd),
        "forward  NumPy h @ W.T (a view)": (lambda: np.matmul(h, w.T, out=a), fwd),
        "forward  NumPy W @ hᵀ (output transposed)": (lambda: np.matmul(w, ht, out=at), fwd),
        "forward  SciPy sgemm (F-order operands)": (lambda: blas.sgemm(1.0, wt.T, h.T, c=a.T, overwrite_c=1), fwd),
        "forward  PyTorch mm(h, W.T)": (lambda: torch.mm(th, tw.T, out=ta), fwd),
        "forward  PyTorch mm(h, Wᵀ contiguous)": (lambda: torch.mm(th, twt, out=ta), fwd),
        "forward  NumPy 64 steps at once, per step": (lambda: np.matmul(many, wt, out=many_out), fwd * steps),
        "backward NumPy da @ W": (lambda: np.matmul(da, w, out=dh), fwd),
        "backward SciPy sgemm (F-order operands)": (lambda: blas.sgemm(1.0, w.T, da.T, c=dh.T, overwrite_c=1), fwd),
        "backward PyTorch mm(da, W)": (lambda: torch.mm(tda, tw, out=tdh), fwd),
    }
    if mkl is not None:
        cases.update(_mkl_candidates(mkl, h, w, da, fwd))
    return cases


def _mkl_candidates(mkl, h, w, da, flops: int) -> dict:
    """MKL's plain sgemm and its packed-weight GEMM (W packed once, as oneDNN's RNN does), checked against NumPy."""
    import numpy as np

    from bench import mkl as mkl_calls

    a, dh = np.empty((h.shape[0], w.shape[0]), np.float32), np.empty_like(h)
    forward = mkl_calls.packed_right(mkl, w, transposed=True, m=h.shape[0])  # Wᵀ: h @ Wᵀ
    backward = mkl_calls.packed_right(mkl, w, transposed=False, m=da.shape[0])  # W: da @ W
    for call, out, expected in (
        (lambda: mkl_calls.packed_product(mkl, h, forward, a), a, h @ w.T),
        (lambda: mkl_calls.packed_product(mkl, da, backward, dh), dh, da @ w),
    ):
        call()
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-3)
    return {
        "forward  MKL cblas_sgemm(h, Wᵀ)": (lambda: mkl_calls.sgemm(mkl, h, w, a, b_transposed=True), flops),
        "forward  MKL packed Wᵀ (sgemm_compute)": (lambda: mkl_calls.packed_product(mkl, h, forward, a), flops),
        "backward MKL packed W (sgemm_compute)": (lambda: mkl_calls.packed_product(mkl, da, backward, dh), flops),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--mkl", help="libmkl_rt to load (default: the `mkl` wheel's, in this environment's lib/; "
                        '"" for none)')
    args = parser.parse_args(argv)
    if any(v in os.environ for v in _UNFAIR) or os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        env = {k: v for k, v in os.environ.items() if k not in _UNFAIR}
        env.update(OPENBLAS_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
        sys.exit(subprocess.call([sys.executable, "-m", "bench.small_gemm", *(argv or sys.argv[1:])], env=env))
    import torch

    from bench.seq_kernels import blas_report

    torch.set_num_threads(args.threads)
    from bench import mkl as mkl_calls

    mkl = mkl_calls.load(args.mkl)
    cases = candidates(mkl=mkl)
    cpu: dict = {name: [] for name in cases}
    for call, _ in cases.values():
        call()
    for _round in range(args.rounds):
        for name, (call, _) in cases.items():
            n = max(1, args.calls // 64) if "64 steps" in name else args.calls
            start = time.process_time()
            for _call in range(n):
                call()
            per_step = 64 if "64 steps" in name else 1
            cpu[name].append((time.process_time() - start) / n / per_step)
    print(f"{args.threads} thread(s), {args.rounds} rounds, load average {os.getloadavg()[0]:.1f}")
    print(blas_report())
    if mkl is None:
        print("  (no MKL rows: `pip install mkl`, or --mkl PATH to a libmkl_rt)")
    fwd = cases["forward  NumPy h @ Wᵀ (Wᵀ contiguous)"][1]
    for name, v in cpu.items():
        t = statistics.median(v)
        print(f"  {name:<44} {t * 1e6:8.1f} µs CPU  {fwd / t / 1e9:6.1f} GFLOP/s")


if __name__ == "__main__":
    main()
