"""Convolution ops: conv (1-D, 2-D and 3-D; stride, padding, dilation, groups), its transpose, its weight
gradient, and unfold/fold (im2col/col2im).

The naive definition, for x (N, C, H, W), w (O, C/G, kh, kw), bias b (O), G groups, stride s, dilation d and
xpad = x with p zeros around it (1-D convolution drops one spatial axis, 3-D adds one, (N, C, D, H, W) with a
kd×kh×kw kernel and one more sum; every function below takes any number of spatial axes):

    for n, o, i, j:                                  # every output pixel ...
        grp = o // (O/G)                             # ... reads the C/G input channels of its group
        y[n, o, i, j] = b[o] + Σ_{c<C/G} Σ_{u<kh} Σ_{v<kw} w[o, c, u, v] · xpad[n, grp·C/G + c, i·s + u·d, j·s + v·d]

It is computed as im2col + one GEMM: a strided view lays every receptive field out as a column of the matrix
(C·kh·kw, N·Ho·Wo) — (C·kd·kh·kw, N·Do·Ho·Wo) in 3-D — without any Python loop over pixels, and
y = W (O, C·kh·kw) @ columns is a single matrix product (batched over the groups).

Convolution is linear in x and in w, so all its derivatives come from one trilinear form T(x, w, g) = ⟨conv(x, w), g⟩:

    conv(x, w)            = ∂T/∂g   the convolution itself                            (Conv)
    conv_transpose(g, w)  = ∂T/∂x   its adjoint: the input gradient, "deconvolution"  (ConvTranspose)
    conv_weight(x, g)     = ∂T/∂w   the weight gradient                               (ConvWeight)

Each op's backward is made of the other two (through `Function.call`), so gradients of gradients come for free.

Memory layout: the GEMM writes channel-major memory (O, N, Ho, Wo); the ops return it as an (N, O, Ho, Wo) view
without copying. NumPy's elementwise ops keep that layout, so the next im2col and the backward GEMMs read it
without transposing copies.
"""

from __future__ import annotations

import itertools
import math

from glassnet.autograd import Function
from glassnet.backend import array_module, as_strided, np
from glassnet.kernels import kernel as kernel_named

# ----- geometry ---------------------------------------------------------------------------------------------------


def conv_output_size(in_size, kernel, stride, padding, dilation) -> tuple:
    """Output length of each spatial dim: ⌊(n + lo + hi − d·(k − 1) − 1) / s⌋ + 1 (`padding` holds (lo, hi) pairs)."""
    return tuple(
        (n + lo + hi - d * (k - 1) - 1) // s + 1
        for n, k, s, (lo, hi), d in zip(in_size, kernel, stride, padding, dilation)
    )


def transposed_output_size(in_size, kernel, stride, padding, dilation, output_padding) -> tuple:
    """Output length of each spatial dim of a transposed convolution: (n − 1)·s − lo − hi + d·(k − 1) + op + 1."""
    return tuple(
        (n - 1) * s - lo - hi + d * (k - 1) + op + 1
        for n, k, s, (lo, hi), d, op in zip(in_size, kernel, stride, padding, dilation, output_padding)
    )


def kernel_regions(kernel, stride, dilation, out_size):
    """For each kernel offset (u, v): the slices of the padded input that offset reads for all outputs at once,
    xpad[u·d : u·d + (Ho − 1)·s + 1 : s, v·d : ...]."""
    for offset in itertools.product(*(range(k) for k in kernel)):
        yield offset, tuple(
            slice(u * d, u * d + (o - 1) * s + 1, s) for u, d, o, s in zip(offset, dilation, out_size, stride)
        )


NC = (slice(None), slice(None))  # an index prefix taking the batch and channel axes whole


def channel_major(a) -> bool:
    """True when `a` (N, C, ...) is laid out as (C, N, ...) in memory (the layout the convolution GEMM produces)."""
    return a.shape[0] > 1 and a.shape[1] > 1 and a.strides[1] > a.strides[0]


def full(like, shape, dtype, channel_major_layout: bool, value=0):
    """A new (N, C, ...) array on `like`'s device filled with `value`, stored channel-major when asked."""
    xp = array_module(like)
    if channel_major_layout:
        swapped = (shape[1], shape[0]) + tuple(shape[2:])
        buf = xp.zeros(swapped, dtype) if value == 0 else xp.full(swapped, value, dtype)
        return buf.swapaxes(0, 1)
    return xp.zeros(shape, dtype) if value == 0 else xp.full(shape, value, dtype)


