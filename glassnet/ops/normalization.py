"""Normalization ops: batch norm, layer norm and group norm, each one fused Function.

All three standardise x over some axes, then scale and shift it (γ, β broadcast over the other axes):

    μ = mean(x),   σ² = mean((x − μ)²),   x̂ = (x − μ) / √(σ² + ε),   y = γ·x̂ + β

and all three share one backward for the standardisation (the means are over the same axes):

    dL/dx̂ = dL/dy · γ
    dL/dx  = (dL/dx̂ − mean(dL/dx̂) − x̂ · mean(dL/dx̂ · x̂)) / √(σ² + ε)
    dL/dγ  = Σ dL/dy · x̂,   dL/dβ = Σ dL/dy   (summed over the axes γ is broadcast along)

They differ only in the axes: batch norm averages over the batch and positions of each channel, layer
norm over the trailing `normalized_shape` of each sample, group norm over the channels of each group
of each sample. Written as one Function each, a norm is one node of the graph, with x̂ and 1/σ kept
for its backward, instead of the dozen nodes (and saved intermediates) of the composite
`(x - x.mean(d, keepdim=True)) / (x.var(d, keepdim=True, correction=0) + eps).sqrt() * w + b`.

The backward methods are written in `np.*` on the saved input, so with create_graph=True the same
code runs on Tensors: μ and σ are then recomputed from x on the graph, and second derivatives follow.
"""

from __future__ import annotations

from glassnet.autograd import Function
from glassnet.backend import is_array, np
from glassnet.kernels import float32_kernel
from glassnet.ops.linalg import sum_last, sum_rows
from glassnet.ops.reduction import _sum


def _count(shape: tuple, axes: tuple) -> int:
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _mean(a, axes: tuple, n: int):
    """mean over `axes` (kept as size-1 dims); on arrays or Tensors (`_sum`: no NumPy warning leaks on ∞ or NaN)."""
    total = _sum(a, axes, True) if is_array(a) else np.sum(a, axis=axes, keepdims=True)
    return total * (1.0 / max(n, 1))


def _centre(x, axes: tuple):
    """μ, the biased σ² and x − μ over `axes` (μ, σ² kept as size-1 dims); on arrays or Tensors."""
    n = _count(x.shape, axes)
    mean = _mean(x, axes, n)
    centred = x - mean
    return mean, _mean(centred * centred, axes, n), centred


def _standardize(x, axes: tuple, eps: float):
    """x̂ = (x − μ)/√(σ² + ε) over `axes`, and 1/√(σ² + ε); on arrays or Tensors."""
    _, var, centred = _centre(x, axes)
    rstd = 1.0 / np.sqrt(var + eps)
    return centred * rstd, rstd


def standardize_backward(g, xhat, rstd, axes: tuple):
    """dL/dx of x̂ = (x − μ)·rstd over `axes`, given g = dL/dx̂:  (g − mean(g) − x̂·mean(g·x̂))·rstd"""
    n = _count(xhat.shape, axes)
    return (g - _mean(g, axes, n) - xhat * _mean(g * xhat, axes, n)) * rstd


def _on_graph(saved) -> bool:
    """True when backward is being recorded (create_graph=True): saved values then come back as Tensors."""
    return not is_array(saved)


def _affine(xhat, weight, bias, shape: tuple):
    """γ·x̂ + β with γ, β reshaped to broadcast (either may be None)."""
    y = xhat if weight is None else xhat * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _affine_backward(fn, gy, xhat, weight, bias, shape: tuple, axes: tuple, need_gxhat: bool = True):
    """(dL/dx̂, dL/dγ, dL/dβ) of y = γ·x̂ + β; dL/dγ and dL/dβ only for inputs that need them."""
    gxhat = gy if weight is None or not need_gxhat else gy * weight.reshape(shape)
    gw = gb = None
    if weight is not None and _wants_grad(fn, 1):
        gw = np.sum(gy * xhat, axis=axes).reshape(weight.shape)
    if bias is not None and _wants_grad(fn, 2):
        gb = np.sum(gy, axis=axes).reshape(bias.shape)
    return gxhat, gw, gb


def _wants_grad(fn: Function, i: int) -> bool:
    inp = fn.inputs[i] if i < len(fn.inputs) else None
    return getattr(inp, "requires_grad", False)


