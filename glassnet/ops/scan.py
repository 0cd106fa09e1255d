"""Scans (running reductions along one axis): cumsum, cumprod and logcumsumexp with their derivatives.

cummax/cummin need no op of their own: their values are a gather of x at the running arg-max (see
`glassnet/functions.py`), and Gather's backward sends each gradient to the element that was picked.
"""

from __future__ import annotations

from glassnet.autograd import Function
from glassnet.backend import accumulate, np


def _raw(value):
    return value.data if hasattr(value, "grad_fn") else value


class Cumsum(Function):
    """yᵢ = Σ_{j≤i} xⱼ along `axis` (reverse=True: Σ_{j≥i});   dL/dxⱼ = Σ_{i≥j} dL/dyᵢ — the reverse scan of dL/dy
    (and the forward scan for reverse=True)"""

    def forward(self, x, axis=0, reverse=False):
        self.axis, self.reverse = axis, reverse
        with np.errstate(invalid="ignore", over="ignore"):  # ∞ + (−∞) gives NaN silently, as in PyTorch
            if reverse:
                return np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)
            return np.cumsum(x, axis=axis)

    def backward(self, gy):
        return Cumsum.call(gy, axis=self.axis, reverse=not self.reverse)


class Cumprod(Function):
    """yᵢ = Π_{j≤i} xⱼ along `axis`;   dL/dxⱼ = Σ_{i≥j} dL/dyᵢ · Π_{k≤i, k≠j} xₖ
    = (Σ_{i≥j} dL/dyᵢ · yᵢ) / xⱼ when no x is 0 (otherwise the products are formed without dividing)"""

    def forward(self, x, axis=0):
        self.axis = axis
        with np.errstate(invalid="ignore", over="ignore"):  # ∞ · 0 gives NaN silently, as in PyTorch
            y = np.cumprod(x, axis=axis)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        if np.all(_raw(x) != 0):
            return Cumsum.call(gy * y, axis=self.axis, reverse=True) / x
        return np.swapaxes(
            _cumprod_grad_with_zeros(np.swapaxes(x, self.axis, -1), np.swapaxes(gy, self.axis, -1)), self.axis, -1
        )


def _cumprod_grad_with_zeros(x, gy):
    """Σ_{i≥j} gyᵢ · Π_{k≤i, k≠j} xₖ along the last axis, one j at a time (O(n²), no division, as PyTorch does
    with zeros in grad mode). Written in ops that Tensors record too, so it is differentiated again exactly: the
    products that leave out xⱼ still depend on the other inputs, zeros included."""
    n = x.shape[-1]
    columns = []
    left = None  # Π_{k<j} xₖ (None: the empty product, 1)
    for j in range(n):
        inner = gy[..., j]
        if j + 1 < n:
            after = Cumprod.call(x[..., j + 1 :], axis=-1)  # Π_{j<k≤i} xₖ for i = j+1 … n−1
            with np.errstate(invalid="ignore", over="ignore"):  # NumPy's np.sum: outside the engine's filter
                inner = inner + np.sum(gy[..., j + 1 :] * after, axis=-1)
        columns.append(inner if left is None else left * inner)
        left = x[..., j] if left is None else left * x[..., j]
    return np.stack(columns, axis=-1)


class LogCumSumExp(Function):
    """yᵢ = log Σ_{j≤i} e^{xⱼ} along `axis` (stably);   dL/dxⱼ = Σ_{i≥j} dL/dyᵢ · e^{xⱼ − yᵢ}
    (each factor ≤ 1, since yᵢ ≥ xⱼ for i ≥ j)"""

    def forward(self, x, axis=0):
        self.axis = axis
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            y = accumulate(np.logaddexp, x, axis) if x.size else x.copy()  # np.logaddexp.accumulate, on any device
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        n = _raw(x).shape[self.axis] if _raw(x).ndim else 1
        xs = np.swapaxes(x, self.axis, -1) if _raw(x).ndim else x.reshape((1,))
        ys = np.swapaxes(y, self.axis, -1) if _raw(x).ndim else y.reshape((1,))
        gs = np.swapaxes(gy, self.axis, -1) if _raw(x).ndim else gy.reshape((1,))
        later = np.triu(np.ones_like(_raw(x), shape=(n, n), dtype=bool))  # later[j, i]: i ≥ j
        with np.errstate(over="ignore", invalid="ignore"):
            # e^{xⱼ − yᵢ} for every pair (j, i), masked to i ≥ j, weighted by dL/dyᵢ and summed over i
            pair = np.where(later, np.exp(xs[..., :, None] - ys[..., None, :]), 0.0)
        gx = np.sum(pair * gs[..., None, :], axis=-1)
        return np.swapaxes(gx, self.axis, -1) if _raw(x).ndim else gx.reshape(())
