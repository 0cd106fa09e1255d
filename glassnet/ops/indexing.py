"""Indexed writes: scatter (replace at an index along an axis) and scatter_reduce (combine at an index with sum, prod,
mean, amax or amin), with their derivatives. Reads (gather, index_select, flip, roll, …) are gathers or indexings
whose gradients come from `Gather` and `GetItem`.
"""

from __future__ import annotations

from glassnet.autograd import Function
from glassnet.backend import array_module, is_array, np, scatter_add, ufunc_at
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
    prod: dL/dx = dL/dy · (the product of what else was combined there),   dL/dsrc likewise: y / x and y / src
          where the factor is not 0; at a zero the product of the others is formed again with that zero set to 1
          (PyTorch's formula: exact with zeros; a second derivative needs at most one 0 of src per place)
    amax, amin: the gradient is shared equally by every contributor equal to the result (as in PyTorch)"""

    def forward(self, x, src, index=None, axis=0, reduce="sum", include_self=True):
        self.reduce, self.index, self.axis, self.include_self = reduce, index, axis, include_self
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
            return self._prod_backward(gy)
        g = gy / self.ties
        return g * self.x_wins, g[where] * self.src_wins

    def _prod_backward(self, gy):
        """The gradients of reduce="prod", zeros included (PyTorch's scatter_reduce_backward)."""
        x, src, y = self.saved_tensors
        again = dict(index=self.index, axis=self.axis, reduce="prod", include_self=self.include_self)
        where = self.where
        # dL/dx: the product of the others is (y with x's zeros set to 1) / (x with its zeros set to 1)
        x_zero = _raw(x) == 0
        masked_x = np.where(x_zero, 1, x)
        gx = gy * ScatterReduce.call(masked_x, src, **again) / masked_x * self.self_counts
        # dL/dsrc: y / src where src ≠ 0; a zero that is the only zero at its place gets the product of the others
        raw_src = _raw(src)
        src_zero = raw_src == 0
        zeros_there = array_module(raw_src).zeros(_raw(x).shape, dtype=raw_src.dtype)
        scatter_add(zeros_there, where, src_zero.astype(raw_src.dtype))
        zeros_there = zeros_there[where]
        if not is_array(gy) and np.any(zeros_there > 1):
            raise NotImplementedError(
                "scatter_reduce(prod): the second derivative is not supported when more than one 0 of src is "
                "scattered to the same place (as in PyTorch)")
        single = src_zero & (zeros_there == 1)
        others = ScatterReduce.call(x, np.where(single, 1, src), **again)
        gsrc = np.where(single, (gy * others)[where], (gy * y)[where] / np.where(src_zero, 1, src))
        return gx, gsrc
