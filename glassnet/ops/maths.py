"""More elementwise maths: rounding, remainders, logs and exponentials in other bases, trigonometric and
hyperbolic functions and their inverses, erf and friends, two-argument functions (atan2, hypot, logaddexp,
copysign, xlogy), each with its derivative.

A step function (floor, ceil, round, trunc, sign) is flat almost everywhere: its gradient is 0, as in PyTorch.
Values where a function is undefined (log2 of a negative number, asin outside [−1, 1]) give NaN, as in PyTorch
(NumPy's warnings about them are silenced for the engine's modules: see `glassnet/ops/__init__.py`).
"""

from __future__ import annotations

import math

from glassnet.autograd import Function
from glassnet.backend import np
from glassnet.ops.activation import erf
from glassnet.ops.arithmetic import nan_to_zero_sign


def _raw(value):
    """The array inside a Tensor (backward runs on Tensors when it is recorded), or the value itself."""
    return value.data if hasattr(value, "grad_fn") else value


def _zero_like(gy):
    """A constant gradient of zeros shaped like gy (gy·0 would not be 0 where gy holds NaN or Inf)."""
    return np.zeros_like(_raw(gy))


# ----- steps: zero gradient --------------------------------------------------------------------------------
class Floor(Function):
    """y = ⌊x⌋;   dL/dx = 0"""

    def forward(self, x):
        return np.floor(x)

    def backward(self, gy):
        return _zero_like(gy)


class Ceil(Function):
    """y = ⌈x⌉;   dL/dx = 0"""

    def forward(self, x):
        return np.ceil(x)

    def backward(self, gy):
        return _zero_like(gy)


class Trunc(Function):
    """y = x rounded toward 0;   dL/dx = 0"""

    def forward(self, x):
        return np.trunc(x)

    def backward(self, gy):
        return _zero_like(gy)


class Round(Function):
    """y = x rounded to `decimals` places, halves to even (as PyTorch);   dL/dx = 0"""

    def forward(self, x, decimals=0):
        return np.round(x, decimals)

    def backward(self, gy):
        return _zero_like(gy)


class Sign(Function):
    """y = −1, 0 or 1 (0 for NaN, as torch.sign, where NumPy's sign gives NaN);   dL/dx = 0"""

    def forward(self, x):
        return nan_to_zero_sign(x)

    def backward(self, gy):
        return _zero_like(gy)


class Frac(Function):
    """y = x − trunc(x);   dL/dx = dL/dy"""

    def forward(self, x):
        return x - np.trunc(x)

    def backward(self, gy):
        return gy


