"""In-place Tensor methods with PyTorch's trailing underscore (`x.add_(1)`, `x.clamp_(min=0)`, `m.masked_fill_(...)`,
`w.uniform_(-0.1, 0.1)`, …), as ported code writes them.

Each is its out-of-place method, computed and written back into the tensor's own array, so the tensor keeps its
identity (and its dtype: a result that cannot be cast back, a float into an int tensor, is refused as in PyTorch).
Like `x[i] = v`, they refuse a tensor that requires grad while grad mode is on (a gradient through an overwritten
value would be wrong); under `gn.no_grad()` (an optimiser's step, an initialisation) they work on any tensor.
"""

from __future__ import annotations

import numpy

from glassnet.autograd import is_grad_enabled, no_grad
from glassnet.random import get_rng
from glassnet.tensor import Tensor

# x.<name>_(…) = x.<name>(…) written into x
OUT_OF_PLACE = (
    "add sub mul div true_divide pow neg abs sqrt rsqrt exp log log1p sin cos tan tanh sigmoid relu clamp clip sign "
    "floor ceil round trunc frac reciprocal square lerp masked_fill masked_scatter scatter scatter_add scatter_reduce "
    "index_fill index_add index_copy fmod remainder floor_divide copysign hypot atan2 tril triu logical_not sgn "
    "erf erfinv expm1 log2 log10 sinh cosh asin acos atan asinh acosh atanh nan_to_num"
).split()


def _write_back(t: Tensor, result: Tensor, name: str) -> Tensor:
    """Copy `result` into `t`'s array (same shape, castable dtype) and return `t`."""
    if tuple(result.shape) != tuple(t.shape):
        raise RuntimeError(f"{name}: the result's shape {tuple(result.shape)} does not match the tensor's shape "
                           f"{tuple(t.shape)} (an in-place op cannot broadcast the tensor itself)")
    if not numpy.can_cast(result.dtype, t.dtype, casting="same_kind"):
        raise RuntimeError(f"{name}: result type {result.dtype} can't be cast to the desired output type {t.dtype}")
    return t.copy_(result)


def _check(t: Tensor, name: str) -> None:
    if t.requires_grad and is_grad_enabled():
        raise RuntimeError(
            f"{name}: in-place change of a tensor that requires grad would break its gradient; write "
            f"`x = x.{name[:-1]}(...)` or do it under gn.no_grad()"
        )


def _make_inplace(name: str):
    def inplace(self: Tensor, *args, **kwargs) -> Tensor:
        _check(self, f"{name}_")
        with no_grad():
            result = getattr(self, name)(*args, **kwargs)
        return _write_back(self, result, f"{name}_")

    inplace.__name__ = inplace.__qualname__ = f"{name}_"
    inplace.__doc__ = f"`x.{name}(…)` written into x in place (returns x)."
    return inplace


def _fill(t: Tensor, name: str, values: numpy.ndarray) -> Tensor:
    """Write host `values` (drawn in NumPy) into `t` through `Tensor.copy_`, which moves them to `t`'s device."""
    _check(t, name)
    return t.copy_(values.astype(t.dtype))


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    """Fill with samples from U(a, b) in place."""
    return _fill(self, "uniform_", get_rng(generator).uniform(a, b, self.shape))


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill with samples from N(mean, std²) in place."""
    return _fill(self, "normal_", get_rng(generator).normal(mean, std, self.shape))


def bernoulli_(self: Tensor, p: float = 0.5, *, generator=None) -> Tensor:
    """Fill with 1 (probability p) or 0 in place."""
    return _fill(self, "bernoulli_", get_rng(generator).random(self.shape) < p)


INPLACE = [f"{name}_" for name in OUT_OF_PLACE]
for _name in OUT_OF_PLACE:
    if hasattr(Tensor, _name) and not hasattr(Tensor, f"{_name}_"):
        setattr(Tensor, f"{_name}_", _make_inplace(_name))
for _fn in (uniform_, normal_, bernoulli_):
    if not hasattr(Tensor, _fn.__name__):
        setattr(Tensor, _fn.__name__, _fn)
del _name, _fn