def pad(x, padding, value=0):
    """x (N, C, *spatial) surrounded by `value` ((lo, hi) per spatial dim), in x's memory layout; x if no padding."""
    if not any(lo or hi for lo, hi in padding):
        return x
    shape = x.shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], padding))
    out = full(x, shape, x.dtype, channel_major(x), value)
    out[NC + tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[2:], padding))] = x
    return out


def windows(xp, kernel, stride, dilation, out_size):
    """The strided view (N, C, *kernel, *out_size) of a padded input, without copying:
    view[n, c, u, v, i, j] = xp[n, c, i·s + u·d, j·s + v·d]."""
    for n, k, s, d, o in zip(xp.shape[2:], kernel, stride, dilation, out_size):
        if (o - 1) * s + (k - 1) * d + 1 > n:  # never let as_strided read outside the array
            raise ValueError(f"windows: {out_size} windows of {tuple(kernel)} do not fit in {xp.shape}")
    sn, sc, *ss = xp.strides
    shape = xp.shape[:2] + tuple(kernel) + tuple(out_size)
    strides = (sn, sc) + tuple(t * d for t, d in zip(ss, dilation)) + tuple(t * s for t, s in zip(ss, stride))
    return as_strided(xp, shape, strides)


def im2col(x, kernel, stride, padding, dilation, out_size):
    """Every receptive field of x as a column: (C·kh·kw, N·Ho·Wo), rows ordered (c, u, v), columns (n, i, j).

    One strided view and one copy into the GEMM's layout; no Python loop over pixels. Any number of spatial dims
    (a 3-D kernel adds a row axis kd and a column axis Do); the compiled kernel, when enabled, does the 2-D copy.
    """
    nd = len(kernel)
    xp = pad(x, padding)
    view = windows(xp, kernel, stride, dilation, out_size)  # (N, C, *kernel, *out)
    fast = kernel_named("im2col2d", xp) if nd == 2 else None
    if fast is not None:  # the same copy on every core (glassnet.kernels)
        cols = fast(xp, *kernel, *stride, *dilation, *out_size)
    else:
        cols = array_module(view).ascontiguousarray(np.moveaxis(view, 0, 1 + nd))  # (C, *kernel, N, *out)
    return cols.reshape(x.shape[1] * math.prod(kernel), x.shape[0] * math.prod(out_size))


def col2im(cols, in_size, kernel, stride, padding, dilation):
    """The adjoint of im2col: cols (N, C, *kernel, *out) → (N, C, *in_size), every column entry added back to the
    pixel it was read from. One slice-add per kernel offset (kh·kw of them, kd·kh·kw in 3-D); no loop over pixels,
    no np.add.at."""
    out_size = cols.shape[2 + len(kernel):]
    padded = tuple(
        max(n + lo + hi, (o - 1) * s + (k - 1) * d + 1)
        for n, (lo, hi), o, s, k, d in zip(in_size, padding, out_size, stride, kernel, dilation)
    )
    buf = full(cols, cols.shape[:2] + padded, cols.dtype, channel_major(cols))
    fast = kernel_named("col2im2d", cols) if len(kernel) == 2 else None
    if fast is not None:  # the same sums, in the same order, on every core (glassnet.kernels)
        fast(cols, buf, *stride, *dilation)
        return buf[NC + tuple(slice(lo, lo + n) for n, (lo, _) in zip(in_size, padding))]
    for offset, region in kernel_regions(kernel, stride, dilation, out_size):
        buf[NC + region] += cols[NC + offset]
    return buf[NC + tuple(slice(lo, lo + n) for n, (lo, _) in zip(in_size, padding))]


def _stride_one_fits(g, w, stride) -> bool:
    """Whether _stride_one_transposed may run: 2-D or 3-D, stride 1, NumPy arrays, no compiled col2im, and finite
    weights (its padding columns meet every weight: 0·∞ would put NaN where col2im puts nothing)."""
    return (
        len(stride) > 1
        and all(s == 1 for s in stride)
        and type(g) is np.ndarray
        and g.size > 0
        and kernel_named("col2im2d", g) is None
        and bool(np.isfinite(w).all())
    )


