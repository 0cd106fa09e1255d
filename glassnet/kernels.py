"""Compiled kernels: one pass for work NumPy does in several, each beside the NumPy reference it must equal.

This is the one place where they are selected. A kernel is a numba function written as the loop form of its
formula; it runs only when `GLASSNET_KERNELS=numba` is set, numba is installed (the `accel` extra:
`pip install 'glassnet[accel]'`) and the arrays are NumPy arrays on the CPU. Otherwise `kernel(name)` returns None
and the op runs its NumPy reference, so glassnet stays pure NumPy and gives the same bits either way
(tests/test_kernels.py asserts each pair equal). Numba compiles a kernel on its first call (cached on disk).

The loops are written with `prange` but run on one thread (`PARALLEL` below, by measurement): on the project's
2-core machine numba's pool and OpenBLAS's waiting threads took the cores from each other, so the kernels' gain is
fusion, with BLAS on every core. Opt-in, not the default, by measurement (README, "Compiled kernels"): importing
numba adds ~120 MiB of peak RSS and seconds before the first step of a fresh process (11–12 s with a cold cache).

Kernels:
    im2col2d   the copy inside ops.conv.im2col: cols[c, u, v, n, i, j] = xpad[n, c, i·s + u·d, j·s + v·d]
               (only when PARALLEL is on and with 2 threads or more: on one, NumPy's copy is as fast or faster)
    col2im2d   the slice-adds inside ops.conv.col2im: buf[n, c, i·s + u·d, j·s + v·d] += cols[n, c, u, v, i, j],
               kernel offsets in row-major order (the reference's order, hence the same sums)
    window_max2x2   ops.pooling.window_max for 2×2 windows, stride 2: the max of each window, one pass
    lstm_cell_forward, lstm_cell_backward     one LSTM step's gate math around its GEMM (ops.recurrent.LSTMSequence)
    gelu_tanh_forward, gelu_tanh_backward     the tanh GELU (ops.activation.Gelu)
    layer_norm_forward, layer_norm_backward   LayerNorm over the last axes (ops.normalization.LayerNorm)
    softmax_backward                          y ⊙ (dL/dy − Σ dL/dy ⊙ y) along the last axis (ops.activation.Softmax)
               float32 only; see the block "Sequence-model kernels" below for what equals its reference to the bit

Threads: `gn.set_num_threads(n)` sets numba's pool with BLAS's (up to NUMBA_NUM_THREADS), and the kernels start
with glassnet's current count; bench.run sets NUMBA_NUM_THREADS with BLAS's.
"""

from __future__ import annotations

import math
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
    if name in PARALLEL_ONLY and (not PARALLEL or _numba_threads() < 2):
        return None
    return table.get(name)


PARALLEL = False
"""Whether the kernels run their `prange` loops on numba's thread pool. Off, by measurement (README, "Compiled
kernels" and "Sequence-model kernels"): with 2 BLAS threads on 2 cores, numba's OpenMP pool and OpenBLAS's waiting
threads take the cores from each other (a parallel region waits for its slowest thread): W3 1127 ms a step against
52 ms with the loops on one thread, W2 at 2 threads 0.26x PyTorch, 0.83x with serial loops. The gain the kernels
keep is fusion (one pass instead of several), on one core, with BLAS on all of them. A switch in the source
(numba's disk cache is keyed by this file, so changing it here recompiles), not a runtime option."""

PARALLEL_ONLY = {"im2col2d"}  # no faster than NumPy on one thread (README, "Compiled kernels"): used only in parallel


def _numba_threads() -> int:
    import numba

    return numba.get_num_threads()


def float32_kernel(name: str, *arrays, contiguous: bool = False) -> Callable | None:
    """`kernel(name, *arrays)` for the float32-only kernels: None unless every array is float32 (and, with
    `contiguous`, C-contiguous and non-empty, for kernels that walk the flat memory)."""
    fn = kernel(name, *arrays)
    if fn is None:
        return None
    for a in arrays:
        if a.dtype != numpy.float32 or (contiguous and (a.size == 0 or not a.flags.c_contiguous)):
            return None
    return fn


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

    @njit(parallel=PARALLEL, cache=True)
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

    @njit(parallel=PARALLEL, cache=True)
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

    @njit(parallel=PARALLEL, cache=True)
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
        _compiled = {**_build(), **_build_sequence()}
    return _compiled


_compiled: dict | None = None


# --- Sequence-model kernels (LSTM cell, GELU, softmax, LayerNorm): float32 only, one pass instead of many ----------
#
# Each runs where its op's NumPy reference would, on float32 arrays (other dtypes keep the reference). Where the
# reference calls np.tanh, these use `tanh32` below, a rational approximation (Eigen's `generic_fast_tanh_float`,
# within 3e-7 of tanh) that the compiler vectorises; NumPy's float32 tanh on an AVX2 machine is a scalar loop about
# 5x slower. So a forward that contains a tanh agrees with its reference to a stated tolerance, not to the bit;
# everything else (the LSTM backward, softmax, LayerNorm) repeats the reference's float32 operations in its order
# and gives its bits (tests/test_kernels.py). No fastmath: no reassociation, no fused multiply-adds.


