"""Tensor factories: tensor, zeros, ones, full, arange, linspace, eye, rand, randn, randint and the *_like forms.

Every factory takes `device=`. Values are made on the host and copied once to the device, so that random tensors
hold the same numbers on every device (the generators are NumPy's) and a factory reads the same for all of them.
The *_like forms default to their model tensor's device.
"""

from __future__ import annotations

import math
import sys

import numpy

from glassnet import backend
from glassnet.errors import OpTypeError, OpValueError
from glassnet.random import Generator, get_rng
from glassnet.tensor import Tensor


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor from a list, number or array (Python floats become float32, ints int64)."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, device=device)


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for n in size:
        if not isinstance(n, (int, numpy.integer)) or n < 0:
            raise OpValueError(f"invalid shape {tuple(size)}: sizes must be non-negative integers")
    if math.prod(int(n) for n in size) * 8 > sys.maxsize:  # NumPy's own error says only "array is too big"
        raise OpValueError(f"invalid shape {tuple(size)}: {math.prod(size)} elements are more than memory can address")
    return tuple(int(n) for n in size)


def _make(array, requires_grad: bool, device=None) -> Tensor:
    return Tensor(array, requires_grad=requires_grad, device=device)


def _float(dtype):
    return backend.to_dtype(dtype) or backend.get_default_dtype()


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros."""
    return _make(numpy.zeros(_shape(size), dtype=_float(dtype)), requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return _make(numpy.ones(_shape(size), dtype=_float(dtype)), requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor (its values are whatever memory held)."""
    return _make(numpy.empty(_shape(size), dtype=_float(dtype)), requires_grad, device)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with `fill_value` (its dtype follows the value, as in PyTorch)."""
    if dtype is None:
        dtype = backend.result_dtype(fill_value)
    return _make(numpy.full(_shape((size,)), fill_value, dtype=backend.to_dtype(dtype)), requires_grad, device)


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Zeros with `t`'s shape and dtype."""
    return _make(numpy.zeros(t.shape, dtype=backend.to_dtype(dtype) or t.dtype), requires_grad, device or t.device)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Ones with `t`'s shape and dtype."""
    return _make(numpy.ones(t.shape, dtype=backend.to_dtype(dtype) or t.dtype), requires_grad, device or t.device)


def empty_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uninitialised, with `t`'s shape and dtype."""
    return _make(numpy.empty(t.shape, dtype=backend.to_dtype(dtype) or t.dtype), requires_grad, device or t.device)


def full_like(t: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """`fill_value` everywhere, with `t`'s shape and dtype."""
    dtype = backend.to_dtype(dtype) or t.dtype
    return _make(numpy.full(t.shape, fill_value, dtype=dtype), requires_grad, device or t.device)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, end); integers give int64, any float gives float32."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise OpValueError("arange: step must be non-zero")
    if (end - start) * step < 0:
        raise OpValueError(f"arange: the step {step} points away from end {end} (start {start})")
    if dtype is None:
        dtype = backend.result_dtype(start, end, step)
    return _make(numpy.arange(start, end, step).astype(backend.to_dtype(dtype)), requires_grad, device)


def linspace(start, end, steps: int, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end inclusive."""
    if steps < 0:
        raise OpValueError(f"linspace: steps must be non-negative, got {steps}")
    if backend.to_dtype(dtype) == numpy.bool_:
        raise OpTypeError("linspace: dtype bool is not supported (as in PyTorch); use a floating or integer dtype")
    return _make(numpy.linspace(start, end, steps).astype(_float(dtype)), requires_grad, device)


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """The identity matrix (n × m)."""
    _shape((n,) if m is None else (n, m))
    return _make(numpy.eye(n, m, dtype=_float(dtype)), requires_grad, device)


def rand(
    *size, generator: Generator | None = None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """Uniform samples in [0, 1)."""
    return _make(get_rng(generator).random(_shape(size)).astype(_float(dtype)), requires_grad, device)


def randn(
    *size, generator: Generator | None = None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """Standard normal samples."""
    return _make(get_rng(generator).standard_normal(_shape(size)).astype(_float(dtype)), requires_grad, device)


def randint(low, high=None, size=(), generator: Generator | None = None, dtype=None, device=None) -> Tensor:
    """Uniform integers in [low, high) (int64); `randint(high, size)` starts at 0, as in PyTorch."""
    if isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: empty range [{low}, {high})")
    size = (size,) if isinstance(size, int) else tuple(size)
    values = get_rng(generator).integers(low, high, size=size)
    return _make(values.astype(backend.to_dtype(dtype) or backend.int64), False, device)


def rand_like(
    t: Tensor, generator: Generator | None = None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """Uniform samples with `t`'s shape."""
    return rand(
        t.shape, generator=generator, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad
    )


def randn_like(
    t: Tensor, generator: Generator | None = None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """Standard normal samples with `t`'s shape."""
    return randn(
        t.shape, generator=generator, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad
    )


def randint_like(t: Tensor, low, high=None, generator: Generator | None = None, dtype=None, device=None) -> Tensor:
    """Uniform integers with `t`'s shape."""
    return randint(low, high, t.shape, generator=generator, dtype=dtype or t.dtype, device=device or t.device)


def randperm(n: int, generator: Generator | None = None, device=None) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    if not isinstance(n, (int, numpy.integer)) or n < 0:
        raise OpValueError(f"randperm: n must be a non-negative integer, got {n!r}")
    return _make(get_rng(generator).permutation(n).astype(numpy.int64), False, device)