def _stride_one_transposed(g, wm, channels: int, kernel, in_size, padding, dilation):
    """The GEMM and col2im of a stride-1 transposed convolution (a stride-1 convolution's input gradient), with
    long rows: g is widened with zeros to the padded output's size in every spatial dim but the first, so that each
    kernel offset's columns land on one contiguous run of the flat padded plane, offset by Σ u·d·(plane stride).
    Each pixel receives the offsets' terms in col2im's order (plus exact zeros); only the GEMM's rounding can differ
    (its column count changes). col2im's adds run over rows of Wo elements (10 in LeNet's second layer), these over
    runs of Ho·Wp: inside W2's step the transposed convolution measured 2.7–2.8 → 2.0–2.1 ms, and the whole step
    1.03x (python -m bench.ab; README, "Performance").

    Fast path (glassnet/fast_paths.py). Reference: col2im(Wᵀ @ g).
    """
    groups, nd = wm.shape[0], len(kernel)
    padded = tuple(  # as col2im's, at stride 1
        max(n + lo + hi, o + (k - 1) * d)
        for n, (lo, hi), o, k, d in zip(in_size, padding, g.shape[2:], kernel, dilation)
    )
    plane = tuple(math.prod(padded[a + 1:]) for a in range(nd))  # element strides of the flat padded plane
    xp = array_module(g)
    wide = xp.zeros((g.shape[1], g.shape[0], g.shape[2]) + padded[1:], dtype=g.dtype)  # (O, N, Ho, Hp, Wp, ...)
    wide[(slice(None),) * 3 + tuple(slice(0, o) for o in g.shape[3:])] = g.swapaxes(0, 1)
    run = math.prod(wide.shape[2:])  # Ho·Hp·Wp…: one offset's columns for one (c, n)
    cols = np.matmul(wm, wide.reshape(groups, -1, g.shape[0] * run))  # (G, C/G·kh·kw, N·run)
    cols = cols.reshape((channels, math.prod(kernel), g.shape[0], run))
    tail = sum((k - 1) * d * st for k, d, st in zip(kernel[1:], dilation[1:], plane[1:]))  # the last run's overhang
    buf = xp.zeros((channels, g.shape[0], math.prod(padded) + tail), dtype=cols.dtype)
    for k, offset in enumerate(itertools.product(*(range(k) for k in kernel))):
        start = sum(u * d * st for u, d, st in zip(offset, dilation, plane))
        buf[:, :, start : start + run] += cols[:, k]
    y = buf[:, :, : math.prod(padded)].reshape((channels, g.shape[0]) + padded).swapaxes(0, 1)
    return y[NC + tuple(slice(lo, lo + n) for n, (lo, _) in zip(in_size, padding))]


