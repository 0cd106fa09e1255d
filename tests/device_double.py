"""A test-only device that stands in for a GPU on a machine without one: NumPy underneath, CuPy's manners on top.

Its arrays (`DoubleArray`) hold a NumPy array but, like CuPy's, refuse to be mixed with plain host arrays in any
operation and refuse implicit conversion (`numpy.asarray(x)` raises). Every transfer of values to the host is
counted (`get()`, `item()`, `tolist()`, `bool()`, `float()`, printing, `to_host`), with the line that asked for
it, so a test can assert that a training step makes none. NumPy functions and ufuncs dispatch to it through the
same array protocols that hand them to CuPy; full reductions return 0-d arrays (as CuPy's do), not scalars; a ufunc
method CuPy lacks (`np.multiply.at`, `np.maximum.accumulate`) raises, and the backend's stand-ins for them run the
same array code as on a GPU.

`install()` registers the device as "testgpu" (`t.to("testgpu")`; the name "double" would read as a dtype);
glassnet itself never knows about it.
"""

from __future__ import annotations

import contextlib
import traceback

import numpy
from numpy.lib.mixins import NDArrayOperatorsMixin

from glassnet import backend

_HOST_VALUES = (int, float, bool, complex, numpy.generic, numpy.dtype, type(None), slice, type(Ellipsis), str)


# The ufunc methods CuPy (13) has, and for which ufuncs (its docs: reference/ufunc.rst; `outer` for all); others
# raise, as on a GPU.
_CUPY_UFUNC_METHODS = {
    "reduce": ("add", "multiply"),
    "accumulate": backend.CUPY_ACCUMULATE,
    "reduceat": ("add",),
    "at": backend.CUPY_UFUNC_AT,
}


class HostArrayError(TypeError):
    """A host (NumPy) array met a device array, as CuPy would refuse it."""


class _Transfers:
    """A count of host transfers, with where each one was asked for."""

    def __init__(self):
        self.count = 0
        self.where: list = []


_counters: list = [_Transfers()]  # the process-wide count, then one per open `counting_transfers` block


def _record(what: str) -> None:
    frames = [
        f
        for f in traceback.extract_stack()[:-2]
        if not f.filename.endswith(("tests/device_double.py", "glassnet/backend.py"))
    ]
    where = " < ".join(f"{f.filename}:{f.lineno}" for f in frames[-3:][::-1])
    for counter in _counters:
        counter.count += 1
        counter.where.append(f"{what} at {where}")


transfers = _counters[0]


@contextlib.contextmanager
def counting_transfers():
    """Inside: a fresh count of host transfers (yields it; read `.count` and `.where` after the block)."""
    counter = _Transfers()
    _counters.append(counter)
    try:
        yield counter
    finally:
        _counters.remove(counter)


def _unwrap(value, what: str):
    """The NumPy array inside a DoubleArray; host arrays refused; containers unwrapped item by item."""
    if type(value) is DoubleArray:
        return value._a
    if isinstance(value, numpy.ndarray):
        raise HostArrayError(
            f"device double: {what} got a host array of shape {value.shape} mixed with device arrays "
            "(move it to the device first, as CuPy requires)"
        )
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v, what) for v in value)
    return value


