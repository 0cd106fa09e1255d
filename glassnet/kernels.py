"""Compiled kernels that spread non-GEMM work over every core, each beside the NumPy reference it must equal.

This is the one place where they are selected. A kernel is a numba `parallel=True` function written as the loop
form of its formula; it runs only when `GLASSNET_KERNELS=numba` is set, numba is installed (the `accel` extra:
`pip install 'glassnet[accel]'`) and the arrays are NumPy arrays on the CPU. Otherwise `kernel(name)` returns None
and the op runs its NumPy reference, so glassnet stays pure NumPy and gives the same bits either way
(tests/test_kernels.py asserts each pair equal). Numba compiles a kernel on its first call (cached on disk).

Opt-in, not the default, by measurement (README, "Compiled kernels"): at glassnet's default of one thread they make
a LeNet-5 training step (W2) 1.09x faster in CPU time, but importing numba adds ~120 MiB of peak RSS (W2 then
peaks above PyTorch) and seconds before the first step of a fresh process; at 2 threads on the loaded 2-core
machine they lost to NumPy several times over (a parallel region waits for its slowest thread, and a busy core
stalls it). Switch the default once a quiet many-core machine shows a gain that pays for that.

Kernels:
    im2col2d   the copy inside ops.conv.im2col: cols[c, u, v, n, i, j] = xpad[n, c, i·s + u·d, j·s + v·d]
               (only with 2 threads or more: on one, NumPy's copy is as fast or faster)
    col2im2d   the slice-adds inside ops.conv.col2im: buf[n, c, i·s + u·d, j·s + v·d] += cols[n, c, u, v, i, j],
               kernel offsets in row-major order (the reference's order, hence the same sums)
    window_max2x2   ops.pooling.window_max for 2×2 windows, stride 2: the max of each window, one pass

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
    """The compiled kernel `name` if it may run on `arrays` (NumPy float32/float64/bool arrays, numba present and
    enabled), else None."""
    table = _kernels if _kernels is not None else _load()
    if not table:
        return None
    for a in arrays:
        if type(a) is not numpy.ndarray:  # a CuPy array (or anything else) keeps the NumPy-style reference path
            return None
        if a.dtype.char not in "fd?":  # float32, float64 or a mask; numba has no float16: the reference
            return None
    if name in PARALLEL_ONLY and _numba_threads() < 2:
        return None
    return table.get(name)


PARALLEL_ONLY = {"im2col2d"}  # no faster than NumPy on one thread (README, "Compiled kernels"): used only on more


def _numba_threads() -> int:
    import numba

    return numba.get_num_threads()


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

    return {"im2col2d": im2col2d, "col2im2d": col2im2d, **_build_pooling()}


# --- Pooling kernel (max_pool2d forward, 2×2 windows, stride 2): float32/float64 ---------------------------------
#
# Pooling works plane by plane, so the kernel sees the arrays as their (image, channel) planes in memory order,
# (P, H, W) with P = N·C, C-contiguous whether the memory is (N, C, …) or channel-major (C, N, …) as the conv GEMM
# writes it; the planes are shared out over the threads. It folds each window in the reference's order with the
# reference's np.maximum: the same bits, and the output in the reference's memory order (tests/test_kernels.py).
# Only the common 2×2, stride-2 case has a kernel: written with the four offsets spelled out, the compiler
# vectorises it (2.3-3.3x NumPy's four passes at one thread); the general loop (runtime offsets and strides) was
# 1.2-4x slower than NumPy at one thread, and so were kernels for the arg-max and the backward scatter
# (README, "Compiled kernels"): those stay NumPy.


def _planes(a, cmajor: bool):
    """a (N, C, H, W) as its planes (P, H, W) in (C, N) order if `cmajor` else (N, C); a view when a's memory is in
    that order (the usual case), else a contiguous copy."""
    b = a.swapaxes(0, 1) if cmajor else a
    return numpy.ascontiguousarray(b).reshape((-1,) + b.shape[2:])


def _cmajor(a) -> bool:
    """Whether a (N, C, …) is stored channel-major (as glassnet.ops.conv.channel_major says)."""
    return a.shape[0] > 1 and a.shape[1] > 1 and a.strides[1] > a.strides[0]


def _unplanes(planes, n: int, c: int, cmajor: bool):
    """The (N, C, H, W) view of planes (P, H, W) laid out as `_planes` made them."""
    if cmajor:
        return planes.reshape((c, n) + planes.shape[1:]).swapaxes(0, 1)
    return planes.reshape((n, c) + planes.shape[1:])


def _build_pooling() -> dict:
    from numba import njit, prange

    @njit(parallel=True, cache=True)
    def window_max2x2(xp, y):  # pragma: no cover - compiled
        """y[p, i, j] = max(xp[p, 2i, 2j], xp[p, 2i, 2j + 1], xp[p, 2i + 1, 2j], xp[p, 2i + 1, 2j + 1]), folded in
        that order with np.maximum's rule, m ← m if m > x or m is NaN, else x (a NaN wins; of equal values the
        later is kept, so −0 and +0 come out as NumPy's)."""
        for p in prange(y.shape[0]):  # one plane per task
            for i in range(y.shape[1]):
                top, bottom, out = xp[p, 2 * i], xp[p, 2 * i + 1], y[p, i]
                for j in range(y.shape[2]):
                    m, x = top[2 * j], top[2 * j + 1]
                    m = m if (m > x) | (m != m) else x
                    x = bottom[2 * j]
                    m = m if (m > x) | (m != m) else x
                    x = bottom[2 * j + 1]
                    out[j] = m if (m > x) | (m != m) else x
        return y

    def window_max(xp, out_size):
        """ops.pooling.window_max for 2×2 windows, stride 2: y (N, C, *out_size) in xp's memory order."""
        cm = _cmajor(xp)
        planes = _planes(xp, cm)
        y = numpy.empty(planes.shape[:1] + tuple(out_size), xp.dtype)
        window_max2x2(planes, y)
        return _unplanes(y, xp.shape[0], xp.shape[1], cm)

    return {"window_max2x2": window_max}


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
