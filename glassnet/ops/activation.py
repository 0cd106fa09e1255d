"""Activation functions: the nonlinearities between layers, each with its derivative."""

from __future__ import annotations

import math

from glassnet.autograd import Function
from glassnet.backend import erf, is_array, np
from glassnet.kernels import float32_kernel
from glassnet.ops.linalg import sum_last


class Relu(Function):
    """y = max(x, 0);   dL/dx = dL/dy where x > 0, else 0"""

    def forward(self, x):
        y = np.maximum(x, 0)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (y > 0)


class LeakyRelu(Function):
    """y = x if x > 0 else s·x;   dL/dx = dL/dy · (1 if x > 0 else s)"""

    def forward(self, x, slope=0.01):
        self.slope = slope
        self.save_for_backward(x)
        return np.where(x > 0, x, x * slope)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return np.where(x > 0, gy, gy * self.slope)


class Elu(Function):
    """y = x if x > 0 else α(eˣ − 1), times `scale` (SELU);   dL/dx = dL/dy · scale · (1 if x > 0 else α eˣ)"""

    def forward(self, x, alpha=1.0, scale=1.0):
        self.alpha, self.scale = alpha, scale
        self.save_for_backward(x)
        return scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))

    def backward(self, gy):
        (x,) = self.saved_tensors
        negative_slope = self.alpha * np.exp(np.minimum(x, 0))
        return gy * self.scale * np.where(x > 0, 1.0, negative_slope)


