"""Pooling ops: max and average over sliding windows (1-D, 2-D and 3-D; stride, padding, dilation, ceil_mode) and
adaptive average pooling. Written for 2-D below; every function takes any number of spatial axes (a 3-D window
kd×kh×kw has kd·kh·kw offsets, and one more index in each formula).

A window of kh×kw elements is visited one kernel offset at a time: for offset (u, v), the elements every window
reads there form one strided slice of the padded input, xpad[:, :, u·d :: s, v·d :: s]. A 2×2 pool is therefore
four elementwise passes over the output — the loops below run over kernel offsets, never over pixels.

Max pooling routes the gradient to each window's arg-max (a scatter, `WindowScatter`) whose own backward is a
gather (`WindowGather`); average pooling's backward (`AvgPoolT`) spreads the gradient evenly over each window and
is itself differentiated by average pooling. So every op here has gradients of any order.
"""

from __future__ import annotations

from glassnet.autograd import Function
from glassnet.backend import array_like, array_module, np, on_host
from glassnet.kernels import kernel as kernel_named
from glassnet.ops.conv import NC, channel_major, full, kernel_regions, pad

# ----- geometry ---------------------------------------------------------------------------------------------------


def pool_geometry(in_size, kernel, stride, padding, dilation, ceil_mode: bool) -> tuple:
    """(output size, (lo, hi) padding per dim) of a pooling: ⌊ or ⌈(n + 2p − d·(k − 1) − 1) / s⌉ + 1 windows.

    With ceil_mode a last, partial window is kept if it starts inside the input or its left padding; `hi` is the
    right padding that makes room for it (it may differ from p: the pad value never wins, so that is harmless).
    """
    out, pads = [], []
    for n, k, s, p, d in zip(in_size, kernel, stride, padding, dilation):
        span = d * (k - 1) + 1
        o = (n + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        out.append(o)
        pads.append((p, max(0, (o - 1) * s + span - n - p)))
    return tuple(out), tuple(pads)


def _crop(in_size, pads) -> tuple:
    return NC + tuple(slice(lo, lo + n) for n, (lo, _) in zip(in_size, pads))


def _two_by_two(kernel, stride, dilation) -> bool:
    """The common 2-D pooling (2×2 windows, stride 2, no dilation), which has a compiled kernel (glassnet.kernels)."""
    return tuple(kernel) == (2, 2) and tuple(stride) == (2, 2) and tuple(dilation) == (1, 1)


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


# ----- max pooling -------------------------------------------------------------------------------------------------


def window_max(xp, out_size, kernel, stride, dilation):
    """The max of every window of a padded input, (N, C, *out_size): one np.maximum per kernel offset
    (np.maximum lets a NaN win, as PyTorch's max pooling does)."""
    fast = kernel_named("window_max2x2", xp) if _two_by_two(kernel, stride, dilation) else None
    if fast is not None:  # the same maxima in one pass, on every core (glassnet.kernels)
        return fast(xp, out_size)
    y = None
    for _, region in kernel_regions(kernel, stride, dilation, out_size):
        v = xp[NC + region]
        y = v.copy(order="K") if y is None else np.maximum(y, v, out=y)
    return y


def window_argmax(xp, y, kernel, stride, dilation) -> tuple:
    """Where each window's max `y` sits, as one boolean mask (N, C, *out) per kernel offset (row-major order).

    PyTorch's choice: the first maximum on ties; in a window holding NaNs, its last NaN.
    """
    views = [xp[NC + region] for _, region in kernel_regions(kernel, stride, dilation, y.shape[2:])]
    free = np.ones_like(y, dtype=bool)  # windows whose arg-max is still to be found
    hits = []
    for v in views:
        hit = np.logical_and(v == y, free)
        np.logical_xor(free, hit, out=free)
        hits.append(hit)
    nan = np.isnan(y)
    # NaN == NaN is False, so those windows are still free: take their last NaN. (Skipped when the host can see there
    # is no NaN; on a device, asking would read a value back every step, so the fix-up always runs there.)
    if not on_host(nan) or nan.any():
        for k in reversed(range(len(views))):
            hit = np.logical_and(np.isnan(views[k]), nan)
            np.logical_xor(nan, hit, out=nan)
            hits[k] |= hit
    return tuple(hits)


def flat_indices(hits, in_size, kernel, stride, padding, dilation):
    """PyTorch's `return_indices`: each arg-max as a flat index into its (unpadded) input plane, h·W + w
    (d·H·W + h·W + w in 3-D)."""
    xp = array_module(hits[0])
    arg = xp.zeros(hits[0].shape, dtype=np.int64)
    for k, hit in enumerate(hits[1:], start=1):
        arg += k * hit
    offsets = np.unravel_index(arg, kernel)
    flat = xp.zeros(arg.shape, dtype=np.int64)
    nd = len(kernel)
    for axis, (n, s, p, d) in enumerate(zip(in_size, stride, padding, dilation)):
        start = (xp.arange(arg.shape[2 + axis]) * s - p).reshape((-1,) + (1,) * (nd - 1 - axis))
        flat = flat * n + start + offsets[axis] * d
    return flat


class MaxPool(Function):
    """y[n, c, i, j] = max_{u<kh, v<kw} xpad[n, c, i·s + u·d, j·s + v·d]      (xpad: x padded with −∞)

    dL/dx[a] = Σ of dL/dy over the windows whose arg-max is a — WindowScatter of dL/dy to the arg-maxes.
    (The arg-max masks are found only when a backward asks for them.)
    """

    def forward(self, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=False):
        out_size, pads = pool_geometry(x.shape[2:], kernel, stride, padding, dilation, ceil_mode)
        self.geometry = dict(kernel=kernel, stride=stride, padding=pads, dilation=dilation)
        self.in_size = x.shape[2:]
        self.xp = pad(x, pads, _lowest(x.dtype))
        self.y = window_max(self.xp, out_size, kernel, stride, dilation)
        return self.y

    def backward(self, gy):
        hits = window_argmax(self.xp, self.y, self.geometry["kernel"], self.geometry["stride"],
                             self.geometry["dilation"])
        return WindowScatter.call(gy, hits=hits, in_size=self.in_size, **self.geometry)


class WindowScatter(Function):
    """x = scatter(g): each g[n, c, i, j] put at the element of its window that `hits` marks — max-pool backward.

        for n, c, i, j, u, v:
            if hits[u, v][n, c, i, j]:   x[n, c, i·s + u·d − p, j·s + v·d − p] += g[n, c, i, j]

    Linear in g; its adjoint, hence dL/dg, is the matching gather: dL/dg = WindowGather(dL/dx).
    """

    def forward(self, g, hits=(), in_size=None, kernel=None, stride=None, padding=None, dilation=None):
        self.gather = dict(hits=hits, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
        padded = tuple(n + lo + hi for n, (lo, hi) in zip(in_size, padding))
        buf = full(g, g.shape[:2] + padded, g.dtype, channel_major(g))
        overlap = any(s < d * (k - 1) + 1 for s, d, k in zip(stride, dilation, kernel))
        for hit, (_, region) in zip(hits, kernel_regions(kernel, stride, dilation, g.shape[2:])):
            if overlap:  # windows share elements: add
                buf[NC + region] += g * hit
            else:  # each element lies in one window at most: write (multiplying by a mask beats a masked copy)
                np.multiply(g, hit, out=buf[NC + region])
        return buf[_crop(in_size, padding)]

    def backward(self, gx):
        return WindowGather.call(gx, **self.gather)


class WindowGather(Function):
    """y = gather(x): from each window, the element that `hits` marks (its arg-max, for max pooling).

        for n, c, i, j, u, v:
            if hits[u, v][n, c, i, j]:   y[n, c, i, j] = xpad[n, c, i·s + u·d, j·s + v·d]

    dL/dx = WindowScatter(dL/dy)
    """

    def forward(self, x, hits=(), kernel=None, stride=None, padding=None, dilation=None):
        self.scatter = dict(hits=hits, in_size=x.shape[2:], kernel=kernel, stride=stride, padding=padding,
                            dilation=dilation)
        xp = pad(x, padding)
        y = None
        for hit, (_, region) in zip(hits, kernel_regions(kernel, stride, dilation, hits[0].shape[2:])):
            term = xp[NC + region] * hit
            y = term if y is None else np.add(y, term, out=y)
        return y

    def backward(self, gy):
        return WindowScatter.call(gy, **self.scatter)


# ----- average pooling ---------------------------------------------------------------------------------------------


def avg_plan(in_size, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override, dtype):
    """(output size, (lo, hi) padding, divisor) of an average pooling, with PyTorch's divisor rules.

    The divisor of a window is kh·kw, or — where ceil_mode lets a window hang past the padding, or with
    count_include_pad=False — the number of elements it covers (padding included or not); `divisor_override`
    replaces it. Returned as a Python number when all windows share it, else as an array (*out) of `dtype`.
    """
    ones = (1,) * len(kernel)
    out_size, pads = pool_geometry(in_size, kernel, stride, padding, ones, ceil_mode)
    if divisor_override:
        return out_size, pads, divisor_override
    divisor = np.ones((), dtype=np.int64)
    for n, k, s, p, o in zip(in_size, kernel, stride, padding, out_size):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        divisor = np.multiply.outer(divisor, end - start)
    if (divisor == divisor.flat[0]).all():
        return out_size, pads, int(divisor.flat[0])
    return out_size, pads, divisor.astype(dtype)


class AvgPool(Function):
    """y[n, c, i, j] = (1/D[i, j]) Σ_{u<kh, v<kw} xpad[n, c, i·s + u, j·s + v]      (D: see `avg_plan`)

    dL/dx = AvgPoolT(dL/dy): each output's gradient shared out over its window, divided by the same D.
    """

    def forward(self, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), ceil_mode=False, count_include_pad=True,
                divisor_override=None):
        self.options = dict(kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                            count_include_pad=count_include_pad, divisor_override=divisor_override)
        self.in_size = x.shape[2:]
        out_size, pads, divisor = avg_plan(x.shape[2:], kernel, stride, padding, ceil_mode, count_include_pad,
                                           divisor_override, x.dtype)
        xp = pad(x, pads)
        total = None
        for _, region in kernel_regions(kernel, stride, (1,) * len(kernel), out_size):
            if total is None:
                total = xp[NC + region].copy(order="K")
            else:
                total += xp[NC + region]
        total /= divisor if isinstance(divisor, int) else array_like(divisor, total)
        return total

    def backward(self, gy):
        return AvgPoolT.call(gy, in_size=self.in_size, **self.options)


class AvgPoolT(Function):
    """x = AvgPoolT(g), the adjoint of average pooling: every window's g/D added to each of its elements.

        for n, c, i, j, u, v:   x[n, c, i·s + u − p, j·s + v − p] += g[n, c, i, j] / D[i, j]

    Linear in g with average pooling as its adjoint, so dL/dg = AvgPool(dL/dx).
    """

    def forward(self, g, in_size=None, kernel=(2, 2), stride=(2, 2), padding=(0, 0), ceil_mode=False,
                count_include_pad=True, divisor_override=None):
        self.options = dict(kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                            count_include_pad=count_include_pad, divisor_override=divisor_override)
        out_size, pads, divisor = avg_plan(in_size, kernel, stride, padding, ceil_mode, count_include_pad,
                                           divisor_override, g.dtype)
        share = g / (divisor if isinstance(divisor, int) else array_like(divisor, g))
        padded = tuple(n + lo + hi for n, (lo, hi) in zip(in_size, pads))
        buf = full(g, g.shape[:2] + padded, g.dtype, channel_major(g))
        for _, region in kernel_regions(kernel, stride, (1,) * len(kernel), out_size):
            buf[NC + region] += share
        return buf[_crop(in_size, pads)]

    def backward(self, gx):
        return AvgPool.call(gx, **self.options)


# ----- adaptive average pooling ------------------------------------------------------------------------------------


def adaptive_matrix(n: int, o: int, dtype):
    """The (o, n) matrix whose row i averages x[⌊i·n/o⌋ : ⌈(i + 1)·n/o⌉] (PyTorch's adaptive windows)."""
    i = np.arange(o)
    start = (i * n) // o
    end = -((-(i + 1) * n) // o)
    inside = (np.arange(n) >= start[:, None]) & (np.arange(n) < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class PoolByMatrices(Function):
    """y = x mixed along each spatial axis by a constant matrix: y = A · x · Bᵀ per (n, c) plane (2-D; one more
    matrix per extra axis in 3-D).

    With A (Ho, H), B (Wo, W) from `adaptive_matrix` this is adaptive average pooling:
        y[n, c, i, j] = mean of x[n, c, ⌊i·H/Ho⌋ : ⌈(i+1)·H/Ho⌉, ⌊j·W/Wo⌋ : ⌈(j+1)·W/Wo⌉]
    dL/dx = Aᵀ · dL/dy · B — the same op with the transposed matrices. (A matrix of None leaves its axis alone.)
    """

    def forward(self, x, matrices=()):
        self.matrices = matrices
        y = x
        for axis, m in enumerate(matrices, start=2):
            if m is not None:  # one GEMM per axis
                y = np.moveaxis(np.tensordot(y, array_like(m, y), axes=([axis], [1])), -1, axis)
        return y

    def backward(self, gy):
        return PoolByMatrices.call(gy, matrices=tuple(None if m is None else m.T for m in self.matrices))
