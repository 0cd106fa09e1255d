"""PyTorch's tensor functions beyond the core operators: comparisons and predicates, rounding and integer arithmetic,
more maths, scans, sorting and selection, rearranging, masked and indexed reads and writes.

Each is `gn.<name>(x, ...)` and, where PyTorch has the method, `x.<name>(...)` as well (installed on Tensor at the
end of this file). They check their arguments and pick dtypes here; every derivative lives in `glassnet/ops/`:
a function is either one op (`ops/maths.py`, `ops/scan.py`, `ops/indexing.py`) or a composition of ops whose
gradients follow (sort is a gather at the sorting permutation, flip an indexing, masked_fill a where).
"""

from __future__ import annotations

import builtins
from typing import NamedTuple

import numpy

from glassnet import backend
from glassnet.errors import OpIndexError, OpTypeError, ShapeError
from glassnet.ops import indexing as ix
from glassnet.ops import maths as mt
from glassnet.ops import reduction as rd
from glassnet.ops import scan as sc
from glassnet.ops.activation import Erf
from glassnet.tensor import (
    PRINT_OPTIONS,
    Tensor,
    _as_tensor,
    _axis,
    _binary,
    _compare,
    _dims,
    _floating,
    _is_bool,
    _operand_info,
    where,
)
from glassnet.tensor import einsum as einsum_fn

_METHODS: list = []  # names installed as Tensor methods


def method(fn):
    """Mark a function as also being a Tensor method (`gn.flip(x, 0)` and `x.flip(0)`)."""
    _METHODS.append(fn.__name__)
    return fn


def _check_tensor(name: str, value) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"gn.{name}: expected a Tensor as input, got {type(value).__name__}")
    return value


def _raw(value):
    return value.data if isinstance(value, Tensor) else value


def _const(array, like: Tensor | None = None) -> Tensor:
    """A constant Tensor (no graph) of `array`: on `like`'s device when given, else where the array already is."""
    if like is not None:
        return Tensor._make(backend.array_like(array, like.data), None)
    return Tensor._make(array if backend.is_array(array) else numpy.asarray(array), None)


def _xp(t: Tensor):
    """The array module of a tensor's device (numpy on the CPU, cupy on a GPU): for making new arrays there."""
    return backend.array_module(t.data)


def _on_device_of(value, input: Tensor):
    """An index, mask or values argument (Tensor, array, list or number) as an array on `input`'s device."""
    return backend.array_like(_raw(value), input.data)


def _dim_tuple(dims, ndim: int, name: str) -> tuple:
    dims = (dims,) if isinstance(dims, (int, numpy.integer)) else tuple(dims)
    out = tuple(_axis(d, ndim, name) for d in dims)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: dims {dims} repeat a dimension")
    return out


class ValuesIndices(NamedTuple):
    """What sort, topk, kthvalue, median(dim), mode, cummax and cummin return, as in PyTorch."""

    values: Tensor
    indices: Tensor


# ----- comparisons and predicates (no gradient) ------------------------------------------------------------------
@method
def eq(input: Tensor, other) -> Tensor:  # noqa: A002 - PyTorch's argument names
    """input == other, elementwise."""
    return _check_tensor("eq", input) == other


@method
def ne(input: Tensor, other) -> Tensor:  # noqa: A002
    """input != other, elementwise."""
    return _check_tensor("ne", input) != other


@method
def lt(input: Tensor, other) -> Tensor:  # noqa: A002
    """input < other, elementwise."""
    return _check_tensor("lt", input) < other


@method
def le(input: Tensor, other) -> Tensor:  # noqa: A002
    """input <= other, elementwise."""
    return _check_tensor("le", input) <= other


@method
def gt(input: Tensor, other) -> Tensor:  # noqa: A002
    """input > other, elementwise."""
    return _check_tensor("gt", input) > other


@method
def ge(input: Tensor, other) -> Tensor:  # noqa: A002
    """input >= other, elementwise."""
    return _check_tensor("ge", input) >= other


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
_ALIASES = {"greater": gt, "greater_equal": ge, "less": lt, "less_equal": le, "not_equal": ne}


@method
def equal(input: Tensor, other: Tensor) -> bool:  # noqa: A002
    """True if both tensors have the same shape and the same values."""
    _check_tensor("equal", input)
    return input.shape == other.shape and builtins.bool(numpy.array_equal(input.data, _raw(other)))


