"""Indexed writes: scatter (replace at an index along an axis) and scatter_reduce (combine at an index with sum, prod,
mean, amax or amin), with their derivatives. Reads (gather, index_select, flip, roll, …) are gathers or indexings
whose gradients come from `Gather` and `GetItem`.
"""

from __future__ import annotations

from glassnet.autograd import Function
from glassnet.backend import np, ufunc_at
from glassnet.ops.reduction import _along_axis_index


def _raw(value):
    return value.data if hasattr(value, "grad_fn") else value


class Scatter(Function):
    """y = x with y[..index[i]..] = src[i] along `axis`;   dL/dx = dL/dy where nothing was written, else 0,
    dL/dsrc = dL/dy gathered at index"""

    def forward(self, x, src, index=None, axis=0):
        self.where = _along_axis_index(index, axis)  # the index may be smaller than x outside `axis`
        y = x.copy()
        y[self.where] = src
        self.kept = np.ones_like(x)  # 1 where x survives, 0 where src was written
        self.kept[self.where] = 0
        return y

    def backward(self, gy):
        return gy * self.kept, gy[self.where]


class ScatterReduce(Function):
    """y = x with src combined in at index along `axis` by `reduce` (include_self=False: x's own value at a written
    place is left out).
    sum:  dL/dx = dL/dy (0 at written places without self),   dL/dsrc = gather(dL/dy)
    mean: yₖ = (x_k + Σ src) / count;   dL/dx = dL/dy / count,   dL/dsrc = gather(dL/dy / count)
    prod: dL/dx = dL/dy · y / x,   dL/dsrc = gather(dL/dy · y) / src   (inputs without zeros)
    amax, amin: the gradient is shared equally by every contributor equal to the result (as in PyTorch)"""

    def forward(self, x, src, index=None, axis=0, reduce="sum", include_self=True):
        self.reduce = reduce
        self.where = where = _along_axis_index(index, axis)
        written = np.zeros_like(x, dtype=bool)
        written[where] = True
        self.self_counts = np.ones_like(x) if include_self else (~written).astype(x.dtype)
        y = x.copy()
        if reduce in ("sum", "mean"):
            if not include_self:
                y[written] = 0
            ufunc_at(np.add, y, where, src)
            if reduce == "mean":
                count = self.self_counts.copy()
                ufunc_at(np.add, count, where, 1)
                self.count = np.maximum(count, 1)
                y = y / self.count if y.dtype.kind == "f" else y // self.count
        elif reduce == "prod":
            if not include_self:
                y[written] = 1
            ufunc_at(np.multiply, y, where, src)
        else:
            ufunc = np.maximum if reduce == "amax" else np.minimum
            if not include_self:
                if x.dtype.kind == "f":
                    y[written] = -np.inf if reduce == "amax" else np.inf
                else:
                    info = np.iinfo(x.dtype)
                    y[written] = info.min if reduce == "amax" else info.max
            ufunc_at(ufunc, y, where, src)
            # how many contributors equal the result at each place (the gradient is split among them)
            self.x_wins = (x == y) & (self.self_counts > 0)
            self.src_wins = src == y[where]
            ties = self.x_wins.astype(x.dtype)
            ufunc_at(np.add, ties, where, self.src_wins.astype(x.dtype))
            self.ties = np.maximum(ties, 1)
        self.save_for_backward(x, src, y)
        return y

    def backward(self, gy):
        where, reduce = self.where, self.reduce
        if reduce == "sum":
            return gy * self.self_counts, gy[where]
        if reduce == "mean":
            g = gy / self.count
            return g * self.self_counts, g[where]
        if reduce == "prod":
            x, src, y = self.saved_tensors
            if not (np.all(_raw(x) != 0) and np.all(_raw(src) != 0)):
                raise NotImplementedError(
                    "scatter_reduce(prod): the gradient at inputs containing 0 is not implemented"
                )
            return gy * y / x * self.self_counts, (gy * y)[where] / src
        g = gy / self.ties
        return g * self.x_wins, g[where] * self.src_wins