def _channels_first(g, groups: int):
    """g (N, O, *spatial) as the GEMM operand (G, O/G, N·Πspatial); free when g is already channel-major."""
    return g.swapaxes(0, 1).reshape(groups, g.shape[1] // groups, g.shape[0] * math.prod(g.shape[2:]))


def _per_group(cols, groups: int):
    """im2col's (C·kh·kw, N·P) columns as (G, C/G·kh·kw, N·P), one GEMM operand per group (a free reshape)."""
    return cols.reshape(groups, cols.shape[0] // groups, cols.shape[1])


CACHE_BYTES = 32 * 2**20


def _keep(cols):
    """im2col's columns, kept for the backward when small (saving a second im2col); large ones (kh·kw times the
    input for a stride-1 layer) are dropped and rebuilt, so training memory stays close to PyTorch's."""
    return cols if cols.nbytes <= CACHE_BYTES else None


def _needs_grad(fn: Function, i: int) -> bool:
    """Whether positional input i of a recorded node wants a gradient (a first layer needs no image gradient)."""
    return i < len(fn.inputs) and getattr(fn.inputs[i], "requires_grad", False)


def _array(v):
    return v.data if hasattr(v, "grad_fn") else v


def _blocks(n: int, columns: int, size: int) -> int:
    """Into how many blocks of whole images to cut a GEMM's N·P columns so that each has at most `size` of them."""
    return next((b for b in range(1, n + 1) if n % b == 0 and columns // b <= size), max(n, 1))


def _gemm(a, b, n: int):
    """a (G, M, K) @ b (G, K, N·P) → (G, M, N·P), the convolution GEMM, in one batched matmul.

    The columns go in cache-sized blocks of whole images (≤ 8192 columns): a first layer's GEMM (6×25 by
    25×50,000) is memory-bound, and blocked it measured 2.7× faster; bigger layers are unaffected.
    Fast path (glassnet/fast_paths.py). Reference: np.matmul(a, b).
    """
    groups, m, k = a.shape
    cols = b.shape[2]
    blocks = _blocks(n, cols, 8192)
    if blocks == 1:
        return np.matmul(a, b)
    out = array_module(a).empty((groups, m, cols), dtype=np.result_type(a.dtype, b.dtype))
    np.matmul(a[:, None], b.reshape(groups, k, blocks, cols // blocks).swapaxes(1, 2),
              out=out.reshape(groups, m, blocks, cols // blocks).swapaxes(1, 2))
    return out


def _weight_gemm(gm, cols, n: int):
    """gm (G, O/G, N·P) @ cols (G, C/G·kh·kw, N·P)ᵀ → (G, O/G, C/G·kh·kw): the weight-gradient GEMM.

    Its output is tiny and its inner dimension huge (a first layer: 6×25 outputs, each a sum over 50,000 pixels),
    a shape OpenBLAS handles poorly. Computed as Σ_blocks cols_b @ gm_bᵀ over blocks of whole images of ≤ 4096
    (a "split-K", in one batched matmul), it measured 2–3.5× faster on LeNet's shapes.
    """
    groups, _, k = cols.shape
    blocks = _blocks(n, k, 4096)
    c = cols.reshape(groups, cols.shape[1], blocks, k // blocks).swapaxes(1, 2)  # (G, B, C/G·kh·kw, K/B)
    g = gm.reshape(groups, gm.shape[1], blocks, k // blocks).swapaxes(1, 2)  # (G, B, O/G, K/B)
    return np.matmul(c, g.swapaxes(2, 3)).sum(axis=1).swapaxes(1, 2)


# ----- the three convolution ops ---------------------------------------------------------------------------------


class Conv(Function):
    """y = conv(x, w) + b   (the loop formula is in the module docstring; 1-D, 2-D or 3-D by x.ndim)

    dL/dx = conv_transpose(dL/dy, w),   dL/dw = conv_weight(x, dL/dy),   dL/db[o] = Σ_{n,i,j} dL/dy[n, o, i, j]

    Fast form: y = W (O, C·kh·kw) @ im2col(x) — one GEMM, batched over the groups.
    """

    def forward(self, x, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1,
                out_size=None, cols=None):
        self.geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        kernel = w.shape[2:]
        if out_size is None:
            out_size = conv_output_size(x.shape[2:], kernel, stride, padding, dilation)
        if cols is None:
            cols = im2col(x, kernel, stride, padding, dilation, out_size)
        self.cols = _keep(cols)  # the weight gradient reuses it (a cache of a function of x, not a graph value)
        n, o = x.shape[0], w.shape[0]
        y = _gemm(w.reshape(groups, o // groups, -1), _per_group(cols, groups), n)  # the GEMM
        y = y.reshape((o, n) + tuple(out_size))
        if b is not None:
            y += b.reshape((o,) + (1,) * (y.ndim - 1))
        self.save_for_backward(x, w)
        return y.swapaxes(0, 1)

    def backward(self, gy):
        x, w = self.saved_tensors
        geo = self.geometry
        gx = gw = gb = None
        if _needs_grad(self, 0):
            gx = ConvTranspose.call(gy, w, None, in_size=x.shape[2:], **geo)
        if _needs_grad(self, 1):
            gw = ConvWeight.call(x, gy, kernel=w.shape[2:], cols=self.cols, **geo)
        if _needs_grad(self, 2):
            gb = np.sum(gy, axis=(0,) + tuple(range(2, gy.ndim)))
        return gx, gw, gb


class ConvTranspose(Function):
    """y = conv_transpose(g, w) + b: the adjoint of conv(·, w); each input pixel spreads a kernel-sized patch.

        for n, o, i, j, c, u, v:   y[n, grp·C/G + c, i·s + u·d − p, j·s + v·d − p] += w[o, c, u, v] · g[n, o, i, j]

    (w has PyTorch's conv_transpose layout (C_in, C_out/G, kh, kw), i.e. g's channels come first.)
    dL/dg = conv(dL/dy, w),   dL/dw = conv_weight(dL/dy, g),   dL/db[c] = Σ_{n,i,j} dL/dy[n, c, i, j]

    Fast form: columns = Wᵀ @ g (one GEMM), then col2im (kh·kw slice-adds). `in_size` is the output's spatial size.
    """

    def forward(self, g, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1,
                in_size=None):
        self.geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        kernel, nd = w.shape[2:], g.ndim - 2
        c = w.shape[1] * groups
        wm = w.reshape(groups, w.shape[0] // groups, -1).swapaxes(1, 2)  # (G, C/G·kh·kw, O/G)
        if _stride_one_fits(g, w, stride):
            y = _stride_one_transposed(g, wm, c, kernel, in_size, padding, dilation)
        else:
            cols = np.matmul(wm, _channels_first(g, groups))  # the GEMM: (G, C/G·kh·kw, N·Ho·Wo)
            cols = np.moveaxis(cols.reshape((c,) + tuple(kernel) + g.shape[:1] + g.shape[2:]), 1 + nd, 0)
            y = col2im(cols, in_size, kernel, stride, padding, dilation)
        if b is not None:
            y += b.reshape((c,) + (1,) * nd)
        self.save_for_backward(g, w)
        return y

    def backward(self, gy):
        g, w = self.saved_tensors
        geo = self.geometry
        gg = gw = gb = None
        need_g, need_w = _needs_grad(self, 0), _needs_grad(self, 1)
        cols = None
        if need_g and need_w:  # both read the same columns of dL/dy: build them once
            kernel = w.shape[2:]
            cols = im2col(_array(gy), kernel, geo["stride"], geo["padding"], geo["dilation"], g.shape[2:])
        if need_g:
            gg = Conv.call(gy, w, None, out_size=g.shape[2:], cols=cols, **geo)
        if need_w:
            gw = ConvWeight.call(gy, g, kernel=w.shape[2:], cols=cols, **geo)
        if _needs_grad(self, 2):
            gb = np.sum(gy, axis=(0,) + tuple(range(2, gy.ndim)))
        return gg, gw, gb


class ConvWeight(Function):
    """gw = conv_weight(x, g): the input correlated with an output gradient — the weight gradient of conv.

        for n, o, i, j, c, u, v:   gw[o, c, u, v] += g[n, o, i, j] · xpad[n, grp·C/G + c, i·s + u·d, j·s + v·d]

    dL/dx = conv_transpose(g, dL/dgw),   dL/dg = conv(x, dL/dgw)

    Fast form: gw = g (O, N·Ho·Wo) @ im2col(x)ᵀ (N·Ho·Wo, C·kh·kw) — one GEMM, batched over the groups.
    """

    def forward(self, x, g, kernel=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1,
                cols=None):
        self.geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        if cols is None:
            cols = im2col(x, kernel, stride, padding, dilation, g.shape[2:])
        self.cols = _keep(cols)
        gw = _weight_gemm(_channels_first(g, groups), _per_group(cols, groups), g.shape[0])
        self.save_for_backward(x, g)
        return gw.reshape((g.shape[1], x.shape[1] // groups) + tuple(kernel))

    def backward(self, ggw):
        x, g = self.saved_tensors
        geo = self.geometry
        gx = gg = None
        if _needs_grad(self, 0):
            gx = ConvTranspose.call(g, ggw, None, in_size=x.shape[2:], **geo)
        if _needs_grad(self, 1):
            gg = Conv.call(x, ggw, None, out_size=g.shape[2:], cols=self.cols, **geo)
        return gx, gg


# ----- unfold / fold (im2col / col2im as user-facing ops) ---------------------------------------------------------


class Unfold(Function):
    """cols = unfold(x): every kh×kw receptive field flattened into a column, shape (N, C·kh·kw, L) — im2col.

        cols[n, c·kh·kw + u·kw + v, i·Wo + j] = xpad[n, c, i·s + u·d, j·s + v·d]

    dL/dx = fold(dL/dcols): each column entry's gradient is added back to the pixel it was read from.
    """

    def forward(self, x, kernel=(1, 1), stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1)):
        self.geometry = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation)
        self.in_size = x.shape[2:]
        out_size = conv_output_size(x.shape[2:], kernel, stride, padding, dilation)
        view = windows(pad(x, padding), kernel, stride, dilation, out_size)  # (N, C, *kernel, *out)
        return view.reshape(x.shape[0], x.shape[1] * math.prod(kernel), math.prod(out_size))

    def backward(self, gcols):
        return Fold.call(gcols, in_size=self.in_size, **self.geometry)


class Fold(Function):
    """x = fold(cols): the adjoint of unfold (col2im) — each column entry is added to the pixel it came from.

        for n, c, u, v, i, j:   x[n, c, i·s + u·d − p, j·s + v·d − p] += cols[n, c·kh·kw + u·kw + v, i·Wo + j]

    dL/dcols = unfold(dL/dx)
    """

    def forward(self, cols, in_size=None, kernel=(1, 1), stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1)):
        self.geometry = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation)
        out_size = conv_output_size(in_size, kernel, stride, padding, dilation)
        n, c = cols.shape[0], cols.shape[1] // math.prod(kernel)
        return col2im(cols.reshape((n, c) + tuple(kernel) + tuple(out_size)), in_size, kernel, stride, padding,
                      dilation)

    def backward(self, gx):
        return Unfold.call(gx, **self.geometry)