def _wrap(value):
    if isinstance(value, numpy.ndarray):
        return DoubleArray(value)
    if isinstance(value, numpy.generic):  # CuPy's reductions give 0-d arrays, not host scalars
        return DoubleArray(numpy.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _defers(values) -> bool:
    """Whether an operand is another array-like (a Tensor) that should handle the call instead."""
    for v in values:
        if isinstance(v, (list, tuple)):
            if _defers(v):
                return True
        elif type(v) is not DoubleArray and not isinstance(v, (numpy.ndarray, *_HOST_VALUES)):
            if hasattr(v, "__array_ufunc__") or hasattr(v, "__array_function__"):
                return True
    return False


class DoubleArray(NDArrayOperatorsMixin):
    """A device array of the double: a NumPy array that will not mix with host arrays."""

    __slots__ = ("_a",)
    __array_priority__ = 100  # as CuPy's: a Tensor (1000) takes the operator instead

    def __init__(self, array: numpy.ndarray):
        self._a = array

    # --- the protocols through which np.* reaches this array ---
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if _defers(inputs) or _defers(kwargs.get("out", ())):
            return NotImplemented
        if method not in ("__call__", "outer") and ufunc.__name__ not in _CUPY_UFUNC_METHODS.get(method, ()):
            raise TypeError(
                f"device double: CuPy has no {ufunc.__name__}.{method} (use glassnet.backend's ufunc_at / accumulate)"
            )
        args = _unwrap(inputs, f"np.{ufunc.__name__}")
        kw = {k: _unwrap(v, f"np.{ufunc.__name__}") for k, v in kwargs.items()}
        result = getattr(ufunc, method)(*args, **kw)
        if "out" in kwargs and method != "at":
            out = kwargs["out"]
            return out[0] if isinstance(out, tuple) and len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        if _defers(args) or _defers(tuple(kwargs.values())):
            return NotImplemented
        name = f"np.{func.__name__}"
        return _wrap(func(*_unwrap(args, name), **{k: _unwrap(v, name) for k, v in kwargs.items()}))

    def __array__(self, dtype=None, copy=None):
        raise TypeError("device double: implicit conversion to a NumPy array is not allowed; use .get()")

    # --- attributes and methods of ndarray, on device ---
    def __getattr__(self, name):
        if name.startswith("__"):  # no __array_interface__/__array_struct__: NumPy would read the memory directly
            raise AttributeError(name)
        value = getattr(self._a, name)
        if callable(value):

            def method(*args, **kwargs):
                return _wrap(value(*_unwrap(args, f".{name}()"), **{k: _unwrap(v, name) for k, v in kwargs.items()}))

            return method
        return _wrap(value)

    @property
    def shape(self):
        return self._a.shape

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def ndim(self):
        return self._a.ndim

    @property
    def size(self):
        return self._a.size

    @property
    def base(self):
        return None if self._a.base is None else DoubleArray(self._a.base)

    def __len__(self):
        return len(self._a)

    def __getitem__(self, index):
        return _wrap(self._a[_unwrap(index, "getitem")])

    def __setitem__(self, index, value):
        self._a[_unwrap(index, "setitem")] = _unwrap(value, "setitem")

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __copy__(self):
        return DoubleArray(self._a.copy())

    def __deepcopy__(self, memo):
        return DoubleArray(self._a.copy())

    # --- the ways values reach the host: each one counted ---
    def get(self) -> numpy.ndarray:
        _record("get()")
        return self._a.copy()

    def item(self):
        _record("item()")
        return self._a.item()

    def tolist(self):
        _record("tolist()")
        return self._a.tolist()

    def __bool__(self):
        _record("bool()")
        return bool(self._a)

    def __float__(self):
        _record("float()")
        return float(self._a)

    def __int__(self):
        _record("int()")
        return int(self._a)

    def __index__(self):
        _record("index")
        return self._a.__index__()

    def __repr__(self):
        return f"double_array({self._a!r})"


class _DoubleModule:
    """The double's `xp`: NumPy's namespace, with array-making functions returning device arrays."""

    _MAKERS = {
        "zeros",
        "ones",
        "empty",
        "full",
        "arange",
        "eye",
        "linspace",
        "asarray",
        "array",
        "ascontiguousarray",
        "indices",
        "tri",
        "identity",
    }

    def __getattr__(self, name):
        value = getattr(numpy, name)
        if name in self._MAKERS:

            def make(*args, **kwargs):
                args = tuple(a._a if type(a) is DoubleArray else a for a in args)
                made = value(*args, **kwargs)
                return _wrap(made.copy() if isinstance(made, numpy.ndarray) else made)

            return make
        return value


class DoubleBackend(backend.ArrayBackend):
    """The device double as glassnet sees it: one more ArrayBackend."""

    name = "testgpu"
    module = _DoubleModule()
    array_type = DoubleArray

    def to_device(self, host, index: int):
        if type(host) is not numpy.ndarray:
            host = numpy.asarray(host)
        return DoubleArray(host.copy())

    def to_host(self, array):
        _record("to_host")
        return array._a.copy()

    def index_of(self, array) -> None:
        return None  # one double device: "double", without an index

    def scatter_add(self, out, index, values) -> None:
        numpy.add.at(out._a, _unwrap(index, "scatter_add"), _unwrap(values, "scatter_add"))

    def ufunc_at(self, ufunc, out, index, values) -> None:
        if ufunc.__name__ in backend.CUPY_UFUNC_AT:  # CuPy's own (atomic) .at
            ufunc.at(out._a, _unwrap(index, "ufunc_at"), _unwrap(values, "ufunc_at"))
        else:  # what the CUDA backend runs, through the double's arrays
            backend.ufunc_at_in_rounds(ufunc, out, index, values)

    def accumulate(self, ufunc, x, axis):
        if ufunc.__name__ in backend.CUPY_ACCUMULATE:
            return DoubleArray(ufunc.accumulate(x._a, axis=axis))
        return backend.accumulate_by_doubling(ufunc, x, axis)

    def as_strided(self, x, shape, strides):
        return DoubleArray(numpy.lib.stride_tricks.as_strided(x._a, shape, strides, writeable=False))

    def erf(self, x):
        return _wrap(backend.ArrayBackend().erf(x._a))  # (SciPy gives a scalar for a 0-d array: CuPy a 0-d array)


def install() -> None:
    """Register the double as the device "testgpu" (idempotent)."""
    if "testgpu" not in backend._devices:
        backend.register_device(DoubleBackend())
