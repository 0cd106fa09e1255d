"""exp and tanh on float32, the LSTM gates' and GELU's functions: NumPy against the libraries on the package index
that could replace it, and PyTorch, side by side in one process; nanoseconds per element, CPU time (all threads)
and wall time.

    python -m bench.transcendental               # 1 thread, 9 rounds
    python -m bench.transcendental --threads 2   # numexpr and PyTorch on 2 threads (NumPy has one)

Sizes: W3's gate block (32, 1024), one LSTM step, and W4's GELU input (1024, 512). Libraries: NumPy (its own SIMD
loops), numexpr when installed (`pip install numexpr`: its own threads, and VML only in builds linked to MKL),
MKL's VML when the `mkl` wheel is installed (or --mkl PATH; bench/mkl.py; one thread), and PyTorch (torch.exp,
torch.tanh with out=). Each result is checked against NumPy's before it is timed. Rounds are interleaved (each
candidate once per round) and the median is printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import time

SIZES = {"W3 gates (32, 1024)": (32, 1024), "W4 GELU (1024, 512)": (1024, 512)}


def candidates(shape: tuple, threads: int, mkl=None) -> dict:
    """name -> call for exp and tanh on one float32 array of `shape`, each writing into a preallocated output."""
    import numpy as np
    import torch

    x = np.random.default_rng(0).uniform(-4, 4, size=shape).astype(np.float32)
    out = np.empty_like(x)
    tx, tout = torch.from_numpy(x), torch.from_numpy(out)
    cases = {
        "exp  NumPy": lambda: np.exp(x, out=out),
        "exp  PyTorch": lambda: torch.exp(tx, out=tout),
        "tanh NumPy": lambda: np.tanh(x, out=out),
        "tanh PyTorch": lambda: torch.tanh(tx, out=tout),
    }
    try:
        import numexpr
    except ImportError:
        numexpr = None
    if numexpr is not None:
        numexpr.set_num_threads(threads)
        names = {"x": x}  # numexpr looks names up in the caller's frame otherwise, which a lambda does not have
        cases["exp  numexpr"] = lambda: numexpr.evaluate("exp(x)", local_dict=names, out=out)
        cases["tanh numexpr"] = lambda: numexpr.evaluate("tanh(x)", local_dict=names, out=out)
    if mkl is not None:
        from bench.mkl import VML_HA

        cases["exp  MKL VML"] = lambda: mkl.vmsExp(x.size, x.ctypes.data, out.ctypes.data, VML_HA)
        cases["tanh MKL VML"] = lambda: mkl.vmsTanh(x.size, x.ctypes.data, out.ctypes.data, VML_HA)
    for name, call in cases.items():
        call()
        expected = np.exp(x) if name.startswith("exp") else np.tanh(x)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6, err_msg=name)
    return cases


def measure(cases: dict, elements: int, rounds: int, seconds: float) -> dict:
    """name -> (CPU, wall) nanoseconds per element, medians over `rounds` interleaved rounds of about `seconds`."""
    cpu: dict = {name: [] for name in cases}
    wall: dict = {name: [] for name in cases}
    for _round in range(rounds):
        for name, call in cases.items():
            calls, start, start_wall = 0, time.process_time(), time.perf_counter()
            while calls == 0 or time.perf_counter() - start_wall < seconds:
                call()
                calls += 1
            cpu[name].append((time.process_time() - start) / calls / elements * 1e9)
            wall[name].append((time.perf_counter() - start_wall) / calls / elements * 1e9)
    return {name: (statistics.median(cpu[name]), statistics.median(wall[name])) for name in cases}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=0.05, help="time per candidate per round")
    parser.add_argument("--mkl", help="libmkl_rt to load (default: the `mkl` wheel's, in this environment's lib/; "
                        '"" for none)')
    args = parser.parse_args(argv)
    import torch

    from bench import mkl as mkl_calls

    torch.set_num_threads(args.threads)
    mkl = mkl_calls.load(args.mkl)
    print(f"{args.threads} thread(s), {args.rounds} rounds, load average {os.getloadavg()[0]:.1f}; "
          "ns per element, CPU (all threads) and wall, median", flush=True)
    if mkl is None:
        print("  (no MKL VML rows: `pip install mkl`, or --mkl PATH to a libmkl_rt)")
    if importlib.util.find_spec("numexpr") is None:
        print("  (no numexpr rows: `pip install numexpr`)")
    results = {}
    for label, shape in SIZES.items():
        cases = candidates(shape, args.threads, mkl)
        results[label] = measure(cases, shape[0] * shape[1], args.rounds, args.seconds)
        print(label)
        for name, (cpu, wall) in results[label].items():
            numpy_cpu, numpy_wall = results[label][name.split()[0].ljust(4) + " NumPy"]
            print(f"  {name:<16} CPU {cpu:7.3f} ns/element (NumPy/this {numpy_cpu / cpu:5.2f}x)   "
                  f"wall {wall:7.3f} (NumPy/this {numpy_wall / wall:5.2f}x)")
    return results


if __name__ == "__main__":
    main()
