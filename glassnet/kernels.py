"""Compiled kernels that spread non-GEMM work over every core, each beside the NumPy reference it must equal.

This is the one place where they are selected. A kernel is a numba `parallel=True` function written as the loop
form of its formula; it runs only when `GLASSNET_KERNELS=numba` is set, numba is installed (the `accel` extra:
`pip install 'glassnet[accel]'`) and the arrays are NumPy arrays on the CPU. Otherwise `kernel(name)` returns None
and the op runs its NumPy reference, so glassnet stays pure NumPy and gives the same bits either way
(tests/test_kernels.py asserts each pair equal). Numba compiles a kernel on its first call (cached on disk).

Opt-in, not the default, by measurement: on the 2-core machine these were written on (load average 8 from other
processes) the kernels at 1 thread matched NumPy on im2col and beat it up to 1.8x on col2im, but at 2 threads they
lost to NumPy several times over (a parallel region waits for its slowest thread, and a busy core stalls it). The
README's performance section has the figures; switch the default once a quiet many-core machine shows a gain.

Kernels:
    im2col2d   the copy inside ops.conv.im2col: cols[c, u, v, n, i, j] = xpad[n, c, i·s + u·d, j·s + v·d]
    col2im2d   the slice-adds inside ops.conv.col2im: buf[n, c, i·s + u·d, j·s + v·d] += cols[n, c, u, v, i, j],
               kernel offsets in row-major order (the reference's order, hence the same sums)

Threads: `gn.set_num_threads(n)` sets numba's pool with BLAS's (up to NUMBA_NUM_THREADS), and the kernels start
with glassnet's current count; bench.run sets NUMBA_NUM_THREADS with BLAS's.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy

_kernels: dict[str, Callable] | None = None


def enabled() -> bool:
    """Whether compiled kernels are used (GLASSNET_KERNELS=numba)."""
    return bool(_load())


def kernel(name: str, *arrays) -> Callable | None:
    """The compiled kernel `name` if it may run on `arrays` (NumPy arrays, numba present and enabled), else None."""
    table = _kernels if _kernels is not None else _load()
    if not table:
        return None
    for a in arrays:
        if type(a) is not numpy.ndarray:  # a CuPy array (or anything else) keeps the NumPy-style reference path
            return None
    return table.get(name)


def _load() -> dict | None:
    global _kernels
    if _kernels is not None:
        return _kernels
    choice = os.environ.get("GLASSNET_KERNELS", "numpy").lower()
    if choice not in ("numpy", "numba"):
        raise ValueError(f"GLASSNET_KERNELS={choice!r}: expected 'numpy' (the default) or 'numba'")
    if choice == "numpy":
        _kernels = {}
        return _kernels
    try:
        import numba  # noqa: F401
    except ImportError:
        raise ImportError("GLASSNET_KERNELS=numba needs numba: pip install 'glassnet[accel]'") from None
    _kernels = compiled_table()
    from glassnet.threads import get_num_threads

    numba.set_num_threads(min(get_num_threads(), numba.config.NUMBA_NUM_THREADS))  # glassnet's thread policy
    return _kernels


def _build() -> dict:
    from numba import njit, prange

    @njit(parallel=True, cache=True)
    def im2col2d(xp, kh, kw, sh, sw, dh, dw, ho, wo):  # pragma: no cover - compiled
        n_batch, channels = xp.shape[0], xp.shape[1]
        cols = numpy.empty((channels, kh, kw, n_batch, ho, wo), xp.dtype)
        for row in prange(channels * kh * kw):  # one receptive-field row (c, u, v) per task
            c, uv = row // (kh * kw), row % (kh * kw)
            u, v = uv // kw, uv % kw
            for n in range(n_batch):
                for i in range(ho):
                    for j in range(wo):
                        cols[c, u, v, n, i, j] = xp[n, c, i * sh + u * dh, j * sw + v * dw]
        return cols

    @njit(parallel=True, cache=True)
    def col2im2d(cols, buf, sh, sw, dh, dw):  # pragma: no cover - compiled
        n_batch, channels, kh, kw, ho, wo = cols.shape
        for c in prange(channels):  # channels are independent: no two tasks write one pixel
            for u in range(kh):
                for v in range(kw):
                    for n in range(n_batch):
                        for i in range(ho):
                            for j in range(wo):
                                buf[n, c, i * sh + u * dh, j * sw + v * dw] += cols[n, c, u, v, i, j]
        return buf

    return {"im2col2d": im2col2d, "col2im2d": col2im2d}


def use(table: dict | None) -> dict | None:
    """Select the kernels `table` (None: read GLASSNET_KERNELS again; {}: NumPy only); returns the previous one.

    For tests and benchmarks that compare both paths in one process: `use(compiled_table())` / `use({})`.
    """
    global _kernels
    previous, _kernels = _kernels, table
    return previous


def compiled_table() -> dict:
    """Every compiled kernel by name (numba required), whatever GLASSNET_KERNELS says."""
    global _compiled
    if _compiled is None:
        _compiled = _build()
    return _compiled


_compiled: dict | None = None