def _build_sequence() -> dict:
    from numba import njit, prange

    f32 = numpy.float32
    half, one, quarter = f32(0.5), f32(1.0), f32(0.25)
    clamp = f32(7.90531110763549805)  # tanh32 is ±1 to float32 precision beyond this
    a13, a11, a9 = f32(-2.76076847742355e-16), f32(2.00018790482477e-13), f32(-8.60467152213735e-11)
    a7, a5, a3, a1 = f32(5.12229709037114e-08), f32(1.48572235717979e-05), f32(6.37261928875436e-04), f32(
        4.89352455891786e-03)
    b6, b4, b2, b0 = f32(1.19825839466702e-06), f32(1.18534705686654e-04), f32(2.26843463243900e-03), f32(
        4.89352518554385e-03)

    @njit(inline="always", error_model="numpy")
    def tanh32(x):  # pragma: no cover - compiled
        """tanh x ≈ x·p(x²)/q(x²) on [−7.9, 7.9] (degree 13/6; Eigen's generic_fast_tanh_float)."""
        x = min(max(x, -clamp), clamp)
        x2 = x * x
        p = ((((((a13 * x2 + a11) * x2 + a9) * x2 + a7) * x2 + a5) * x2 + a3) * x2 + a1) * x
        q = ((b6 * x2 + b4) * x2 + b2) * x2 + b0
        return p / q

    # The loops below are split so that each touches few arrays: LLVM vectorises a loop only when it can check at
    # run time that the arrays it writes do not overlap those it reads, and gives up beyond a handful of pairs
    # (one loop doing all of a step ran 6x slower than these).

    @njit(parallel=PARALLEL, cache=True, error_model="numpy")
    def lstm_cell_forward(a, gi, c_prev, c, tanh_c, h):  # pragma: no cover - compiled
        """One LSTM step after its GEMM. On entry a (N, 4, H) holds h_{t−1}W_hhᵀ; gi (N, 4, H) is x_tW_ihᵀ + b.
        i, f, o = σ(a + gi) = ½ tanh(½(a + gi)) + ½,  g = tanh(a + gi)   (written back into a, for the backward)
        c = f·c_prev + i·g,   tanh_c = tanh c,   h = o·tanh_c"""
        batch, hidden = a.shape[0], a.shape[2]
        for n in prange(batch):  # rows are independent
            an, gn = a[n], gi[n]
            for k in (0, 1, 3):  # the sigmoid gates i, f, o
                ak, gk = an[k], gn[k]
                for j in range(hidden):
                    ak[j] = half * tanh32(half * (ak[j] + gk[j])) + half
            ag, gg = an[2], gn[2]
            for j in range(hidden):
                ag[j] = tanh32(ag[j] + gg[j])
            i, f, g, o = an[0], an[1], an[2], an[3]
            cp, cn, tc, hn = c_prev[n], c[n], tanh_c[n], h[n]
            for j in range(hidden):
                cn[j] = f[j] * cp[j] + i[j] * g[j]  # forget some, write some
            for j in range(hidden):
                tc[j] = tanh32(cn[j])
            for j in range(hidden):
                hn[j] = o[j] * tc[j]  # expose some

    @njit(parallel=PARALLEL, cache=True, error_model="numpy")
    def lstm_cell_backward(gy, carry, dc, gates, c_prev, tanh_c, da):  # pragma: no cover - compiled
        """One LSTM step of the backward, before its GEMM (LSTMSequence.backward's formulas, in its order):
        dh = gy + carry (left in carry);   dc += dh·(o·(1 − tanh²c));   da_o = dh·(tanh c·o′),
        da_i = dc·(g·i′),   da_f = dc·(c_prev·f′),   da_g = dc·(i·g′);   dc ← dc·f
        with the slopes σ′ = ¼ − (σ − ½)² and tanh′ = 1 − g²."""
        batch, hidden = gates.shape[0], gates.shape[2]
        for n in prange(batch):
            dh, d, t, cp = carry[n], dc[n], tanh_c[n], c_prev[n]
            i, f, g, o = gates[n, 0], gates[n, 1], gates[n, 2], gates[n, 3]
            da_i, da_f, da_g, da_o = da[n, 0], da[n, 1], da[n, 2], da[n, 3]
            gyn = gy[n]
            for j in range(hidden):
                dh[j] = gyn[j] + dh[j]
            for j in range(hidden):
                d[j] = d[j] + dh[j] * (o[j] * (one - t[j] * t[j]))
            for j in range(hidden):
                s = o[j] - half
                da_o[j] = dh[j] * (t[j] * (quarter - s * s))
            for j in range(hidden):
                s = i[j] - half
                da_i[j] = d[j] * (g[j] * (quarter - s * s))
            for j in range(hidden):
                s = f[j] - half
                da_f[j] = d[j] * (cp[j] * (quarter - s * s))
            for j in range(hidden):
                da_g[j] = d[j] * (i[j] * (one - g[j] * g[j]))
            for j in range(hidden):
                d[j] = d[j] * f[j]

    gelu_c, gelu_s = f32(0.044715), f32(math.sqrt(2 / math.pi))
    gelu_slope_1 = f32(2 * math.sqrt(2 / math.pi))  # ops.activation's _GELU_SLOPE_1 and _GELU_SLOPE_X2
    gelu_slope_x2 = f32(2 * math.sqrt(2 / math.pi) * 3 * 0.044715)

    @njit(parallel=PARALLEL, cache=True, error_model="numpy")
    def gelu_tanh_forward(x, y, s):  # pragma: no cover - compiled
        """y = x·σ,  σ = ½(1 + tanh(√(2/π)·x·(1 + 0.044715x²)))   (flat arrays; σ kept for the backward)"""
        for k in prange(x.size):
            v = x[k]
            u = tanh32((v * v * gelu_c + one) * v * gelu_s)
            s[k] = (u + one) * half
            y[k] = s[k] * v

    @njit(parallel=PARALLEL, cache=True, error_model="numpy")
    def gelu_tanh_backward(gy, x, s, gx):  # pragma: no cover - compiled
        """dL/dx = dL/dy · σ(1 + (1 − σ)·x·2√(2/π)(1 + 3·0.044715x²)), in Gelu.backward's order (same bits)"""
        for k in prange(x.size):
            v, w = x[k], s[k]
            d = (v * v * gelu_slope_x2 + gelu_slope_1) * v * (one - w)
            gx[k] = (d + one) * w * gy[k]

    @njit(parallel=PARALLEL, cache=True, error_model="numpy")
    def layer_norm_forward(x, weight, bias, eps, y, xhat, rstd):  # pragma: no cover - compiled
        """Rows of x (R, D): μ = Σx/D, σ² = Σ(x − μ)²/D, x̂ = (x − μ)/√(σ² + ε), y = γx̂ + β (sums in row order)"""
        rows, width = x.shape
        inv = one / f32(width)
        for r in prange(rows):
            xr, hr, yr = x[r], xhat[r], y[r]
            total = f32(0.0)
            for j in range(width):
                total += xr[j]
            mean = total * inv
            total = f32(0.0)
            for j in range(width):
                c = xr[j] - mean
                hr[j] = c
                total += c * c
            s = one / numpy.sqrt(total * inv + eps)
            rstd[r] = s
            for j in range(width):
                hr[j] = hr[j] * s
            for j in range(width):
                yr[j] = hr[j] * weight[j] + bias[j]

    @njit(parallel=PARALLEL, cache=True, error_model="numpy")
    def layer_norm_backward(gy, weight, xhat, rstd, gx):  # pragma: no cover - compiled
        """Rows: g = dL/dy·γ,  dL/dx = (g − mean(g) − x̂·mean(g·x̂))·rstd   (sums in row order)"""
        rows, width = gy.shape
        inv = one / f32(width)
        for r in prange(rows):
            gr, hr, out = gy[r], xhat[r], gx[r]
            sum_g, sum_gh = f32(0.0), f32(0.0)
            for j in range(width):
                g = gr[j] * weight[j]
                out[j] = g
                sum_g += g
                sum_gh += g * hr[j]
            mean_g, mean_gh, s = sum_g * inv, sum_gh * inv, rstd[r]
            for j in range(width):
                out[j] = (out[j] - mean_g - hr[j] * mean_gh) * s

    @njit(parallel=PARALLEL, cache=True, error_model="numpy")
    def softmax_backward(gy, y, gx):  # pragma: no cover - compiled
        """Rows: dL/dx = y ⊙ (dL/dy − Σ dL/dy ⊙ y)   (the sum in row order)"""
        rows, width = y.shape
        for r in prange(rows):
            gr, yr, out = gy[r], y[r], gx[r]
            total = f32(0.0)
            for j in range(width):
                total += gr[j] * yr[j]
            for j in range(width):
                out[j] = yr[j] * (gr[j] - total)

    return {
        "lstm_cell_forward": lstm_cell_forward, "lstm_cell_backward": lstm_cell_backward, "tanh32": tanh32,
        "gelu_tanh_forward": gelu_tanh_forward, "gelu_tanh_backward": gelu_tanh_backward,
        "layer_norm_forward": layer_norm_forward, "layer_norm_backward": layer_norm_backward,
        "softmax_backward": softmax_backward,
    }
