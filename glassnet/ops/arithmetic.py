"""Elementwise arithmetic and math functions: + − × ÷ ** and exp, log, sqrt, sin, ... with their derivatives.

Broadcasting is undone by the engine (`autograd.unbroadcast`): a backward here returns the gradient
at the broadcast shape and the engine sums it back down to each input's shape.
"""

from __future__ import annotations

from glassnet.autograd import Function
from glassnet.backend import device_of, is_array, np, to_device


class Add(Function):
    """y = a + b;   dL/da = dL/dy,   dL/db = dL/dy"""

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, gy


class Sub(Function):
    """y = a − b;   dL/da = dL/dy,   dL/db = −dL/dy"""

    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        return gy, -gy


class Mul(Function):
    """y = a · b;   dL/da = dL/dy · b,   dL/db = dL/dy · a"""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, gy):
        a, b = self.saved_tensors
        return gy * b, gy * a


class Div(Function):
    """y = a / b;   dL/da = dL/dy / b,   dL/db = −dL/dy · a / b²"""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a / b

    def backward(self, gy):
        a, b = self.saved_tensors
        ga = gy / b
        return ga, -ga * a / b


class Neg(Function):
    """y = −x;   dL/dx = −dL/dy"""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Pow(Function):
    """y = aᵇ;   dL/da = dL/dy · b · aᵇ⁻¹ (0 where b = 0),   dL/db = dL/dy · aᵇ · ln a   (0 where a = 0 and b ≥ 0)"""

    def forward(self, a, b):
        y = a**b
        self.save_for_backward(a, b, y)
        return y

    def backward(self, gy):
        a, b, y = self.saved_tensors
        if isinstance(b, (int, float)):
            ga = gy * 0 if b == 0 else gy * b * a ** (b - 1)
            return ga, None
        with np.errstate(divide="ignore", invalid="ignore"):
            ga = np.where(b == 0, 0.0, gy * b * a ** (b - 1))  # 0⁰: no 0·∞
            gb = np.where((a == 0) & (b >= 0), 0.0, gy * y * np.log(a))
        return ga, gb


class Exp(Function):
    """y = eˣ;   dL/dx = dL/dy · y"""

    def forward(self, x):
        y = np.exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * y


class Log(Function):
    """y = ln x;   dL/dx = dL/dy / x"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.log(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / x


class Log1p(Function):
    """y = ln(1 + x);   dL/dx = dL/dy / (1 + x)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.log1p(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / (1 + x)


class Sqrt(Function):
    """y = √x;   dL/dx = dL/dy / (2y)"""

    def forward(self, x):
        y = np.sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy / (2 * y)


class Rsqrt(Function):
    """y = 1/√x;   dL/dx = −dL/dy · y³ / 2"""

    def forward(self, x):
        y = 1 / np.sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return -0.5 * gy * y * y * y


class Sin(Function):
    """y = sin x;   dL/dx = dL/dy · cos x"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.sin(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * np.cos(x)


class Cos(Function):
    """y = cos x;   dL/dx = −dL/dy · sin x"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.cos(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return -gy * np.sin(x)


def nan_to_zero_sign(x):
    """torch.sign: −1, 0 or 1, and 0 for NaN (np.sign gives NaN); on a Tensor np.sign is already the Sign op."""
    y = np.sign(x)
    return np.where(np.isnan(y), 0, y) if is_array(y) and y.dtype.kind == "f" else y


class Abs(Function):
    """y = |x|;   dL/dx = dL/dy · sign(x)   (0 at x = 0, and at x = NaN, as in PyTorch)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.abs(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * nan_to_zero_sign(x)


class Maximum(Function):
    """y = max(a, b);   the gradient goes to the larger input, split in half on ties (as in PyTorch)"""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.maximum(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        share_a = (a > b) + 0.5 * (a == b)
        return gy * share_a, gy * (1 - share_a)


class Minimum(Function):
    """y = min(a, b);   the gradient goes to the smaller input, split in half on ties (as in PyTorch)"""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.minimum(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        share_a = (a < b) + 0.5 * (a == b)
        return gy * share_a, gy * (1 - share_a)


class Clamp(Function):
    """y = min(max(x, lo), hi);   dL/dx = dL/dy where lo ≤ x ≤ hi, else 0"""

    def forward(self, x, lo=None, hi=None):
        self.save_for_backward(x)
        self.lo, self.hi = lo, hi
        return np.clip(x, lo, hi)

    def backward(self, gy):
        (x,) = self.saved_tensors
        inside = True
        if self.lo is not None:
            inside = x >= self.lo
        if self.hi is not None:
            inside = inside & (x <= self.hi)
        return gy * inside


class ClampTensor(Function):
    """y = min(max(x, lo), hi) with tensor bounds (either may be None);   dL/dx = dL/dy where lo ≤ x ≤ hi,
    dL/dlo = dL/dy where x < lo (and lo < hi),   dL/dhi = dL/dy where x > hi (or hi < lo)   (as in PyTorch)"""

    def forward(self, x, lo=None, hi=None):
        self.save_for_backward(x, lo, hi)
        y = x if lo is None else np.maximum(x, lo)
        return y if hi is None else np.minimum(y, hi)

    def backward(self, gy):
        x, lo, hi = self.saved_tensors
        if hi is None:
            return np.where(x >= lo, gy, 0.0), np.where(x < lo, gy, 0.0), None
        if lo is None:
            return np.where(x <= hi, gy, 0.0), None, np.where(x > hi, gy, 0.0)
        return (np.where((x >= lo) & (x <= hi), gy, 0.0), np.where((x < lo) & (lo < hi), gy, 0.0),
                np.where((x > hi) | (hi < lo), gy, 0.0))


class Where(Function):
    """y = a where cond else b;   dL/da = dL/dy · cond,   dL/db = dL/dy · (1 − cond)"""

    def forward(self, cond, a, b):
        self.cond = cond
        return np.where(cond, a, b)

    def backward(self, gy):
        return None, np.where(self.cond, gy, 0.0), np.where(self.cond, 0.0, gy)


class ToDevice(Function):
    """y = x copied to another device;   dL/dx = dL/dy copied back to x's device"""

    def forward(self, x, device=None):
        self.source = device_of(x)
        return to_device(x, device)

    def backward(self, gy):
        return ToDevice.call(gy, device=self.source)


class Cast(Function):
    """y = x converted to another dtype;   dL/dx = dL/dy converted back"""

    def forward(self, x, dtype=None):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, gy):
        return gy.astype(self.in_dtype)