class Remainder(Function):
    """y = a − b·⌊a/b⌋ (the sign of b, Python's %);   dL/da = dL/dy,   dL/db = −dL/dy · ⌊a/b⌋"""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.remainder(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        return gy, -gy * Floor.call(a / b)


class Fmod(Function):
    """y = a − b·trunc(a/b) (the sign of a, C's fmod);   dL/da = dL/dy,   dL/db = −dL/dy · trunc(a/b)"""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.fmod(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        return gy, -gy * Trunc.call(a / b)


# ----- exponentials and logarithms --------------------------------------------------------------------------
class Log2(Function):
    """y = log₂ x;   dL/dx = dL/dy / (x ln 2)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.log2(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / (x * math.log(2))


class Log10(Function):
    """y = log₁₀ x;   dL/dx = dL/dy / (x ln 10)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.log10(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / (x * math.log(10))


class Exp2(Function):
    """y = 2ˣ;   dL/dx = dL/dy · y ln 2"""

    def forward(self, x):
        y = np.exp2(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * y * math.log(2)


class Expm1(Function):
    """y = eˣ − 1 (accurate near 0);   dL/dx = dL/dy · (y + 1)"""

    def forward(self, x):
        y = np.expm1(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (y + 1)


class LogAddExp(Function):
    """y = ln(eᵃ + eᵇ) (stably);   dL/da = dL/dy · σ(a − b),   dL/db = dL/dy · σ(b − a)"""

    def forward(self, a, b):
        y = np.logaddexp(a, b)
        self.save_for_backward(a, b, y)
        return y

    def backward(self, gy):
        a, b, y = self.saved_tensors
        return gy * np.exp(a - y), gy * np.exp(b - y)


class Xlogy(Function):
    """y = a · ln b (0 where a = 0, NaN where b is NaN);   dL/da = dL/dy · xlogy(a ≠ 0, b),   dL/db = dL/dy · a / b"""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        y = a * np.log(b)
        y = np.where(a == 0, 0, y)
        return np.where(np.isnan(b), b, y).astype(y.dtype)

    def backward(self, gy):
        a, b = self.saved_tensors
        nonzero = np.not_equal(_raw(a), 0).astype(_raw(gy).dtype)  # (a may be a Python number)
        return gy * Xlogy.call(nonzero, b), gy * a / b


# ----- trigonometric and hyperbolic --------------------------------------------------------------------------
class Tan(Function):
    """y = tan x;   dL/dx = dL/dy · (1 + y²)"""

    def forward(self, x):
        y = np.tan(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (1 + y * y)


class Asin(Function):
    """y = arcsin x;   dL/dx = dL/dy / √(1 − x²)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.arcsin(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / np.sqrt(1 - x * x)


class Acos(Function):
    """y = arccos x;   dL/dx = −dL/dy / √(1 − x²)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.arccos(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return -gy / np.sqrt(1 - x * x)


class Atan(Function):
    """y = arctan x;   dL/dx = dL/dy / (1 + x²)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.arctan(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / (1 + x * x)


class Atan2(Function):
    """y = atan2(a, b) (the angle of the point (b, a));   dL/da = dL/dy · b / (a² + b²),
    dL/db = −dL/dy · a / (a² + b²)"""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.arctan2(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        r2 = a * a + b * b
        return gy * b / r2, -gy * a / r2


class Sinh(Function):
    """y = sinh x;   dL/dx = dL/dy · cosh x"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.sinh(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * Cosh.call(x)


class Cosh(Function):
    """y = cosh x;   dL/dx = dL/dy · sinh x"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.cosh(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * Sinh.call(x)


class Asinh(Function):
    """y = arsinh x;   dL/dx = dL/dy / √(x² + 1)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.arcsinh(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / np.sqrt(x * x + 1)


class Acosh(Function):
    """y = arcosh x (x ≥ 1);   dL/dx = dL/dy / √(x² − 1)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.arccosh(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / np.sqrt(x * x - 1)


class Atanh(Function):
    """y = artanh x (|x| < 1);   dL/dx = dL/dy / (1 − x²)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.arctanh(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / (1 - x * x)


class Hypot(Function):
    """y = √(a² + b²);   dL/da = dL/dy · a / y,   dL/db = dL/dy · b / y"""

    def forward(self, a, b):
        y = np.hypot(a, b)
        self.save_for_backward(a, b, y)
        return y

    def backward(self, gy):
        a, b, y = self.saved_tensors
        return gy * a / y, gy * b / y


class Copysign(Function):
    """y = |a| with the sign of b;   dL/da = dL/dy · sign(a) · (±1 by the sign bit of b) (0 at a = 0),   dL/db = 0"""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.copysign(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        factor = np.sign(_raw(a)) * np.where(np.signbit(_raw(b)), -1.0, 1.0)
        return gy * factor.astype(_raw(gy).dtype), _zero_like(gy)


# ----- the error function and its relatives ------------------------------------------------------------------
class Erfc(Function):
    """y = 1 − erf(x) (accurate for large x);   dL/dx = −dL/dy · 2/√π · e^{−x²}"""

    def forward(self, x):
        self.save_for_backward(x)
        try:
            from scipy.special import erfc as scipy_erfc
        except ImportError:
            return 1 - erf(x)
        return scipy_erfc(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return -gy * (2 / math.sqrt(math.pi)) * np.exp(-x * x)


class Erfinv(Function):
    """y = erf⁻¹(x) (x ∈ (−1, 1));   dL/dx = dL/dy · √π/2 · e^{y²}"""

    def forward(self, x):
        y = erfinv(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (math.sqrt(math.pi) / 2) * np.exp(y * y)


def erfinv(x):
    """erf⁻¹ elementwise (SciPy's when installed; else Giles' approximation refined by two Newton steps)."""
    try:
        from scipy.special import erfinv as scipy_erfinv
    except ImportError:
        with np.errstate(divide="ignore", invalid="ignore"):
            w = -np.log((1 - x) * (1 + x))
            small = w < 5
            ws = w - 2.5
            p = np.where(small, 2.81022636e-08, -0.000200214257)
            for c_small, c_big in zip(
                (
                    3.43273939e-07,
                    -3.5233877e-06,
                    -4.39150654e-06,
                    0.00021858087,
                    -0.00125372503,
                    -0.00417768164,
                    0.246640727,
                    1.50140941,
                ),
                (
                    0.000100950558,
                    0.00134934322,
                    -0.00367342844,
                    0.00573950773,
                    -0.0076224613,
                    0.00943887047,
                    1.00167406,
                    2.83297682,
                ),
            ):
                p = np.where(small, c_small + p * ws, c_big + p * (np.sqrt(w) - 3))
            y = p * x
            for _ in range(2):  # Newton: y ← y − (erf(y) − x) / erf'(y)
                y = y - (erf(y) - x) / (2 / math.sqrt(math.pi) * np.exp(-y * y))
            return np.where(np.abs(x) == 1, np.copysign(np.inf, x), y).astype(x.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        return scipy_erfinv(x)


class RoundedDivide(Function):
    """y = a / b rounded toward −∞ (rounding="floor", Python's //) or toward 0 ("trunc");   dL/da = dL/db = 0
    (a step function of a and b, as in PyTorch)"""

    def forward(self, a, b, rounding="floor"):
        if rounding == "floor":
            return np.floor_divide(a, b)
        if np.result_type(a, b).kind in "iu":  # integer division toward 0: floor, then step back where signs differ
            q = np.floor_divide(a, b)
            return q + ((np.remainder(a, b) != 0) & ((a < 0) != (b < 0)))
        return np.trunc(np.true_divide(a, b))

    def backward(self, gy):
        return _zero_like(gy), _zero_like(gy)