class Sigmoid(Function):
    """y = 1 / (1 + e⁻ˣ);   dL/dx = dL/dy · y(1 − y)"""

    def forward(self, x):
        y = stable_sigmoid(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * y * (1 - y)


def stable_sigmoid(x):
    """1 / (1 + e⁻ˣ) without overflow: e^{−|x|} ≤ 1, and the branch picks 1/(1 + e) or e/(1 + e) by the sign of x."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Tanh(Function):
    """y = tanh x;   dL/dx = dL/dy · (1 − y²)"""

    exact_gradients = True  # elementwise: dL/dy has y's shape and dtype, and so has the result

    def forward(self, x):
        y = np.tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (1 - y * y)


class Silu(Function):
    """y = x·σ(x);   dL/dx = dL/dy · σ(x)(1 + x(1 − σ(x)))"""

    def forward(self, x):
        self.save_for_backward(x)
        return x * stable_sigmoid(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        s = stable_sigmoid(x)
        return gy * s * (1 + x * (1 - s))


class Softplus(Function):
    """y = log(1 + e^{βx})/β (linear above the threshold);   dL/dx = dL/dy · σ(βx)"""

    def forward(self, x, beta=1.0, threshold=20.0):
        self.beta, self.threshold = beta, threshold
        self.save_for_backward(x)
        bx = x * beta
        return np.where(bx > threshold, x, np.logaddexp(0, bx) / beta)

    def backward(self, gy):
        (x,) = self.saved_tensors
        bx = x * self.beta
        return np.where(bx > self.threshold, gy, gy * stable_sigmoid(bx))


class Hardtanh(Function):
    """y = clip(x, lo, hi);   dL/dx = dL/dy where lo < x < hi, else 0 (PyTorch's convention at the edges)"""

    def forward(self, x, lo=-1.0, hi=1.0):
        self.lo, self.hi = lo, hi
        self.save_for_backward(x)
        return np.clip(x, lo, hi)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * ((x > self.lo) & (x < self.hi))


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_GELU_SLOPE_1 = 2 * _SQRT_2_OVER_PI  # 2σ(1 − σ)·du/dx = (1 − σ)·σ·(_GELU_SLOPE_1 + _GELU_SLOPE_X2·x²)
_GELU_SLOPE_X2 = 2 * _SQRT_2_OVER_PI * 3 * 0.044715


class Gelu(Function):
    """y = x·Φ(x);   dL/dx = dL/dy · (Φ(x) + x·φ(x))   — Φ, φ: the normal CDF and density.
    approximate='tanh': Φ(x) ≈ ½(1 + tanh u) = σ(2u),  u = √(2/π)(x + 0.044715x³),
    so y = x·σ(2u) and dy/dx = σ + x·2σ(1 − σ)·√(2/π)(1 + 3·0.044715x²)   (σ = σ(2u))

    Fast path (glassnet/fast_paths.py): the tanh form is computed in place on arrays, through exp.
    Reference: the recorded formula of its create_graph branch. With GLASSNET_KERNELS=numba, the tanh form on a
    contiguous float32 array is one compiled pass each way (glassnet/kernels.py `gelu_tanh_forward`/`_backward`:
    the forward's tanh within 3e-7, the backward the same float32 steps as the in-place code below, the same bits).
    """

    def forward(self, x, approximate="none"):
        self.approximate = approximate
        self.save_for_backward(x)
        if approximate == "tanh" and (fused := float32_kernel("gelu_tanh_forward", x, contiguous=True)) is not None:
            y, self.s = np.empty_like(x), np.empty_like(x)
            fused(x.reshape(-1), y.reshape(-1), self.s.reshape(-1))
            return y
        if approximate == "tanh":
            # x·σ(2u) = x / (1 + e^(−2u)) in place (NumPy's float32 exp costs half its tanh); σ(2u) kept for backward
            e = np.multiply(x, x, out=np.empty_like(x))  # out=: an array even for 0-d x, so exp can write into it
            e *= 0.044715
            e += 1
            e *= x
            e *= -2 * _SQRT_2_OVER_PI
            with np.errstate(over="ignore"):  # e^(−2u) = ∞ for x ≪ 0: y is then −0 and σ 0, as they should be
                np.exp(e, out=e)
            e += 1
            y = np.divide(x, e)
            self.s = np.divide(1, e, out=e)
            return y
        return 0.5 * x * (1 + _erf_any(x * _INV_SQRT_2))

    def backward(self, gy):
        (x,) = self.saved_tensors
        if self.approximate == "tanh" and (fused := float32_kernel("gelu_tanh_backward", x, gy, contiguous=True)):
            gx = np.empty_like(x)
            fused(gy.reshape(-1), x.reshape(-1), self.s.reshape(-1), gx.reshape(-1))
            return gx
        if self.approximate == "tanh" and is_array(x):
            # dy/dx = σ·(1 + (1 − σ)·x·2√(2/π)(1 + 3·0.044715x²)), in place (kernels.gelu_tanh_backward: the same steps)
            s = self.s
            d = x * x
            d *= _GELU_SLOPE_X2
            d += _GELU_SLOPE_1
            d *= x
            d *= np.subtract(1, s, out=np.empty_like(s))
            d += 1
            d *= s
            d *= gy
            return d
        if self.approximate == "tanh":  # create_graph: the same derivative recorded on Tensors
            t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
            dt = (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return gy * (0.5 * (1 + t) + 0.5 * x * dt)
        cdf = 0.5 * (1 + _erf_any(x * _INV_SQRT_2))
        pdf = np.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return gy * (cdf + x * pdf)


def _erf_any(x):
    """erf on an array, or on a Tensor as a recorded op (so GELU's backward can be differentiated)."""
    return Erf.call(x)


class Erf(Function):
    """y = erf(x);   dL/dx = dL/dy · 2/√π · e^{−x²}"""

    def forward(self, x):
        self.save_for_backward(x)
        return erf(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * (2 / math.sqrt(math.pi)) * np.exp(-x * x)


def _max_or_zero(x, axis):
    """The max along `axis` (kept), the shift that keeps exp from overflowing; 0 for an empty tensor (no max)."""
    return np.max(x, axis=axis, keepdims=True) if x.size else x.sum(axis=axis, keepdims=True)


class Softmax(Function):
    """yᵢ = e^{xᵢ} / Σⱼ e^{xⱼ} along `axis`;   dL/dx = y ⊙ (dL/dy − Σ(dL/dy ⊙ y))"""

    def forward(self, x, axis=-1):
        self.axis = axis
        e = np.exp(x - _max_or_zero(x, axis))
        if _last(axis, e):  # the row sums as one matrix-vector product, then one multiply by their reciprocals
            e *= 1 / sum_last(e)
            y = e
        else:
            y = e / np.sum(e, axis=axis, keepdims=True)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        if self.axis in (-1, y.ndim - 1) and (fused := float32_kernel("softmax_backward", y, gy, contiguous=True)):
            gx = np.empty_like(y)  # glassnet/kernels.py `softmax_backward`: the formula below, one pass per row
            fused(gy.reshape(-1, y.shape[-1]), y.reshape(-1, y.shape[-1]), gx.reshape(-1, y.shape[-1]))
            return gx
        if _last(self.axis, y) and is_array(gy) and gy.dtype == y.dtype:
            gx = np.multiply(gy, y)
            np.subtract(gy, sum_last(gx), out=gx)
            gx *= y
            return gx
        return y * (gy - np.sum(gy * y, axis=self.axis, keepdims=True))


def _last(axis: int, a) -> bool:
    """Whether `axis` is the last axis of a float32/float64 array (where linalg.sum_last is a product with ones)."""
    return is_array(a) and a.ndim > 0 and axis in (-1, a.ndim - 1) and a.dtype.char in "fd"


class LogSoftmax(Function):
    """yᵢ = xᵢ − log Σⱼ e^{xⱼ} along `axis`;   dL/dx = dL/dy − softmax(x) · Σ dL/dy"""

    def forward(self, x, axis=-1):
        self.axis = axis
        shifted = x - _max_or_zero(x, axis)
        y = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy - np.exp(y) * np.sum(gy, axis=self.axis, keepdims=True)