@method
def isclose(input: Tensor, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:  # noqa: A002
    """|input − other| ≤ atol + rtol·|other|, elementwise."""
    _check_tensor("isclose", input)
    return _const(numpy.isclose(input.data, _raw(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


@method
def allclose(input: Tensor, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:  # noqa: A002
    """True if every element is close (see isclose)."""
    return builtins.bool(isclose(input, other, rtol, atol, equal_nan).data.all())


@method
def isnan(input: Tensor) -> Tensor:  # noqa: A002
    """Which elements are NaN."""
    return _const(numpy.isnan(_check_tensor("isnan", input).data))


@method
def isinf(input: Tensor) -> Tensor:  # noqa: A002
    """Which elements are +∞ or −∞."""
    return _const(numpy.isinf(_check_tensor("isinf", input).data))


@method
def isposinf(input: Tensor) -> Tensor:  # noqa: A002
    """Which elements are +∞."""
    return _const(numpy.isposinf(_check_tensor("isposinf", input).data))


@method
def isneginf(input: Tensor) -> Tensor:  # noqa: A002
    """Which elements are −∞."""
    return _const(numpy.isneginf(_check_tensor("isneginf", input).data))


@method
def isfinite(input: Tensor) -> Tensor:  # noqa: A002
    """Which elements are neither infinite nor NaN."""
    return _const(numpy.isfinite(_check_tensor("isfinite", input).data))


def _logical(ufunc, name):
    def fn(input: Tensor, other) -> Tensor:  # noqa: A002
        _check_tensor(name, input)
        return _compare(ufunc, input, other)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name.replace('_', ' ')} of the truth values (nonzero is True); a bool tensor."
    return method(fn)


logical_and = _logical(numpy.logical_and, "logical_and")
logical_or = _logical(numpy.logical_or, "logical_or")
logical_xor = _logical(numpy.logical_xor, "logical_xor")


@method
def logical_not(input: Tensor) -> Tensor:  # noqa: A002
    """Elementwise not of the truth values (nonzero is True); a bool tensor."""
    return _const(numpy.logical_not(_check_tensor("logical_not", input).data))


def _reduce_bool(ufunc, input: Tensor, dim, keepdim: bool, name: str) -> Tensor:
    _check_tensor(name, input)
    dim, keepdim = _dims(input, dim, None, keepdim, None, name)
    if input.ndim == 0:
        dim = None
    out = ufunc(input.data.astype(bool), axis=dim, keepdims=keepdim)
    # uint8 in, uint8 out (0 or 1), as PyTorch keeps for its old byte masks; a bool tensor for every other dtype
    return _const(out.astype(numpy.uint8) if input.dtype == numpy.uint8 else out)


@method
def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    """Whether any element (along `dim`) is nonzero; a bool tensor."""
    return _reduce_bool(numpy.any, input, dim, keepdim, "any")


@method
def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    """Whether every element (along `dim`) is nonzero; a bool tensor."""
    return _reduce_bool(numpy.all, input, dim, keepdim, "all")


@method
def count_nonzero(input: Tensor, dim=None) -> Tensor:  # noqa: A002
    """How many elements (along `dim`, an int or a tuple) are nonzero; an int64 tensor, no gradient."""
    _check_tensor("count_nonzero", input)
    dim, _ = _dims(input, dim, None, False, None, "count_nonzero")
    if input.ndim == 0:
        dim = None
    return _const(numpy.count_nonzero(input.data, axis=dim).astype(numpy.int64))


# ----- bitwise (integers and bools) ----------------------------------------------------------------------------
def _integer_operands(name: str, *values) -> None:
    for v in values:
        kind = v.dtype.kind if isinstance(v, Tensor) else ("f" if isinstance(v, float) else "i")
        if kind not in "biu":
            dtype = v.dtype if isinstance(v, Tensor) else type(v).__name__
            raise OpTypeError(f"{name}: bitwise operations need integer or bool operands, got {dtype}")


def _bitwise(ufunc, bool_ufunc, name):
    def fn(input, other) -> Tensor:  # noqa: A002
        _integer_operands(name, input, other)
        if _is_bool(input, other) and bool_ufunc is not None:
            return _compare(bool_ufunc, input, other)
        dtype = backend.result_dtype(_operand_info(input), _operand_info(other))
        like = (input if isinstance(input, Tensor) else other).data  # the operands go to the tensor's device
        a, b = (backend.array_like(_raw(v), like, dtype) for v in (input, other))
        return _const(ufunc(a, b))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name.replace('_', ' ')} of integer or bool tensors (or Python ints)."
    return method(fn)


bitwise_and = _bitwise(numpy.bitwise_and, numpy.logical_and, "bitwise_and")
bitwise_or = _bitwise(numpy.bitwise_or, numpy.logical_or, "bitwise_or")
bitwise_xor = _bitwise(numpy.bitwise_xor, numpy.logical_xor, "bitwise_xor")
bitwise_left_shift = _bitwise(numpy.left_shift, None, "bitwise_left_shift")
bitwise_right_shift = _bitwise(numpy.right_shift, None, "bitwise_right_shift")


@method
def bitwise_not(input: Tensor) -> Tensor:  # noqa: A002
    """Elementwise ~x of an integer or bool tensor."""
    _integer_operands("bitwise_not", input)
    return ~input


# ----- rounding and integer arithmetic --------------------------------------------------------------------------
def _step(op, name):
    def fn(input: Tensor) -> Tensor:  # noqa: A002
        _check_tensor(name, input)
        if input.dtype.kind in "biu":  # already whole numbers: a copy, as in PyTorch
            return Tensor._make(input.data.copy(), None)
        return op.apply(input)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"{name}(x) elementwise (gradient 0: see {op.__name__} in glassnet/ops/maths.py)."
    return method(fn)


floor = _step(mt.Floor, "floor")
ceil = _step(mt.Ceil, "ceil")
trunc = _step(mt.Trunc, "trunc")
fix = trunc


@method
def round(input: Tensor, decimals: int = 0) -> Tensor:  # noqa: A001, A002
    """Round to `decimals` places, halves to even (as PyTorch)."""
    _check_tensor("round", input)
    if input.dtype.kind in "biu":
        return Tensor._make(input.data.copy(), None)
    return mt.Round.apply(input, decimals=decimals)


@method
def frac(input: Tensor) -> Tensor:  # noqa: A002
    """x − trunc(x): the fractional part, with the sign of x."""
    _check_tensor("frac", input)
    if input.dtype.kind not in "f":
        raise TypeError(f"frac: expected a floating tensor, got {input.dtype}")
    return mt.Frac.apply(input)


@method
def sign(input: Tensor) -> Tensor:  # noqa: A002
    """−1, 0 or 1 elementwise (gradient 0)."""
    _check_tensor("sign", input)
    if input.dtype.kind == "b":
        return Tensor._make(input.data.copy(), None)
    return mt.Sign.apply(input)


sgn = sign


def _check_integer_divisor(name: str, a, b) -> None:
    dtype = backend.result_dtype(_operand_info(a), _operand_info(b))
    if dtype.kind not in "iu":
        return
    divisor = _raw(b)
    has_zero = (divisor == 0).any() if backend.is_array(divisor) else numpy.any(numpy.asarray(divisor) == 0)
    if has_zero:  # (on a device: one value read back)
        raise ZeroDivisionError(f"{name}: integer division by zero")


@method
def floor_divide(input, other) -> Tensor:  # noqa: A002
    """input // other: the quotient rounded toward −∞ (Python's //), in the promoted dtype."""
    _check_integer_divisor("floor_divide", input, other)
    return _binary(mt.RoundedDivide, input, other, "floor_divide")


@method
def remainder(input, other) -> Tensor:  # noqa: A002
    """input % other: a − b·⌊a/b⌋, which has the sign of the divisor (Python's %)."""
    _check_integer_divisor("remainder", input, other)
    return _binary(mt.Remainder, input, other, "remainder")


@method
def fmod(input, other) -> Tensor:  # noqa: A002
    """a − b·trunc(a/b), which has the sign of the dividend (C's fmod)."""
    _check_integer_divisor("fmod", input, other)
    return _binary(mt.Fmod, input, other, "fmod")


@method
def div(input, other, *, rounding_mode: str | None = None) -> Tensor:  # noqa: A002
    """input / other; rounding_mode "trunc" rounds the quotient toward 0, "floor" toward −∞ (as torch.div)."""
    if rounding_mode is None:
        return input / other
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    _check_integer_divisor("div", input, other)
    dtype = backend.result_dtype(_operand_info(input), _operand_info(other))
    a, b = (_as_tensor(v).to(dtype) if isinstance(v, Tensor) else v for v in (input, other))
    return mt.RoundedDivide.apply(a if isinstance(a, Tensor) else _as_tensor(a).to(dtype), b, rounding=rounding_mode)


divide, true_divide = div, div


@method
def add(input, other, *, alpha=1) -> Tensor:  # noqa: A002
    """input + alpha · other (as torch.add)."""
    return input + (other if alpha == 1 else other * alpha)


@method
def sub(input, other, *, alpha=1) -> Tensor:  # noqa: A002
    """input − alpha · other (as torch.sub)."""
    return input - (other if alpha == 1 else other * alpha)


@method
def mul(input, other) -> Tensor:  # noqa: A002
    """input · other (as torch.mul)."""
    return input * other


subtract, multiply = sub, mul


# ----- maths ----------------------------------------------------------------------------------------------------
def _unary(op, name, doc):
    def fn(input: Tensor) -> Tensor:  # noqa: A002
        return op.apply(_floating(_check_tensor(name, input)))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return method(fn)


erf = _unary(Erf, "erf", "The error function erf(x) = 2/√π ∫₀ˣ e^{−t²} dt.")
erfc = _unary(mt.Erfc, "erfc", "1 − erf(x), accurate for large x.")
erfinv = _unary(mt.Erfinv, "erfinv", "The inverse of erf on (−1, 1).")
log2 = _unary(mt.Log2, "log2", "log₂ x")
log10 = _unary(mt.Log10, "log10", "log₁₀ x")
exp2 = _unary(mt.Exp2, "exp2", "2ˣ")
expm1 = _unary(mt.Expm1, "expm1", "eˣ − 1, accurate near 0.")
tan = _unary(mt.Tan, "tan", "tan x")
asin = _unary(mt.Asin, "asin", "arcsin x")
acos = _unary(mt.Acos, "acos", "arccos x")
atan = _unary(mt.Atan, "atan", "arctan x")
sinh = _unary(mt.Sinh, "sinh", "sinh x")
cosh = _unary(mt.Cosh, "cosh", "cosh x")
asinh = _unary(mt.Asinh, "asinh", "arsinh x")
acosh = _unary(mt.Acosh, "acosh", "arcosh x")
atanh = _unary(mt.Atanh, "atanh", "artanh x")
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh
_ALIASES.update(
    arcsin=asin,
    arccos=acos,
    arctan=atan,
    arcsinh=asinh,
    arccosh=acosh,
    arctanh=atanh,
    fix=trunc,
    sgn=sign,
    divide=div,
    true_divide=div,
    subtract=sub,
    multiply=mul,
)


def _binary_float(op, name, doc):
    def fn(input, other) -> Tensor:  # noqa: A002
        return _binary(op, input, other, name, floating=True)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return method(fn)


atan2 = _binary_float(mt.Atan2, "atan2", "atan2(y, x): the angle of the point (x, y), in (−π, π].")
arctan2 = atan2
_ALIASES["arctan2"] = atan2
hypot = _binary_float(mt.Hypot, "hypot", "√(a² + b²), without overflow.")
logaddexp = _binary_float(mt.LogAddExp, "logaddexp", "ln(eᵃ + eᵇ), stably.")
copysign = _binary_float(mt.Copysign, "copysign", "|a| with the sign of b.")
xlogy = _binary_float(mt.Xlogy, "xlogy", "a · ln b, taken as 0 where a = 0.")


@method
def lerp(input: Tensor, end, weight) -> Tensor:  # noqa: A002
    """input + weight · (end − input): linear interpolation (a composition of sub, mul and add)."""
    _check_tensor("lerp", input)
    return input + weight * (end - input)


@method
def var_mean(input: Tensor, dim=None, keepdim: bool = False, *, correction: int = 1, unbiased=None) -> tuple:  # noqa: A002
    """(variance, mean) over `dim`, as torch.var_mean."""
    return (
        input.var(dim, keepdim, correction=correction, unbiased=unbiased),
        input.mean(dim, keepdim=keepdim)
        if dim is not None
        else input.mean().reshape((1,) * input.ndim if keepdim else ()),
    )


@method
def std_mean(input: Tensor, dim=None, keepdim: bool = False, *, correction: int = 1, unbiased=None) -> tuple:  # noqa: A002
    """(standard deviation, mean) over `dim`, as torch.std_mean."""
    var, mean = var_mean(input, dim, keepdim, correction=correction, unbiased=unbiased)
    return rd.StdFromVar.apply(var), mean


# ----- scans -----------------------------------------------------------------------------------------------------
def _scan_axis(input: Tensor, dim, name: str) -> int:
    _check_tensor(name, input)
    return _axis(dim, input.ndim, name)


def _scan_input(input: Tensor, dtype):
    if dtype is not None:
        return input.to(dtype)
    return input if input.dtype.kind == "f" else input.to(backend.int64)


def _scan(op, input: Tensor, axis: int, **options) -> Tensor:
    if input.ndim == 0:  # a 0-d tensor scans over itself
        return op.apply(input.reshape(1), axis=0, **options).reshape(())
    return op.apply(input, axis=axis, **options)


@method
def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:  # noqa: A002
    """Running sum along `dim`: yᵢ = x₀ + … + xᵢ."""
    axis = _scan_axis(input, dim, "cumsum")
    return _scan(sc.Cumsum, _scan_input(input, dtype), axis)


@method
def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:  # noqa: A002
    """Running product along `dim`: yᵢ = x₀ · … · xᵢ."""
    axis = _scan_axis(input, dim, "cumprod")
    return _scan(sc.Cumprod, _scan_input(input, dtype), axis)


@method
def logcumsumexp(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    """Running log Σ exp along `dim`, computed stably."""
    axis = _scan_axis(input, dim, "logcumsumexp")
    return _scan(sc.LogCumSumExp, _floating(input), axis)


def _cum_extreme(input: Tensor, dim: int, name: str, better) -> ValuesIndices:
    """The running max (or min) as a gather of x at the index of the latest best element so far."""
    axis = _scan_axis(input, dim, name)
    x = input.data if input.ndim else input.data.reshape(1)
    if x.size == 0:
        return ValuesIndices(input.clone(), _const(_xp(input).zeros(input.shape, dtype=numpy.int64)))
    running = backend.accumulate(better, x, axis)  # better.accumulate(x, axis), on any device
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    positions = _xp(input).arange(x.shape[axis]).reshape(shape)
    is_best = (x == running) | (numpy.isnan(x) if x.dtype.kind == "f" else False)
    idx = backend.accumulate(numpy.maximum, numpy.where(is_best, positions, 0), axis)
    idx_t = _const(idx.astype(numpy.int64))
    src = input if input.ndim else input.reshape(1)
    values = src.gather(axis, idx_t)
    if input.ndim == 0:
        return ValuesIndices(values.reshape(()), idx_t.reshape(()))
    return ValuesIndices(values, idx_t)


@method
def cummax(input: Tensor, dim: int) -> ValuesIndices:  # noqa: A002
    """(running maximum, its index) along `dim`; ties take the later index, as in PyTorch."""
    return _cum_extreme(input, dim, "cummax", numpy.maximum)


@method
def cummin(input: Tensor, dim: int) -> ValuesIndices:  # noqa: A002
    """(running minimum, its index) along `dim`; ties take the later index, as in PyTorch."""
    return _cum_extreme(input, dim, "cummin", numpy.minimum)


# ----- sorting and selection -------------------------------------------------------------------------------------
def _order(data, axis: int, descending: bool):
    """Stable argsort along `axis` (descending keeps equal elements in their original order, as torch does)."""
    if data.ndim == 0:
        return backend.array_module(data).zeros((), dtype=numpy.int64)
    if descending:
        key = data.astype(numpy.int64) if data.dtype.kind in "bu" else data
        idx = numpy.argsort(-key, axis=axis, kind="stable")
        if data.dtype.kind == "f":  # NaN counts as the largest value: first when descending (last ascending), as torch
            nan_last = ~numpy.isnan(numpy.take_along_axis(data, idx, axis=axis))
            idx = numpy.take_along_axis(idx, numpy.argsort(nan_last, axis=axis, kind="stable"), axis=axis)
        return idx
    return numpy.argsort(data, axis=axis, kind="stable")


def _take(input: Tensor, idx, axis: int) -> Tensor:
    """input gathered at `idx` along `axis` (0-d input: itself)."""
    if input.ndim == 0:
        return input.clone()
    return input.gather(axis, _const(idx))


@method
def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> ValuesIndices:  # noqa: A002
    """(sorted values, the indices they came from) along `dim`; the values are a gather, so gradients flow back."""
    axis = _scan_axis(input, dim, "sort")
    idx = _order(input.data, axis, descending).astype(numpy.int64)
    return ValuesIndices(_take(input, idx, axis), _const(idx))


@method
def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:  # noqa: A002
    """The indices that sort `input` along `dim`."""
    axis = _scan_axis(input, dim, "argsort")
    return _const(_order(input.data, axis, descending).astype(numpy.int64))


@method
def msort(input: Tensor) -> Tensor:  # noqa: A002
    """Values sorted along dim 0."""
    return sort(input, 0).values


@method
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> ValuesIndices:  # noqa: A002
    """The k largest (or smallest) values along `dim` and their indices."""
    axis = _scan_axis(input, dim, "topk")
    n = input.shape[axis] if input.ndim else 1
    if not 0 <= k <= n:
        raise IndexError(f"topk: k={k} is out of range for dim {axis} of size {n} (shape {input.shape})")
    idx = _order(input.data, axis, largest)
    idx = idx[(slice(None),) * axis + (slice(0, k),)] if input.ndim else idx
    return ValuesIndices(_take(input, idx, axis), _const(idx.astype(numpy.int64)))


def _select_rank(input: Tensor, rank_of, dim, keepdim: bool, name: str) -> ValuesIndices:
    """Values and indices of the element of rank `rank_of(n)` (0-based, ascending) along `dim`."""
    axis = _scan_axis(input, dim, name)
    n = input.shape[axis] if input.ndim else 1
    k = rank_of(n)
    if not 0 <= k < n:
        raise IndexError(f"{name}: k={k + 1} is out of range for dim {axis} of size {n} (shape {input.shape})")
    if input.ndim == 0:
        return ValuesIndices(input.clone(), _const(_xp(input).zeros((), dtype=numpy.int64)))
    idx = _order(input.data, axis, False)[(slice(None),) * axis + (slice(k, k + 1),)].astype(numpy.int64)
    values = input.gather(axis, _const(idx))
    if not keepdim:
        return ValuesIndices(values.squeeze(axis), _const(idx.squeeze(axis)))
    return ValuesIndices(values, _const(idx))


@method
def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> ValuesIndices:  # noqa: A002
    """The k-th smallest value along `dim` (k counts from 1) and its index."""
    return _select_rank(input, lambda n: k - 1, dim, keepdim, "kthvalue")


@method
def median(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A002
    """median() → the lower median of all values; median(dim) → (values, indices) along `dim`."""
    _check_tensor("median", input)
    if dim is None:
        if input.data.size == 0:
            return Tensor._make(_xp(input).full((), numpy.nan, dtype=input.dtype), None)
        return median(input.reshape(-1), 0).values
    if input.dtype.kind != "f" or input.ndim == 0:
        return _select_rank(input, lambda n: (n - 1) // 2, dim, keepdim, "median")
    # NaN propagates, as in PyTorch: a row holding NaN gives its first NaN (NaN sorts last, so it sits at rank
    # "count of non-NaN"); other rows give their lower median
    axis = _scan_axis(input, dim, "median")
    n = input.shape[axis]
    if n == 0:
        raise IndexError(f"median: cannot take the median of dim {axis} of size 0 (shape {input.shape})")
    x = input.data
    valid = (x == x).sum(axis=axis, keepdims=True)
    rank = numpy.where(valid < n, valid, (n - 1) // 2)
    idx = numpy.take_along_axis(_order(x, axis, False), rank, axis=axis).astype(numpy.int64)
    values = input.gather(axis, _const(idx))
    if not keepdim:
        return ValuesIndices(values.squeeze(axis), _const(idx.squeeze(axis)))
    return ValuesIndices(values, _const(idx))


@method
def nanmedian(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A002
    """median ignoring NaN (the lower median of the values that are not NaN; a row of NaN only gives NaN);
    nanmedian(dim) → (values, indices) along `dim`, the gradient going to the chosen element."""
    if dim is None:
        kept = input[~isnan(input)] if input.dtype.kind == "f" else input.reshape(-1)
        return median(kept)
    axis = _scan_axis(input, dim, "nanmedian")
    if input.ndim == 0:
        return ValuesIndices(input.clone(), _const(numpy.zeros((), dtype=numpy.int64), like=input))
    n = input.shape[axis]
    if n == 0:
        raise IndexError(f"nanmedian: cannot take the median of dim {axis} of size 0 (shape {input.shape})")
    x = input.data
    order = _order(x, axis, False)  # NaN sorts last
    valid = (x == x).sum(axis=axis, keepdims=True)  # how many are not NaN
    rank = numpy.maximum(valid - 1, 0) // 2  # the lower median of the values that are not NaN (all NaN: NaN)
    idx = numpy.take_along_axis(order, rank, axis=axis).astype(numpy.int64)
    values = input.gather(axis, _const(idx))
    if not keepdim:
        return ValuesIndices(values.squeeze(axis), _const(idx.squeeze(axis)))
    return ValuesIndices(values, _const(idx))


@method
def mode(input: Tensor, dim: int = -1, keepdim: bool = False) -> ValuesIndices:  # noqa: A002
    """The most frequent value along `dim` (the smallest on ties) and the index of its last occurrence."""
    axis = _scan_axis(input, dim, "mode")
    if input.ndim == 0:
        return ValuesIndices(input.clone(), _const(_xp(input).zeros((), dtype=numpy.int64)))
    x = numpy.moveaxis(input.data, axis, -1)
    rows = x.reshape(-1, x.shape[-1])
    s = numpy.sort(rows, axis=-1)  # equal values side by side, in runs
    positions = _xp(input).arange(s.shape[-1])
    run_starts_here = numpy.concatenate([_xp(input).ones((len(s), 1), dtype=bool), s[:, 1:] != s[:, :-1]], axis=-1)
    run_start = backend.accumulate(numpy.maximum, numpy.where(run_starts_here, positions, 0), -1)
    longest = numpy.argmax(positions - run_start, axis=-1)[:, None]  # ends the first longest run: the smallest mode
    value = numpy.take_along_axis(s, longest, axis=-1)
    best = numpy.where(rows == value, positions, -1).max(axis=-1)  # the last place the mode appears in its row
    best = numpy.maximum(best, 0)  # an all-NaN row (NaN == NaN is false): index 0, as torch for rows up to 16 long
    idx = numpy.moveaxis(best.reshape(x.shape[:-1] + (1,)), -1, axis)
    values = input.gather(axis, _const(idx))
    if not keepdim:
        return ValuesIndices(values.squeeze(axis), _const(idx.squeeze(axis)))
    return ValuesIndices(values, _const(idx))


@method
def unique(
    input: Tensor,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,  # noqa: A002
    dim=None,
):
    """The distinct values (sorted), optionally with the inverse indices and the counts (no gradient)."""
    _check_tensor("unique", input)
    if dim is not None:
        axis = _axis(dim, input.ndim, "unique")
        values, inverse, counts = numpy.unique(input.data, return_inverse=True, return_counts=True, axis=axis)
    else:
        values, inverse, counts = numpy.unique(input.data, return_inverse=True, return_counts=True)
        inverse = inverse.reshape(input.shape)
    out = [_const(values)]
    if return_inverse:
        out.append(_const(inverse.astype(numpy.int64)))
    if return_counts:
        out.append(_const(counts.astype(numpy.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def searchsorted(
    sorted_sequence: Tensor, values, *, out_int32: bool = False, right: bool = False, side=None, sorter=None
) -> Tensor:
    """For each value, the index where it would be inserted into the (last-dim) sorted sequence to keep it sorted."""
    _check_tensor("searchsorted", sorted_sequence)
    side = side or ("right" if right else "left")
    seq, vals = sorted_sequence.data, _on_device_of(values, sorted_sequence)
    if sorter is not None:
        seq = numpy.take_along_axis(seq, _on_device_of(sorter, sorted_sequence), axis=-1)
    if seq.ndim <= 1:
        out = numpy.searchsorted(seq, vals, side=side)
    else:
        if seq.shape[:-1] != vals.shape[:-1]:
            raise ValueError(
                f"searchsorted: the leading dims of the sequence {seq.shape} and the values {vals.shape} must match"
            )
        rows_s, rows_v = seq.reshape(-1, seq.shape[-1]), vals.reshape(-1, vals.shape[-1])
        out = numpy.stack([numpy.searchsorted(s, v, side=side) for s, v in zip(rows_s, rows_v)]).reshape(vals.shape)
    return _const(out.astype(numpy.int32 if out_int32 else numpy.int64))


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False) -> Tensor:  # noqa: A002
    """The index of the bucket of each value: boundaries[i−1] < x ≤ boundaries[i] (right=True: ≤ x <)."""
    if boundaries.ndim != 1:
        raise ValueError(f"bucketize: boundaries must be 1-D, got shape {boundaries.shape}")
    out = numpy.searchsorted(boundaries.data, _on_device_of(input, boundaries), side="right" if right else "left")
    return _const(out.astype(numpy.int32 if out_int32 else numpy.int64))


# ----- rearranging (compositions of indexing, so gradients flow back through GetItem) -------------------------------
def _index_along(input: Tensor, axis: int, index) -> Tensor:
    """input[..., index, ...] with `index` (a slice or an integer array) at `axis`."""
    return input[(slice(None),) * axis + (index,)]


@method
def flip(input: Tensor, dims) -> Tensor:  # noqa: A002
    """Reverse the order of elements along `dims`."""
    _check_tensor("flip", input)
    axes = _dim_tuple(dims, input.ndim, "flip") if input.ndim else ()
    index = tuple(slice(None, None, -1) if d in axes else slice(None) for d in range(input.ndim))
    return input[index] if axes else input.clone()


@method
def fliplr(input: Tensor) -> Tensor:  # noqa: A002
    """Reverse the columns (dim 1) of a tensor with at least 2 dims."""
    if input.ndim < 2:
        raise ValueError(f"fliplr: expected at least 2 dims, got shape {input.shape}")
    return flip(input, 1)


@method
def flipud(input: Tensor) -> Tensor:  # noqa: A002
    """Reverse the rows (dim 0) of a tensor with at least 1 dim."""
    if input.ndim < 1:
        raise ValueError(f"flipud: expected at least 1 dim, got shape {input.shape}")
    return flip(input, 0)


@method
def roll(input: Tensor, shifts, dims=None) -> Tensor:  # noqa: A002
    """Shift elements cyclically: element i moves to i + shift along each dim (over the flattened tensor if dims is
    None)."""
    _check_tensor("roll", input)
    if dims is None:
        shift = shifts if isinstance(shifts, int) else builtins.sum(shifts)
        return roll(input.reshape(-1), shift, 0).reshape(input.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise ValueError(f"roll: {len(shifts)} shifts for {len(dims)} dims")
    out = input
    for shift, dim in zip(shifts, dims):
        axis = _axis(dim, input.ndim, "roll")
        n = input.shape[axis]
        if n:
            out = _index_along(out, axis, (numpy.arange(n) - shift) % n)
    return out


@method
def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:  # noqa: A002
    """Rotate by 90° k times in the plane of `dims` (from the first dim toward the second)."""
    _check_tensor("rot90", input)
    if len(dims) != 2 or input.ndim < 2:
        raise ValueError(f"rot90: needs two dims of a tensor with at least 2 dims, got {dims}, shape {input.shape}")
    d0, d1 = _dim_tuple(dims, input.ndim, "rot90")
    k %= 4
    if k == 0:
        return input.clone()
    if k == 2:
        return flip(input, (d0, d1))
    if k == 1:
        return flip(input, d1).transpose(d0, d1)
    return flip(input.transpose(d0, d1), d1)


@method
def repeat_interleave(input: Tensor, repeats, dim=None, *, output_size=None) -> Tensor:  # noqa: A002
    """Repeat each element `repeats` times (an int or one count per element) along `dim` (flattened if None)."""
    _check_tensor("repeat_interleave", input)
    if dim is None:
        input, dim = input.reshape(-1), 0
    axis = _axis(dim, input.ndim, "repeat_interleave")
    n = input.shape[axis] if input.ndim else 1
    counts = _raw(repeats)  # the output's size depends on the counts: they are read on the host
    counts = backend.to_host(counts) if backend.is_array(counts) else numpy.asarray(counts)
    if counts.ndim and counts.shape != (n,):
        raise ValueError(f"repeat_interleave: {counts.shape[0]} repeats for dim {axis} of size {n}")
    if numpy.any(counts < 0):
        raise ValueError("repeat_interleave: repeats must be non-negative")
    return _index_along(input, axis, numpy.repeat(numpy.arange(n), counts))


def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    """Coordinate grids from 1-D tensors: indexing "ij" (matrix) or "xy" (Cartesian, first two swapped)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in tensors:
        if t.ndim > 1:
            raise ValueError(f"meshgrid: expected 0-d or 1-D tensors, got shape {t.shape}")
    flat = [t.reshape(-1) for t in tensors]
    if indexing == "xy" and len(flat) >= 2:
        flat[0], flat[1] = flat[1], flat[0]
    shape = tuple(t.shape[0] for t in flat)
    grids = []
    for i, t in enumerate(flat):
        view = [1] * len(flat)
        view[i] = -1
        grids.append(t.reshape(view).expand(*shape))
    if indexing == "xy" and len(grids) >= 2:  # the grids of (y, x, …) in "ij" order, handed back as (x, y, …)
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def _unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """All windows of `size` elements, `step` apart, along `dimension` (a new last dim holds each window)."""
    axis = _axis(dimension, input.ndim, "unfold")
    n = input.shape[axis] if input.ndim else 1
    if size > n or size < 0 or step < 1:
        raise ValueError(f"unfold: size {size} (step {step}) does not fit dim {axis} of size {n} (shape {input.shape})")
    if input.ndim == 0:
        return input.reshape(1)
    starts = numpy.arange(0, n - size + 1, step)
    windows = _index_along(input, axis, starts[:, None] + numpy.arange(size))  # (..., count, size, ...)
    return windows.movedim(axis + 1, -1)


@method
def movedim(input: Tensor, source, destination) -> Tensor:  # noqa: A002
    """Move dims from positions `source` to positions `destination` (the others keep their order)."""
    _check_tensor("movedim", input)
    src = _dim_tuple(source, input.ndim, "movedim")
    dst = _dim_tuple(destination, input.ndim, "movedim")
    if len(src) != len(dst):
        raise ValueError(f"movedim: {len(src)} source dims but {len(dst)} destinations")
    order = [d for d in range(input.ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return input.permute(*order) if input.ndim else input


moveaxis = movedim
_ALIASES["moveaxis"] = movedim


@method
def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:  # noqa: A002
    """Swap two dims (torch.swapaxes, a transpose)."""
    return input.transpose(axis0, axis1)


swapdims = swapaxes
_ALIASES["swapdims"] = swapaxes


@method
def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:  # noqa: A002
    """The slice start:start+length along `dim`."""
    axis = _axis(dim, input.ndim, "narrow")
    n = input.shape[axis]
    start = start + n if start < 0 else start
    if not (0 <= start and length >= 0 and start + length <= n):
        raise IndexError(f"narrow: start {start} and length {length} exceed dim {axis} of size {n}")
    return _index_along(input, axis, slice(start, start + length))


@method
def index_select(input: Tensor, dim: int, index) -> Tensor:  # noqa: A002
    """The entries at the integer positions `index` (1-D) along `dim`."""
    _check_tensor("index_select", input)
    idx = _on_device_of(index, input)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise ValueError(f"index_select: index must be a 1-D integer tensor, got {idx.dtype} of shape {idx.shape}")
    axis = _axis(dim, input.ndim, "index_select")
    if input.ndim == 0:
        return input.reshape(1)[idx.reshape(-1)].reshape(idx.shape)
    return _index_along(input, axis, idx.reshape(-1))


# ----- masked and indexed writes ---------------------------------------------------------------------------------
def _mask(input: Tensor, mask, name: str):
    m = backend.array_like(_raw(mask), input.data)  # on the input's device
    if m.dtype != bool:
        raise TypeError(f"{name}: the mask must be a bool tensor, got {m.dtype}")
    try:
        numpy.broadcast_shapes(m.shape, input.shape)
    except ValueError:
        raise ValueError(f"{name}: mask of shape {m.shape} does not broadcast to the input's {input.shape}") from None
    return m


@method
def masked_fill(input: Tensor, mask, value) -> Tensor:  # noqa: A002
    """`value` where mask is True, input elsewhere (a `where`, so the gradient reaches input where mask is False)."""
    _check_tensor("masked_fill", input)
    m = _mask(input, mask, "masked_fill")
    if numpy.broadcast_shapes(m.shape, input.shape) != input.shape:
        raise ValueError(f"masked_fill: mask of shape {m.shape} would enlarge the input's {input.shape}")
    if isinstance(value, Tensor):
        if value.ndim:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        value = value.to(input.dtype)
    else:
        value = numpy.asarray(value).astype(input.dtype)[()]
        if input.dtype.kind != "f":
            return Tensor._make(numpy.where(m, value, input.data), None)
    return where(_const(m), value, input)


@method
def masked_select(input: Tensor, mask) -> Tensor:  # noqa: A002
    """The elements where mask is True, as a 1-D tensor (mask and input broadcast together)."""
    _check_tensor("masked_select", input)
    m = _mask(input, mask, "masked_select")
    shape = numpy.broadcast_shapes(m.shape, input.shape)
    return input.expand(*shape)[_const(numpy.broadcast_to(m, shape))]


@method
def masked_scatter(input: Tensor, mask, source: Tensor) -> Tensor:  # noqa: A002
    """Copy source's leading elements, in order, into the places where mask is True."""
    _check_tensor("masked_scatter", input)
    m = numpy.broadcast_to(_mask(input, mask, "masked_scatter"), input.shape)
    count = int(m.sum())
    if count > source.data.size:
        raise ValueError(f"masked_scatter: the mask selects {count} places but source has {source.data.size} elements")
    order = numpy.cumsum(m.reshape(-1)) - 1  # which source element each True place takes
    picked = source.reshape(-1)[_const(numpy.clip(order, 0, None).reshape(input.shape))] if source.data.size else input
    return where(_const(m), picked.to(input.dtype), input)


def _scatter_index(input: Tensor, dim: int, index, name: str):
    idx = _on_device_of(index, input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: index must be an integer tensor, got {idx.dtype}")
    axis = _axis(dim, input.ndim, name)
    if idx.ndim != input.ndim:
        raise ValueError(f"{name}: index has {idx.ndim} dims but the input of shape {input.shape} has {input.ndim}")
    n = input.shape[axis] if input.ndim else 1
    if idx.size and ((idx.max() >= n) | (idx.min() < -n)):  # (on a device: one value read back)
        raise OpIndexError(f"{name}: index out of range for dim {axis} of size {n}")
    for d, (a, b) in enumerate(zip(idx.shape, input.shape)):
        if d != axis and a > b:
            raise ValueError(
                f"{name}: index of shape {idx.shape} is larger than the input {input.shape} outside dim {axis}"
            )
    return idx % n if idx.size else idx, axis


def _scatter_source(src, idx, dtype, name: str):
    """src cut to the index's shape (PyTorch reads only the leading part), or a number broadcast to it."""
    if isinstance(src, Tensor):
        if src.ndim != idx.ndim or builtins.any(a > b for a, b in zip(idx.shape, src.shape)):
            raise ValueError(f"{name}: src of shape {src.shape} is smaller than the index {idx.shape}")
        return src[tuple(slice(0, n) for n in idx.shape)].to(dtype)
    return _const(backend.array_module(idx).full(idx.shape, src, dtype=dtype))


@method
def scatter(input: Tensor, dim: int, index, src=None, *, value=None, reduce=None) -> Tensor:  # noqa: A002
    """out = input with out[..index[i]..] = src[i] along `dim` (reduce "add"/"multiply" combines instead)."""
    _check_tensor("scatter", input)
    if src is None:
        src = value
    if reduce is not None:
        modes = {"add": "sum", "multiply": "prod"}
        if reduce not in modes:
            raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        return scatter_reduce(
            input,
            dim,
            index,
            src
            if isinstance(src, Tensor)
            else _scatter_source(src, _on_device_of(index, input), input.dtype, "scatter"),
            modes[reduce],
        )
    if input.ndim == 0:  # a 0-d tensor is scattered into as a 1-element vector
        src = src.reshape(1) if isinstance(src, Tensor) else src
        return scatter(input.reshape(1), 0, _on_device_of(index, input).reshape(1), src).reshape(())
    idx, axis = _scatter_index(input, dim, index, "scatter")
    source = _scatter_source(src, idx, input.dtype, "scatter")
    return ix.Scatter.apply(input, source, index=idx, axis=axis)


@method
def scatter_add(input: Tensor, dim: int, index, src: Tensor) -> Tensor:  # noqa: A002
    """out = input, plus src added at index along `dim` (repeated indices add up)."""
    return scatter_reduce(input, dim, index, src, "sum")


@method
def scatter_reduce(input: Tensor, dim: int, index, src: Tensor, reduce: str, *, include_self: bool = True) -> Tensor:  # noqa: A002
    """Combine src into input at index along `dim` with reduce "sum", "prod", "mean", "amax" or "amin"
    (include_self=False: the input's own value at a written place is left out)."""
    _check_tensor("scatter_reduce", input)
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise ValueError(f"scatter_reduce: reduce must be sum, prod, mean, amax or amin, got {reduce!r}")
    if input.ndim == 0:
        src = src.reshape(1) if isinstance(src, Tensor) else src
        index = _on_device_of(index, input).reshape(1)
        return scatter_reduce(input.reshape(1), 0, index, src, reduce, include_self=include_self).reshape(())
    idx, axis = _scatter_index(input, dim, index, "scatter_reduce")
    source = _scatter_source(src, idx, input.dtype, "scatter_reduce")
    return ix.ScatterReduce.apply(input, source, index=idx, axis=axis, reduce=reduce, include_self=include_self)


def _index_dim(input: Tensor, dim: int, index, name: str):
    idx = _on_device_of(index, input)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise ValueError(f"{name}: index must be a 1-D integer tensor, got {idx.dtype} of shape {idx.shape}")
    axis = _axis(dim, input.ndim, name)
    n = input.shape[axis] if input.ndim else 1
    idx = idx.reshape(-1)
    if idx.size and ((idx.max() >= n) | (idx.min() < -n)):  # (on a device: one value read back)
        raise OpIndexError(f"{name}: index out of range for dim {axis} of size {n}")
    return idx % n if idx.size else idx, axis


def _full_index(idx, axis: int, shape: tuple):
    """A 1-D index along `axis` spread to a gather/scatter index of `shape` (the source's shape)."""
    view = [1] * len(shape)
    view[axis] = -1
    return numpy.broadcast_to(idx.reshape(view), shape).astype(numpy.int64)


@method
def index_add(input: Tensor, dim: int, index, source: Tensor, *, alpha=1) -> Tensor:  # noqa: A002
    """out = input with alpha · source[i] added to the slice index[i] along `dim` (repeats add up)."""
    _check_tensor("index_add", input)
    idx, axis = _index_dim(input, dim, index, "index_add")
    src = source if alpha == 1 else source * alpha
    if input.ndim == 0:
        return input + src.sum()
    if src.shape[axis] != idx.size:
        raise ValueError(
            f"index_add: source of shape {src.shape} has {src.shape[axis]} slices along dim {axis} "
            f"but index has {idx.size} entries"
        )
    return input + rd.ScatterAdd.apply(
        src.to(input.dtype), index=_full_index(idx, axis, src.shape), axis=axis, shape=input.shape
    )


@method
def index_copy(input: Tensor, dim: int, index, source: Tensor) -> Tensor:  # noqa: A002
    """out = input with the slice index[i] along `dim` replaced by source[i]."""
    _check_tensor("index_copy", input)
    idx, axis = _index_dim(input, dim, index, "index_copy")
    if input.ndim == 0:
        return source.reshape(()).to(input.dtype) + input * 0
    return scatter(input, axis, _full_index(idx, axis, source.shape), source)


@method
def index_fill(input: Tensor, dim: int, index, value) -> Tensor:  # noqa: A002
    """out = input with the slices index[i] along `dim` set to `value`."""
    _check_tensor("index_fill", input)
    idx, axis = _index_dim(input, dim, index, "index_fill")
    mask = _xp(input).zeros(input.shape[axis] if input.ndim else 1, dtype=bool)
    mask[idx] = True
    view = [1] * input.ndim
    if input.ndim:
        view[axis] = -1
    return masked_fill(input, _const(mask.reshape(view) if input.ndim else mask.reshape(())), value)


@method
def take_along_dim(input: Tensor, indices, dim=None) -> Tensor:  # noqa: A002
    """input gathered at `indices` along `dim`, broadcasting the other dims (flattened input if dim is None)."""
    _check_tensor("take_along_dim", input)
    idx = _on_device_of(indices, input)
    if dim is None:
        return input.reshape(-1).gather(0, _const(idx.reshape(-1)))
    axis = _axis(dim, input.ndim, "take_along_dim")
    shape_x, shape_i = list(input.shape), list(idx.shape)
    shape_x[axis] = shape_i[axis] = 1
    common = numpy.broadcast_shapes(tuple(shape_x), tuple(shape_i))
    x_shape = list(common)
    x_shape[axis] = input.shape[axis]
    i_shape = list(common)
    i_shape[axis] = idx.shape[axis]
    return input.expand(*x_shape).gather(axis, _const(numpy.broadcast_to(idx, tuple(i_shape))))


@method
def take(input: Tensor, index) -> Tensor:  # noqa: A002
    """The elements of the flattened input at `index` (the result has the index's shape)."""
    idx = _on_device_of(index, input)
    return input.reshape(-1)[_const(idx.reshape(-1))].reshape(idx.shape)


# ----- Tensor habits ---------------------------------------------------------------------------------------------
def from_numpy(array: numpy.ndarray) -> Tensor:
    """A tensor that shares memory with a NumPy array (writes to either show in both), as torch.from_numpy."""
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: unsupported dtype {array.dtype}")
    return Tensor._make(array, None)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """`data` as a tensor, without a copy where it already is one (or a NumPy array) of that dtype."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, numpy.ndarray) and (dtype is None or backend.to_dtype(dtype) == data.dtype):
        return from_numpy(data)
    return Tensor(data, dtype=dtype)


@method
def type_as(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """input converted to other's dtype."""
    return input.to(other.dtype)


def _new(input: Tensor, fill, size, dtype, device=None):
    """`fill` in a new tensor on input's device (or `device`), as PyTorch's new_* methods make it."""
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    dtype = input.dtype if dtype is None else backend.to_dtype(dtype)
    made = Tensor._make(_xp(input).full(shape, fill, dtype=dtype), None)
    return made if device is None else made.to(device)


@method
def new_zeros(input: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    """Zeros of `size` with input's dtype (unless given)."""
    return _new(input, 0, size, dtype, device).requires_grad_(requires_grad)


@method
def new_ones(input: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    """Ones of `size` with input's dtype (unless given)."""
    return _new(input, 1, size, dtype, device).requires_grad_(requires_grad)


@method
def new_empty(input: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    """An uninitialised tensor of `size` with input's dtype (zeros here)."""
    return _new(input, 0, size, dtype, device).requires_grad_(requires_grad)


@method
def new_full(input: Tensor, size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    """`fill_value` in a tensor of `size` with input's dtype (unless given)."""
    return _new(input, fill_value, (size,), dtype, device).requires_grad_(requires_grad)


@method
def new_tensor(input: Tensor, data, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    """A new tensor holding (a copy of) `data`, with input's dtype and device unless given."""
    values = backend.array_like(_raw(data), input.data, input.dtype if dtype is None else backend.to_dtype(dtype))
    made = Tensor._make(values.copy() if values is _raw(data) else values, None)
    return (made if device is None else made.to(device)).requires_grad_(requires_grad)


def set_printoptions(
    precision: int | None = None,
    threshold: int | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """How tensors print (as torch.set_printoptions): digits after the point, when to summarise, line width;
    profile "default", "short" (2 digits, 2 edge items) or "full" (never summarise) first resets them all."""
    options = PRINT_OPTIONS
    if profile is not None:
        presets = {"default": {}, "short": {"precision": 2, "edgeitems": 2}, "full": {"threshold": 2**63 - 1}}
        if profile not in presets:
            raise ValueError(f"set_printoptions: profile must be 'default', 'short' or 'full', got {profile!r}")
        options.clear()
        options.update({"precision": 4, **presets[profile]})
    for key, value in (
        ("precision", precision),
        ("threshold", threshold),
        ("edgeitems", edgeitems),
        ("linewidth", linewidth),
    ):
        if value is not None:
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"set_printoptions: {key} must be a non-negative int, got {value!r}")
            options[key] = value
    if sci_mode is not None:
        options["suppress"] = not sci_mode


# ----- install -----------------------------------------------------------------------------------------------------
_SPECIAL = {
    "__floordiv__": floor_divide,
    "__mod__": remainder,
    "__lshift__": bitwise_left_shift,
    "__rshift__": bitwise_right_shift,
    "__xor__": bitwise_xor,
    "__and__": bitwise_and,
    "__or__": bitwise_or,
}
for _name in _METHODS:
    setattr(Tensor, _name, globals()[_name])
for _name, _fn in _ALIASES.items():
    setattr(Tensor, _name, _fn)
for _name, _fn in _SPECIAL.items():
    setattr(Tensor, _name, _fn)
Tensor.__rfloordiv__ = lambda self, other: floor_divide(other, self)
Tensor.__rmod__ = lambda self, other: remainder(other, self)
Tensor.__rlshift__ = lambda self, other: bitwise_left_shift(other, self)
Tensor.__rrshift__ = lambda self, other: bitwise_right_shift(other, self)
Tensor.__rxor__ = lambda self, other: bitwise_xor(other, self)
Tensor.__rand__ = lambda self, other: bitwise_and(other, self)
Tensor.__ror__ = lambda self, other: bitwise_or(other, self)
Tensor.unfold = _unfold
del _name, _fn

__all__ = sorted(
    set(_METHODS)
    | set(_ALIASES)
    | {
        "ValuesIndices",
        "meshgrid",
        "searchsorted",
        "bucketize",
        "from_numpy",
        "as_tensor",
        "set_printoptions",
        "floor",
        "ceil",
        "trunc",
        "fix",
    }
    - {
        "type_as",
        "new_zeros",
        "new_ones",
        "new_empty",
        "new_full",
        "new_tensor",
        "add",
        "sub",
        "mul",
        "subtract",
        "multiply",
        "div",  # gn.div, gn.divide, gn.true_divide are glassnet/__init__.py's (rounding_mode passes to Tensor.div)
        "divide",
        "true_divide",
    }
)


# ----- triangles and diagonals (compositions: a where with a constant mask, an indexing, an einsum) -------------------
def _triangle_mask(input: Tensor, diagonal: int, lower: bool):
    rows, cols = input.shape[-2], input.shape[-1]
    keep = numpy.tri(rows, cols, diagonal, dtype=bool) if lower else ~numpy.tri(rows, cols, diagonal - 1, dtype=bool)
    return _const(keep, input)


@method
def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The lower triangle (j ≤ i + diagonal) of the last two dims; zeros above."""
    _check_tensor("tril", input)
    if input.ndim < 2:
        raise ShapeError(f"tril: expected at least 2 dims, got shape {input.shape}")
    return where(_triangle_mask(input, diagonal, True), input, _const(numpy.zeros((), input.dtype), input))


@method
def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The upper triangle (j ≥ i + diagonal) of the last two dims; zeros below."""
    _check_tensor("triu", input)
    if input.ndim < 2:
        raise ShapeError(f"triu: expected at least 2 dims, got shape {input.shape}")
    return where(_triangle_mask(input, diagonal, False), input, _const(numpy.zeros((), input.dtype), input))


@method
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """The diagonal of the planes (dim1, dim2), moved to a new last dim (offset > 0: above the main diagonal)."""
    _check_tensor("diagonal", input)
    if input.ndim < 2:
        raise ShapeError(f"diagonal: expected at least 2 dims, got shape {input.shape}")
    d1, d2 = _dim_tuple((dim1, dim2), input.ndim, "diagonal")
    moved = movedim(input, (d1, d2), (-2, -1))
    rows, cols = moved.shape[-2], moved.shape[-1]
    n = builtins.max(0, builtins.min(rows + builtins.min(offset, 0), cols - builtins.max(offset, 0)))
    i = numpy.arange(n)
    return moved[..., i - builtins.min(offset, 0), i + builtins.max(offset, 0)]


@method
def trace(input: Tensor) -> Tensor:  # noqa: A002
    """The sum of the main diagonal of a matrix."""
    _check_tensor("trace", input)
    if input.ndim != 2:
        raise ShapeError(f"trace: expected a 2-D tensor, got shape {input.shape}")
    return diagonal(input).sum()


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: A002
    """Matrices (in dims dim1, dim2 of the result) with the last dim of input on their diagonal `offset`."""
    _check_tensor("diag_embed", input)
    x = input if input.ndim else input.reshape(1)
    n = x.shape[-1]
    m = n + abs(offset)
    place = _xp(x).zeros((n, m, m), dtype=x.dtype)  # place[t] puts element t at (t + rows_shift, t + cols_shift)
    t = _xp(x).arange(n)
    place[t, t + builtins.max(0, -offset), t + builtins.max(0, offset)] = 1
    out = einsum_fn("...t,tij->...ij", x, _const(place))
    d1, d2 = _dim_tuple((dim1, dim2), out.ndim, "diag_embed")
    return movedim(out, (out.ndim - 2, out.ndim - 1), (d1, d2))


@method
def diag(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """A 1-D input: the square matrix with it on diagonal `diagonal`; a 2-D input: that diagonal of it."""
    _check_tensor("diag", input)
    if input.ndim == 1:
        return diag_embed(input, diagonal)
    if input.ndim == 2:
        return globals()["diagonal"](input, diagonal)
    raise ShapeError(f"diag: expected a 1-D or 2-D tensor, got shape {input.shape}")


for _name in ("tril", "triu", "diagonal", "trace", "diag"):
    setattr(Tensor, _name, globals()[_name])
__all__ += ["tril", "triu", "diagonal", "trace", "diag_embed", "diag"]


@method
def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:  # noqa: A002
    """torch.norm: the p-norm of the elements (over `dim`), "fro" the 2-norm, "nuc" the nuclear norm of matrices."""
    from glassnet import linalg

    _check_tensor("norm", input)
    if p == "nuc":
        return linalg.matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim)
    return linalg.vector_norm(input, 2 if p == "fro" else p, dim, keepdim, dtype=dtype)


Tensor.norm = norm
__all__ += ["norm"]


def slogdet(input: Tensor):  # noqa: A002
    """torch.slogdet: `gn.linalg.slogdet`, the (sign, logabsdet) of square matrices."""
    from glassnet import linalg

    return linalg.slogdet(_check_tensor("slogdet", input))


def logdet(input: Tensor) -> Tensor:  # noqa: A002
    """log det A of square matrices: NaN where det A < 0, −inf where A is singular (as torch.logdet); the gradient
    is A⁻ᵀ, and 0 where det A < 0."""
    sign, logabsdet = slogdet(input)
    return where(sign < 0, float("nan"), logabsdet)


Tensor.slogdet, Tensor.logdet = slogdet, logdet
__all__ += ["slogdet", "logdet"]