class BatchNorm(Function):
    """Batch normalization of x of shape (N, C, *): statistics per channel, over the batch and positions.

    training:  μ, σ² of this batch (σ² biased), and the running buffers move towards them in place:
               running_mean ← (1 − m)·running_mean + m·μ,   running_var ← (1 − m)·running_var + m·σ²·n/(n − 1)
    eval:      μ, σ² are the running buffers (constants), so dL/dx = dL/dy · γ / √(running_var + ε)
    """

    def forward(self, x, weight, bias, running_mean=None, running_var=None, training=True, momentum=0.1, eps=1e-5):
        self.shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        self.axes = (0,) + tuple(range(2, x.ndim))
        self.training, self.eps = training, eps
        if training:
            mean, var, centred = _centre(x, self.axes)
            if running_mean is not None or running_var is not None:
                self._update_running(mean, var, x.size // x.shape[1], running_mean, running_var, momentum)
        else:
            mean = running_mean.reshape(self.shape).astype(x.dtype)  # copies: later updates of the buffers
            var = running_var.reshape(self.shape).astype(x.dtype)  # must not change this backward
            centred = x - mean
        self.mean, self.rstd = mean, 1.0 / np.sqrt(var + eps)
        centred *= self.rstd
        self.xhat = centred  # x̂, kept for the backward
        self.save_for_backward(x, weight, bias)
        return _affine(self.xhat, weight, bias, self.shape)

    @staticmethod
    def _update_running(mean, var, n, running_mean, running_var, momentum):
        unbiased = var * (n / max(n - 1, 1))  # the caller has checked that n > 1
        for buffer, stat in ((running_mean, mean), (running_var, unbiased)):
            if buffer is not None:
                buffer *= 1.0 - momentum
                buffer += momentum * stat.reshape(buffer.shape).astype(buffer.dtype)

    def backward(self, gy):
        x, weight, bias = self.saved_tensors
        xhat, rstd = self.xhat, self.rstd
        if _on_graph(x):  # recorded: x̂ (and, in training, μ and σ) as functions of x on the graph
            xhat, rstd = _standardize(x, self.axes, self.eps) if self.training else ((x - self.mean) * rstd, rstd)
        gxhat, gw, gb = _affine_backward(self, gy, xhat, weight, bias, self.shape, self.axes)
        if self.training:
            gx = standardize_backward(gxhat, xhat, rstd, self.axes)
        else:
            gx = gxhat * rstd
        return gx, gw, gb


class LayerNorm(Function):
    """Layer normalization: statistics per sample over the last `ndim` axes; γ, β have those axes' shape.

    With GLASSNET_KERNELS=numba, on C-contiguous float32 arrays with γ and β, forward and backward are one compiled
    pass per row (glassnet/kernels.py `layer_norm_forward`/`_backward`): the formulas above, with each row's sums
    taken in row order rather than NumPy's pairwise order (equal to 1e-5; tests/test_kernels.py).
    """

    def forward(self, x, weight, bias, ndim=1, eps=1e-5):
        self.axes = tuple(range(x.ndim - ndim, x.ndim))
        self.lead = tuple(range(x.ndim - ndim))
        self.shape, self.eps = x.shape[x.ndim - ndim:], eps
        self.rows = False
        self.fused = _layer_norm_kernel("layer_norm_forward", x, weight, bias)
        if self.fused is not None:
            width = _count(x.shape, self.axes)
            y, self.xhat = np.empty_like(x), np.empty_like(x)
            self.rstd = np.empty(x.shape[: x.ndim - ndim] + (1,) * ndim, dtype=x.dtype)
            self.fused(x.reshape(-1, width), weight.reshape(-1), bias.reshape(-1), np.float32(eps),
                       y.reshape(-1, width), self.xhat.reshape(-1, width), self.rstd.reshape(-1))
            self.save_for_backward(x, weight, bias)
            return y
        self.rows = _rows_layout(x, weight, bias, ndim)
        if self.rows:
            y = self._forward_rows(x, weight, bias, eps)
            self.save_for_backward(x, weight, bias)
            return y
        self.xhat, self.rstd = _standardize(x, self.axes, eps)  # x̂ and 1/σ, kept for the backward
        self.save_for_backward(x, weight, bias)
        return _affine(self.xhat, weight, bias, self.shape)

    def _forward_rows(self, x, weight, bias, eps):
        """forward() over the last axis of a float32/float64 array, with the row sums as products with ones
        (linalg.sum_last: NumPy's last-axis reduction of 128-wide rows costs several times more) and x̂ and y
        made in place. Fast path (glassnet/fast_paths.py). Reference: _standardize and _affine."""
        scale = 1.0 / max(x.shape[-1], 1)
        centred = x - sum_last(x) * scale
        squares = centred * centred
        rstd = sum_last(squares) * scale
        rstd += eps
        np.sqrt(rstd, out=rstd)
        self.rstd = np.divide(1.0, rstd, out=rstd)
        centred *= self.rstd
        self.xhat = centred
        y = np.multiply(centred, weight, out=squares) if weight is not None else centred.copy()
        if bias is not None:
            y += bias
        return y

    def backward(self, gy):
        x, weight, bias = self.saved_tensors
        xhat, rstd = self.xhat, self.rstd
        if _on_graph(x):  # recorded: x̂ and σ as functions of x on the graph
            xhat, rstd = _standardize(x, self.axes, self.eps)
        elif self.fused is not None and (fused := _layer_norm_kernel("layer_norm_backward", gy, weight, xhat)):
            width = _count(x.shape, self.axes)
            gx = np.empty_like(x)
            fused(gy.reshape(-1, width), weight.reshape(-1), xhat.reshape(-1, width), rstd.reshape(-1),
                  gx.reshape(-1, width))
            _, gw, gb = _affine_backward(self, gy, xhat, weight, bias, self.shape, self.lead, need_gxhat=False)
            return gx, gw, gb
        if self.rows and is_array(gy) and gy.dtype == xhat.dtype:
            return self._backward_rows(gy, xhat, rstd, weight, bias)
        gxhat, gw, gb = _affine_backward(self, gy, xhat, weight, bias, self.shape, self.lead)
        return standardize_backward(gxhat, xhat, rstd, self.axes), gw, gb

    def _backward_rows(self, gy, xhat, rstd, weight, bias):
        """backward() for _forward_rows: (g − mean(g) − x̂·mean(g·x̂))·rstd with g = dL/dy·γ, the row means and the
        sums over the batch rows (dL/dγ, dL/dβ) as products with ones, the result made in place.
        Fast path (glassnet/fast_paths.py). Reference: _affine_backward and standardize_backward."""
        width = xhat.shape[-1]
        scale = 1.0 / max(width, 1)
        gy_rows = gy.reshape(-1, width)
        gw = gb = None
        if weight is not None and _wants_grad(self, 1):
            gw = sum_rows(np.multiply(gy_rows, xhat.reshape(-1, width))).reshape(weight.shape)
        if bias is not None and _wants_grad(self, 2):
            gb = sum_rows(gy_rows).reshape(bias.shape)
        g = gy * weight if weight is not None else gy.copy()
        g_xhat = g * xhat
        mean_g_xhat = sum_last(g_xhat) * scale
        g -= sum_last(g) * scale
        g -= np.multiply(xhat, mean_g_xhat, out=g_xhat)
        g *= rstd
        return g, gw, gb


def _rows_layout(x, weight, bias, ndim: int) -> bool:
    """Whether LayerNorm takes its row fast path: one normalised axis, the last, of a float32/float64 array (on any
    device) with γ and β (if any) arrays of its dtype."""
    return (
        ndim == 1
        and is_array(x)
        and x.ndim > 0
        and x.dtype.char in "fd"
        and all(p is None or (is_array(p) and p.dtype == x.dtype) for p in (weight, bias))
    )


def _layer_norm_kernel(name: str, x, weight, bias):
    """The compiled kernel `name` when kernels are on, x, γ, β are C-contiguous float32 arrays (γ, β not None)."""
    if weight is None or bias is None or x.ndim == 0:
        return None
    return float32_kernel(name, x, weight, bias, contiguous=True)


class GroupNorm(Function):
    """Group normalization of x of shape (N, C, *): the C channels form `num_groups` groups, and each group
    of each sample is standardised over its channels and positions; γ, β are per channel."""

    def forward(self, x, weight, bias, num_groups=1, eps=1e-5):
        n, c = x.shape[:2]
        self.grouped = (n, num_groups, c // num_groups * _count(x.shape, tuple(range(2, x.ndim))))  # (N, G, rest)
        self.shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        self.axes = (0,) + tuple(range(2, x.ndim))
        self.eps = eps
        self.xhat_g, self.rstd = _standardize(x.reshape(self.grouped), (2,), eps)  # kept for the backward
        self.save_for_backward(x, weight, bias)
        return _affine(self.xhat_g.reshape(x.shape), weight, bias, self.shape)

    def backward(self, gy):
        x, weight, bias = self.saved_tensors
        xhat_g, rstd = self.xhat_g, self.rstd
        if _on_graph(x):  # recorded: x̂ and σ as functions of x on the graph
            xhat_g, rstd = _standardize(x.reshape(self.grouped), (2,), self.eps)
        gxhat, gw, gb = _affine_backward(self, gy, xhat_g.reshape(x.shape), weight, bias, self.shape, self.axes)
        gx = standardize_backward(gxhat.reshape(self.grouped), xhat_g, rstd, (2,))
        return gx.reshape(x.shape), gw, gb
