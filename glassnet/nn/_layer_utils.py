"""Small helpers shared by the layer files: argument normalisation, empty parameters, shape formatting."""

from __future__ import annotations

from collections.abc import Iterable

import numpy

from glassnet import backend
from glassnet.nn.parameter import Parameter
from glassnet.tensor import Tensor


def ntuple(value, n: int, name: str = "argument") -> tuple:
    """(v, v, …) from a single int, or the given sequence checked to have length n."""
    if isinstance(value, Iterable) and not isinstance(value, str):
        value = tuple(value)
        if len(value) != n:
            raise ValueError(f"{name} must be an int or a sequence of {n} ints, got {value}")
        return value
    return (value,) * n


def factory_dtype(dtype=None, device=None) -> numpy.dtype:
    """The dtype new parameters get: `dtype`, else the default floating dtype; only the 'cpu' device exists."""
    if device is not None and str(device) != "cpu":
        raise RuntimeError(f"device={device!r}: this build of glassnet has only the 'cpu' device")
    dtype = backend.to_dtype(dtype) or backend.get_default_dtype()
    if dtype.kind != "f":
        raise TypeError(f"layer parameters must be floating point, got dtype={dtype}")
    return dtype


def empty_parameter(*shape: int, dtype: numpy.dtype) -> Parameter:
    """A Parameter of the given shape whose values are set by the layer's reset_parameters()."""
    return Parameter(numpy.zeros(shape, dtype=dtype))


def shape_str(shape) -> str:
    """A shape written the way Python writes tuples: (32, 28, 28), (5,)."""
    return str(tuple(int(s) for s in shape))


def check_tensor(x, where: str) -> Tensor:
    """Refuse anything that is not a Tensor with a message that names the layer."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{where} expected a Tensor input, got {type(x).__name__} (wrap arrays with gn.tensor(...))")
    return x
