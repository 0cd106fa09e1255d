"""Reductions: sum, mean, max/min, prod, logsumexp, and the index ops gather/scatter they rely on."""

from __future__ import annotations

from glassnet.autograd import Function
from glassnet.backend import array_module, np, scatter_add


def kept_shape(shape: tuple, axis) -> tuple:
    """The shape a reduction over `axis` has with keepdims=True (the shape its gradient broadcasts from)."""
    if axis is None or not shape:  # a 0-d tensor reduces over dim 0 or -1 to itself, as in PyTorch
        return (1,) * len(shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    axes = {a % len(shape) for a in axes}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def reduced_shape(shape: tuple, axis) -> tuple:
    """The shape a reduction over `axis` has with keepdims=False."""
    if axis is None or not shape:
        return ()
    axes = axis if isinstance(axis, tuple) else (axis,)
    axes = {a % len(shape) for a in axes}
    return tuple(n for i, n in enumerate(shape) if i not in axes)


class Sum(Function):
    """y = Σᵢ xᵢ over `axis`;   dL/dxᵢ = dL/dy (every summand gets the whole upstream gradient)"""

    def forward(self, x, axis=None, keepdims=False):
        self.in_shape = x.shape
        self.kept = kept_shape(x.shape, axis)
        return _sum(x, axis, keepdims)

    def backward(self, gy):
        return np.broadcast_to(gy.reshape(self.kept), self.in_shape)


def _sum(x, axis, keepdims: bool):
    """np.sum(x, axis, keepdims=keepdims). On the host the ufunc is called from here (what np.sum does inside, minus
    a layer of calls), so a warning about ∞ − ∞ is raised in this module, where glassnet's filter silences it
    (raised inside NumPy's np.sum, it would reach the user); on a device, the device's sum."""
    if type(x) is np.ndarray:
        return np.add.reduce(x, axis=axis, keepdims=keepdims)
    return np.sum(x, axis=axis, keepdims=keepdims)


class Mean(Function):
    """y = (1/n) Σᵢ xᵢ over `axis`;   dL/dxᵢ = dL/dy / n"""

    def forward(self, x, axis=None, keepdims=False):
        self.in_shape = x.shape
        self.kept = kept_shape(x.shape, axis)
        y = _sum(x, axis, keepdims)
        self.n = x.size // max(y.size, 1) if x.size else 1
        return y / self.n if x.size else np.mean(x, axis=axis, keepdims=keepdims)

    def backward(self, gy):
        return np.broadcast_to(gy.reshape(self.kept) / self.n, self.in_shape)


class AMax(Function):
    """y = max of x over `axis`;   dL/dxᵢ = dL/dy / k for each of the k elements equal to the max, else 0"""

    extreme = staticmethod(np.max)

    def forward(self, x, axis=None, keepdims=False):
        self.kept = kept_shape(x.shape, axis)
        self.axis = axis
        y = self.extreme(x, axis=axis, keepdims=True)
        self.save_for_backward(x)
        self.ymax = y
        return y if keepdims else y.reshape(reduced_shape(x.shape, axis))

    def backward(self, gy):
        (x,) = self.saved_tensors
        is_max = x == self.ymax
        count = np.sum(is_max, axis=self.axis, keepdims=True)
        return gy.reshape(self.kept) * is_max / count


class AMin(AMax):
    """y = min of x over `axis`;   dL/dxᵢ = dL/dy / k for each of the k elements equal to the min, else 0
    (computed directly, not as −max(−x): negation overflows int32's minimum and is undefined for bool)."""

    extreme = staticmethod(np.min)


class StdFromVar(Function):
    """y = √v for a variance v;   dL/dv = dL/dy / (2y), taken as 0 where y = 0 (PyTorch's std convention)"""

    def forward(self, v):
        y = np.sqrt(v)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(y == 0, 0.0, gy / (2 * y))


class Prod(Function):
    """y = Πᵢ xᵢ over `axis`;   dL/dxᵢ = dL/dy · Π_{j≠i} xⱼ  (computed without dividing by zero)"""

    def forward(self, x, axis=None, keepdims=False):
        self.kept = kept_shape(x.shape, axis)
        self.axis = axis
        if type(x) is np.ndarray:  # the ufunc called from here: ∞ · 0 is NaN without a warning (see _sum)
            y = np.multiply.reduce(x, axis=axis, keepdims=keepdims)
        else:
            y = np.prod(x, axis=axis, keepdims=keepdims)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        xd = x.data if hasattr(x, "grad_fn") else x  # (an ndarray's .data is its raw buffer)
        if np.all(xd != 0):
            others = y.reshape(self.kept) / x  # differentiable again when backward is recorded
        elif isinstance(self.axis, tuple):
            raise NotImplementedError("prod over several dims at once with zeros: reduce one dim at a time")
        else:  # zeros: Π_{j≠i} xⱼ by exclusive products (op by op when this backward is itself recorded)
            others_of = _product_of_others if x is xd else _product_of_others_recorded
            if self.axis is None or x.ndim == 0:
                others = others_of(x.reshape(-1), 0).reshape(x.shape)
            else:
                others = others_of(x, self.axis)
        return gy.reshape(self.kept) * others


def _product_of_others(x, axis: int):
    """Π_{j≠i} xⱼ along `axis` for every i, by exclusive cumulative products from both sides."""
    x = np.moveaxis(x, axis, -1)
    ones = array_module(x).ones(x.shape[:-1] + (1,), dtype=x.dtype)
    with np.errstate(invalid="ignore", over="ignore"):  # np.cumprod is outside the engine's warnings filter
        left = np.cumprod(np.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)
        right = np.cumprod(np.concatenate([ones, x[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return np.moveaxis(left * right, -1, axis)


def _product_of_others_recorded(x, axis: int):
    """The same products from left and right running products of Tensor ops, so they can be differentiated."""
    x = np.swapaxes(x, axis, -1)
    n = x.shape[-1]
    left, right = [x[..., 0] * 0 + 1], [x[..., 0] * 0 + 1]
    for k in range(1, n):
        left.append(left[-1] * x[..., k - 1])
        right.append(right[-1] * x[..., n - k])
    return np.swapaxes(np.stack([a * b for a, b in zip(left, right[::-1])], axis=-1), axis, -1)


class LogSumExp(Function):
    """y = log Σᵢ exp(xᵢ) (shifted by the max for stability);   dL/dxᵢ = dL/dy · exp(xᵢ − y)"""

    def forward(self, x, axis=None, keepdims=False):
        self.kept = kept_shape(x.shape, axis)
        m = np.max(x, axis=axis, keepdims=True) if x.size else array_module(x).zeros(self.kept, dtype=x.dtype)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):  # an empty sum: log 0 = −∞, as in PyTorch
            y = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
        y = y if keepdims else y.reshape(reduced_shape(x.shape, axis))
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        return gy.reshape(self.kept) * np.exp(x - y.reshape(self.kept))


class Gather(Function):
    """y[..i..] = x[..index[..i..]..] along `axis`;   dL/dx = scatter-add of dL/dy to the gathered places"""

    def forward(self, x, index, axis=0):
        self.index, self.axis, self.in_shape = index, axis, x.shape
        return np.take_along_axis(x, index, axis=axis)

    def backward(self, gy):
        return ScatterAdd.call(gy, index=self.index, axis=self.axis, shape=self.in_shape), None


class ScatterAdd(Function):
    """y = zeros(shape) with src added at `index` along `axis` (repeats add up);   dL/dsrc = gather of dL/dy"""

    def forward(self, src, index=None, axis=0, shape=None):
        self.index, self.axis = index, axis
        out = array_module(src).zeros(shape, dtype=src.dtype)
        scatter_add(out, _along_axis_index(index, axis), src)
        return out

    def backward(self, gy):
        return Gather.call(gy, self.index, axis=self.axis)


def _along_axis_index(index, axis: int) -> tuple:
    """Turn a take_along_axis index into a full fancy index (so np.add.at can scatter with it)."""
    axis = axis % index.ndim
    grids = array_module(index).indices(index.shape, sparse=True)
    return tuple(index if d == axis else grids[d] for d in range(index.ndim))
