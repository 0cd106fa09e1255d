"""Scans (running reductions along one axis): cumsum, cumprod and logcumsumexp with their derivatives.

cummax/cummin need no op of their own: their values are a gather of x at the running arg-max (see
`glassnet/functions.py`), and Gather's backward sends each gradient to the element that was picked.
"""

from __future__ import annotations

from glassnet.autograd import Function
from glassnet.backend import accumulate, array_module, is_array, np
from glassnet.ops.reduction import Prod


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
    = (Σ_{i≥j} dL/dyᵢ · yᵢ) / xⱼ when no x is 0 (otherwise the products are formed without dividing).

    With zeros, PyTorch takes one of two formulas, and so does glassnet, so that ∞ · 0 gives NaN in the same places:
    a first-order backward (arrays) the O(n) one PyTorch uses outside grad mode (`_cumprod_grad_first_zero`), a
    create_graph backward (Tensors) the O(n²) one it uses in grad mode, which is differentiated again exactly."""

    def forward(self, x, axis=0):
        self.axis = axis
        with np.errstate(invalid="ignore", over="ignore"):  # ∞ · 0 gives NaN silently, as in PyTorch
            y = np.cumprod(x, axis=axis)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        if x.shape[self.axis] == 1:  # y = x: dL/dx = dL/dy, also for x = ±∞ (where the quotient would be NaN)
            return gy
        if np.all(_raw(x) != 0):
            with np.errstate(invalid="ignore", over="ignore"):  # ∞ / ∞ gives NaN silently, as in PyTorch
                return Cumsum.call(gy * y, axis=self.axis, reverse=True) / x
        last = lambda a: np.swapaxes(a, self.axis, -1)  # noqa: E731 - the scanned axis last, and back
        if is_array(gy):
            return last(_cumprod_grad_first_zero(last(x), last(y), last(gy)))
        return last(_cumprod_grad_with_zeros(last(x), last(gy)))


def _cumprod_grad_first_zero(x, y, gy):
    """The gradient of cumprod along the last axis in O(n), arrays only (PyTorch's cumprod_backward outside grad mode):
    before the first zero z, (Σ_{i≥j} dL/dyᵢ · yᵢ) / xⱼ over i < z; at z, y_{z−1} · Σ_{i≥z} dL/dyᵢ · Π_{z<k≤i} xₖ
    (up to the second zero, after which the gradients are 0 there); after z, 0."""
    xp = array_module(x)
    zeros_so_far = np.cumsum(x == 0, axis=-1)
    before = zeros_so_far == 0
    after_first = zeros_so_far == 1
    positions = xp.arange(x.shape[-1])
    at_first = (positions == np.argmax(after_first, axis=-1)[..., None]) & after_first
    between = after_first & ~at_first  # after the first zero, before the second
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # ∞ · 0, ∞ / ∞: NaN, as in PyTorch
        w = np.where(before, gy * y, 0)
        head = np.flip(np.cumsum(np.flip(w, -1), axis=-1), -1) / x
        tail = (np.cumprod(np.where(between, x, 1), axis=-1) * np.where(after_first, gy, 0)).sum(-1, keepdims=True)
        prefix = np.concatenate([xp.ones_like(y[..., :1]), y[..., :-1]], axis=-1)  # y_{j−1}, with y₋₁ = 1
        return np.where(before, head, np.where(at_first, tail * prefix, 0))


def _cumprod_grad_with_zeros(x, gy):
    """Σ_{i≥j} gyᵢ · Π_{k≤i, k≠j} xₖ along the last axis, one j at a time (O(n²), no division, as PyTorch does
    with zeros in grad mode, grouped as it does: each product Π_{k≤i, k≠j} xₖ formed before it meets gyᵢ). Written
    in ops that Tensors record too, so it is differentiated again exactly: the products that leave out xⱼ still
    depend on the other inputs, zeros included."""
    n = x.shape[-1]
    columns = []
    with np.errstate(invalid="ignore", over="ignore"):  # ∞ · 0 gives NaN silently, as in PyTorch
        for j in range(n):
            left = None if j == 0 else Prod.call(x[..., :j], axis=-1)  # Π_{k<j} xₖ (None: the empty product, 1)
            inner = gy[..., j] if left is None else gy[..., j] * left
            if j + 1 < n:
                omitted = Cumprod.call(x[..., j + 1 :], axis=-1)  # Π_{j<k≤i} xₖ for i = j+1 … n−1
                if left is not None:
                    omitted = left[..., None] * omitted
                inner = inner + np.sum(gy[..., j + 1 :] * omitted, axis=-1)
            columns.append(inner)
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
