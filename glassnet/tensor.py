"""Tensor: an array, its gradient and the node that produced it. Every operator delegates to an op in `ops/`."""

from __future__ import annotations

import builtins
import weakref
from typing import Any, NamedTuple

import numpy

from glassnet import autograd, backend
from glassnet.autograd import _state, initial_gradients, open_blocks, run_backward, unit_gradient
from glassnet.errors import OpIndexError, OpValueError, ShapeError
from glassnet.ops import activation as act
from glassnet.ops import arithmetic as ar
from glassnet.ops import linalg as la
from glassnet.ops import reduction as rd
from glassnet.ops import shape as sh

_SCALARS = (int, float, bool, numpy.bool_, numpy.number)
PRINT_OPTIONS = {"precision": 4}  # how __repr__ prints values (gn.set_printoptions changes it)


class Tensor:
    """An n-dimensional array that remembers how it was computed, so gradients can flow back through it."""

    __slots__ = ("data", "grad_fn", "_requires_grad", "_grad", "_hooks", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, data: Any, dtype=None, requires_grad: bool = False, device=None):
        self.data = _to_array(data, backend.to_dtype(dtype))
        if device is None:
            device = _state.default_device  # inside `with gn.device(...)`
        if device is not None:
            self.data = backend.to_device(self.data, backend.Device(device))
        self.grad_fn = None
        self._grad = None
        self._hooks = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, grad_fn) -> Tensor:
        t = object.__new__(cls)
        t.data = data
        t.grad_fn = grad_fn
        t._requires_grad = grad_fn is not None
        t._grad = None
        t._hooks = None
        return t

    # ----- attributes -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> numpy.dtype:
        return self.data.dtype

    @property
    def device(self) -> backend.Device:
        """Where the values live (`gn.device`); equal to its string: `t.device == "cpu"`."""
        return backend.device_of(self.data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark a leaf tensor as a parameter whose gradient should be computed (in place)."""
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("requires_grad_: a non-leaf tensor always requires grad; use .detach()")
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only floating tensors can require grad, not {self.data.dtype}")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def grad(self) -> Tensor | None:
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"grad must be a Tensor or None, not {type(value).__name__}")
        if value is not None and value.shape != self.shape:
            raise ValueError(f"grad of shape {value.shape} assigned to a tensor of shape {self.shape}")
        if _state.capture is not None:  # gn.compile is recording: `.grad = None` goes into the schedule
            _state.capture.assign_grad(self, value)
        self._grad = value

    @property
    def T(self) -> Tensor:
        return self.permute(*range(self.ndim - 1, -1, -1))

    @property
    def mT(self) -> Tensor:
        return self.transpose(-2, -1)

    def size(self, dim: int | None = None):
        """The shape, or the length of one dimension."""
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        """Number of dimensions."""
        return self.ndim

    def numel(self) -> int:
        """Number of elements."""
        return self.data.size

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    # ----- conversion ---------------------------------------------------------------------------
    def numpy(self) -> numpy.ndarray:
        """The underlying array (shared, not copied); refuses if the tensor requires grad, like PyTorch."""
        if _state.capture is not None:
            _state.capture.read("numpy()")
        if self._requires_grad:
            raise RuntimeError("numpy(): the tensor requires grad; call .detach().numpy() instead")
        if type(self.data) is not numpy.ndarray:
            raise TypeError(
                f"numpy(): the tensor is on {self.device}; call .cpu() first to copy it to host memory"
            )
        return self.data

    def item(self):
        """The single value of a one-element tensor as a Python number (from a device: one transfer)."""
        if _state.capture is not None:
            _state.capture.read("item()")
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted, got shape {self.shape}")
        return backend.to_host(self.data).item()

    def tolist(self):
        """The values as (nested) Python lists."""
        if _state.capture is not None:
            _state.capture.read("tolist()")
        return backend.to_host(self.data).tolist()

    def cpu(self) -> Tensor:
        """This tensor in host memory (itself if it is there already); stays on the graph."""
        return self.to("cpu")

    def cuda(self, device: int | str | None = None) -> Tensor:
        """This tensor on a CUDA GPU (`cuda()` is GPU 0, `cuda(1)` GPU 1)."""
        return self.to(_cuda_device(device))

    def detach(self) -> Tensor:
        """The same values, cut from the graph (no grad_fn, requires_grad=False)."""
        return Tensor._make(self.data, None)

    def clone(self, *, memory_format=None) -> Tensor:
        """A copy of the values that stays on the graph (memory_format is accepted; arrays here are always dense)."""
        return self + 0 if self.dtype.kind != "b" else Tensor._make(self.data.copy(), None)

    def contiguous(self, memory_format=None) -> Tensor:
        """The tensor itself: glassnet's view/reshape take any layout, so `x.transpose(1, 2).contiguous().view(...)`
        needs no copy (memory_format is accepted for PyTorch's sake)."""
        return self

    def is_contiguous(self, memory_format=None) -> bool:
        """Whether the values are laid out in row-major order (C-contiguous) in memory."""
        return bool(self.data.flags.c_contiguous)

    def nonzero(self, *, as_tuple: bool = False):
        """The indices of the nonzero elements: (count, ndim) int64, or one 1-D tensor per dim with as_tuple=True."""
        data = self.data if self.ndim else self.data.reshape(1)
        found = backend.array_module(data).argwhere(data).astype(backend.int64)
        if as_tuple:
            return tuple(Tensor._make(found[:, d], None) for d in range(found.shape[1]))
        return Tensor._make(found if self.ndim else found[:, :0], None)

    def to(self, *args, dtype=None, device=None, non_blocking: bool = False, copy: bool = False,
           memory_format=None) -> Tensor:
        """`to(dtype)`, `to(device)`, `to(device, dtype)` or `to(other_tensor)`: a converted tensor (or itself;
        copy=True: always a new one). memory_format is accepted for PyTorch's sake (arrays here are dense).

        Moving to another device stays on the graph: the gradient flows back to the original device.
        """
        if copy:
            t = self.to(*args, dtype=dtype, device=device)
            return t.clone() if t is self else t
        if len(args) == 1 and device is None and isinstance(args[0], numpy.dtype):  # the common internal call
            return self._cast(args[0])
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, backend.Device) or (isinstance(arg, str) and _is_device_string(arg)):
                device = arg
            else:
                dtype = arg
        t = self
        if device is not None:
            device = backend.Device(device)
            if device != t.device or (device.index is not None and str(device) != str(t.device)):
                t = ar.ToDevice.apply(t, device=device) if t._requires_grad else Tensor._make(
                    backend.to_device(t.data, device), None
                )
        return t._cast(dtype)

    def _cast(self, dtype) -> Tensor:
        dtype = backend.to_dtype(dtype)
        if dtype is None or dtype == self.dtype:
            return self
        if self._requires_grad and dtype.kind == "f":
            return ar.Cast.apply(self, dtype=dtype)
        return Tensor._make(self.data.astype(dtype), None)

    def astype(self, dtype=None) -> Tensor:
        """Convert to another dtype (itself when it has it already, or when none is given)."""
        return self._cast(dtype)

    type = astype

    def float(self) -> Tensor:
        """Convert to float32."""
        return self._cast(backend.float32)

    def double(self) -> Tensor:
        """Convert to float64."""
        return self._cast(backend.float64)

    def half(self) -> Tensor:
        """Convert to float16."""
        return self._cast(backend.float16)

    def long(self) -> Tensor:
        """Convert to int64."""
        return self._cast(backend.int64)

    def int(self) -> Tensor:
        """Convert to int32."""
        return self._cast(backend.int32)

    def bool(self) -> Tensor:
        """Convert to bool."""
        return self._cast(backend.bool_)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if _state.capture is not None:
            _state.capture.read("bool(tensor), e.g. `if loss > 0:`")
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    def __index__(self) -> int:
        if _state.capture is not None:
            _state.capture.read("a tensor used as an index")
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.data)

    def __format__(self, format_spec: str) -> str:
        """f"{loss:.4f}": a 0-d tensor formats as its number (as in PyTorch); other tensors take no format spec."""
        if self.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __repr__(self) -> str:
        body = numpy.array2string(backend.to_host(self.data), separator=", ", prefix="tensor(", **PRINT_OPTIONS)
        extras = [] if type(self.data) is numpy.ndarray else [f"device='{self.device}'"]
        if self.dtype not in (backend.get_default_dtype(), backend.int64, backend.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}Backward>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def _repr_html_(self) -> str:
        """Jupyter's view: shape, dtype, grad_fn, the value range and a small table of values."""
        from glassnet.display import tensor_html

        grad_fn = f"<{self.grad_fn.name}Backward>" if self.grad_fn is not None else None
        return tensor_html(backend.to_host(self.data), self.dtype, grad_fn, self._requires_grad)

    __hash__ = object.__hash__  # by identity, as in PyTorch (a C-level hash: tensors key the optimiser's state)

    # ----- autograd -------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires grad and accumulate it into `.grad`."""
        if not self._requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no grad_fn "
                "(was it computed under no_grad, or from tensors without requires_grad=True?)"
            )
        if gradient is None and self.data.size == 1 and not create_graph:  # the usual loss.backward()
            grads = [unit_gradient(self.data)]
        else:
            grads = initial_gradients([self], None if gradient is None else [gradient], create_graph, "backward")
        run_backward([self], grads, retain_graph or create_graph, create_graph)

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in `.grad` after backward."""
        if self.grad_fn is None:
            return
        self.grad_fn._retain = weakref.ref(self)

    def register_hook(self, hook) -> _RemovableHandle:
        """Call `hook(grad)` when this tensor's gradient is computed; a returned tensor replaces it."""
        if not self._requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require grad")
        owner = self.grad_fn if self.grad_fn is not None else self
        if owner._hooks is None:
            owner._hooks = []
        owner._hooks.append(hook)
        return _RemovableHandle(owner._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook) -> _RemovableHandle:
        """Call `hook(tensor)` on this leaf as soon as backward has accumulated its complete gradient into `.grad`,
        while the walk continues with the rest of the graph (data-parallel training starts sending it then)."""
        if self.grad_fn is not None or not self._requires_grad:
            raise RuntimeError(
                "register_post_accumulate_grad_hook: only a leaf tensor that requires grad accumulates a .grad"
            )
        return _RemovableHandle(autograd.add_post_accumulate_grad_hook(self, hook), hook)

    # ----- arithmetic -----------------------------------------------------------------------------
    def __add__(self, other):
        """self + other. Fast path (glassnet/fast_paths.py) for one dtype (also in -, ×). Reference: _binary."""
        if type(other) is Tensor and other.data.dtype is self.data.dtype:  # fast path: no promotion needed
            return _add(self, other)
        return _binary(ar.Add, self, other, "add")

    def __radd__(self, other):
        return _binary(ar.Add, other, self, "add")

    def __sub__(self, other):
        if type(other) is Tensor and other.data.dtype is self.data.dtype:  # fast path: no promotion needed
            return _sub(self, other)
        return _binary(ar.Sub, self, other, "sub")

    def __rsub__(self, other):
        return _binary(ar.Sub, other, self, "sub")

    def __mul__(self, other):
        if type(other) is Tensor and other.data.dtype is self.data.dtype:  # fast path: no promotion needed
            return _mul(self, other)
        return _binary(ar.Mul, self, other, "mul")

    def __rmul__(self, other):
        return _binary(ar.Mul, other, self, "mul")

    def __truediv__(self, other):
        return _binary(ar.Div, self, other, "div", floating=True)

    def __rtruediv__(self, other):
        return _binary(ar.Div, other, self, "div", floating=True)

    def __pow__(self, other):
        if isinstance(other, _SCALARS) and not isinstance(other, Tensor):
            base = self
            if isinstance(other, float) and self.dtype.kind != "f":
                base = self._cast(backend.get_default_dtype())
            elif self.dtype.kind == "b":
                base = self._cast(backend.int64)  # bool ** int is int64 in PyTorch (NumPy would give int8)
            if base.dtype.kind in "iu" and not isinstance(other, float) and other < 0:
                raise OpValueError(f"pow: integers to negative integer powers are not allowed (exponent {other}); "
                                   "convert the base with .float()")
            return ar.Pow.apply(base, other if type(other) in (int, float, bool) else other.item())  # np.float64
        return _binary(ar.Pow, self, other, "pow")

    def __rpow__(self, other):
        return _binary(ar.Pow, other, self, "pow")

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def __neg__(self):
        if self.dtype.kind == "b":
            raise TypeError("neg: negation of a bool tensor is not supported; use ~ (logical not)")
        return ar.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __iadd__(self, other):
        return _inplace(self, other, numpy.add, "add_")

    def __isub__(self, other):
        return _inplace(self, other, numpy.subtract, "sub_")

    def __imul__(self, other):
        return _inplace(self, other, numpy.multiply, "mul_")

    def __itruediv__(self, other):
        return _inplace(self, other, numpy.true_divide, "div_")

    # comparisons and logic: no gradient flows through them
    def __eq__(self, other):  # type: ignore[override]
        return _compare(numpy.equal, self, other)

    def __ne__(self, other):  # type: ignore[override]
        return _compare(numpy.not_equal, self, other)

    def __lt__(self, other):
        return _compare(numpy.less, self, other)

    def __le__(self, other):
        return _compare(numpy.less_equal, self, other)

    def __gt__(self, other):
        return _compare(numpy.greater, self, other)

    def __ge__(self, other):
        return _compare(numpy.greater_equal, self, other)

    def __and__(self, other):
        return _compare(numpy.logical_and if _is_bool(self, other) else numpy.bitwise_and, self, other)

    def __or__(self, other):
        return _compare(numpy.logical_or if _is_bool(self, other) else numpy.bitwise_or, self, other)

    def __xor__(self, other):
        return _compare(numpy.logical_xor if _is_bool(self, other) else numpy.bitwise_xor, self, other)

    def __invert__(self):
        return Tensor._make(numpy.logical_not(self.data) if self.dtype.kind == "b" else ~self.data, None)

    __rand__ = __and__
    __ror__ = __or__

    # ----- elementwise math -------------------------------------------------------------------------
    def abs(self) -> Tensor:
        """|x|"""
        return ar.Abs.apply(self)

    def exp(self) -> Tensor:
        """eˣ"""
        return ar.Exp.apply(_floating(self))

    def log(self) -> Tensor:
        """ln x"""
        return ar.Log.apply(_floating(self))

    def log1p(self) -> Tensor:
        """ln(1 + x)"""
        return ar.Log1p.apply(_floating(self))

    def sqrt(self) -> Tensor:
        """√x"""
        return ar.Sqrt.apply(_floating(self))

    def rsqrt(self) -> Tensor:
        """1/√x"""
        return ar.Rsqrt.apply(_floating(self))

    def sin(self) -> Tensor:
        """sin x"""
        return ar.Sin.apply(_floating(self))

    def cos(self) -> Tensor:
        """cos x"""
        return ar.Cos.apply(_floating(self))

    def tanh(self) -> Tensor:
        """tanh x"""
        return _tanh(self if self.data.dtype.kind == "f" else _floating(self))

    def sigmoid(self) -> Tensor:
        """1 / (1 + e⁻ˣ)"""
        return act.Sigmoid.apply(_floating(self))

    def relu(self) -> Tensor:
        """max(x, 0)"""
        return act.Relu.apply(self)

    def square(self) -> Tensor:
        """x² (a bool tensor squares to int64, as in PyTorch)"""
        if self.dtype == numpy.bool_:
            return self._cast(numpy.int64)
        return self * self

    def reciprocal(self) -> Tensor:
        """1/x"""
        return 1 / self

    def pow(self, exponent) -> Tensor:
        """xᵉ"""
        return self**exponent

    def clamp(self, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
        """Limit values to [min, max] (either may be None; tensors allowed)."""
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            bounds = [_operand_info(b) for b in (min, max) if b is not None]
            dtype = backend.result_dtype(_operand_info(self), *bounds)
            lo, hi = (None if b is None else _as_tensor(b, self)._cast(dtype) for b in (min, max))
            return ar.ClampTensor.apply(self._cast(dtype), lo, hi)
        float_bound = isinstance(min, float) or isinstance(max, float)
        x = _floating(self) if float_bound else self  # int.clamp(0.5, 2.5) is float32, as in PyTorch
        return ar.Clamp.apply(x, lo=min, hi=max)

    clip = clamp

    def maximum(self, other) -> Tensor:
        """Elementwise max(self, other)."""
        return maximum(self, other)

    def minimum(self, other) -> Tensor:
        """Elementwise min(self, other)."""
        return minimum(self, other)

    def softmax(self, dim: int) -> Tensor:
        """Softmax along `dim`."""
        return act.Softmax.apply(_floating(self), axis=_axis(dim, self.ndim, "softmax"))

    def log_softmax(self, dim: int) -> Tensor:
        """Log-softmax along `dim` (numerically stable)."""
        return act.LogSoftmax.apply(_floating(self), axis=_axis(dim, self.ndim, "log_softmax"))

    # ----- reductions ------------------------------------------------------------------------------
    def sum(self, dim=None, keepdim: bool = False, dtype=None, *, axis=None, keepdims=None) -> Tensor:
        """Sum over `dim` (all dims if None)."""
        dim, keepdim = _dims(self, dim, axis, keepdim, keepdims, "sum")
        x = self if self.dtype.kind == "f" else self._cast(dtype or backend.int64)
        return rd.Sum.apply(x if dtype is None else x._cast(dtype), axis=dim, keepdims=keepdim)

    def mean(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """Mean over `dim` (all dims if None)."""
        dim, keepdim = _dims(self, dim, axis, keepdim, keepdims, "mean")
        if self.dtype.kind != "f":
            raise TypeError(f"mean: expected a floating tensor, got {self.dtype} (convert with .float())")
        return rd.Mean.apply(self, axis=dim, keepdims=keepdim)

    def amax(self, dim=None, keepdim: bool = False) -> Tensor:
        """Maximum over `dim`; ties share the gradient equally."""
        dim, keepdim = _dims(self, dim, None, keepdim, None, "amax")
        _nonempty(self, dim, "amax")
        return rd.AMax.apply(self, axis=dim, keepdims=keepdim)

    def amin(self, dim=None, keepdim: bool = False) -> Tensor:
        """Minimum over `dim`; ties share the gradient equally."""
        dim, keepdim = _dims(self, dim, None, keepdim, None, "amin")
        _nonempty(self, dim, "amin")
        return rd.AMin.apply(self, axis=dim, keepdims=keepdim)

    def max(self, dim=None, keepdim: bool = False):
        """max() → the largest value; max(dim) → (values, indices); max(other) → elementwise maximum."""
        if isinstance(dim, Tensor):
            return maximum(self, dim)
        if dim is None:
            return self.amax()
        return _values_indices(self, self.argmax(dim, keepdim=True), dim, keepdim)

    def min(self, dim=None, keepdim: bool = False):
        """min() → the smallest value; min(dim) → (values, indices); min(other) → elementwise minimum."""
        if isinstance(dim, Tensor):
            return minimum(self, dim)
        if dim is None:
            return self.amin()
        return _values_indices(self, self.argmin(dim, keepdim=True), dim, keepdim)

    def argmax(self, dim=None, keepdim: bool = False) -> Tensor:
        """Index of the largest value (over the flattened tensor if dim is None)."""
        return _arg(numpy.argmax, self, dim, keepdim)

    def argmin(self, dim=None, keepdim: bool = False) -> Tensor:
        """Index of the smallest value (over the flattened tensor if dim is None)."""
        return _arg(numpy.argmin, self, dim, keepdim)

    def var(self, dim=None, keepdim: bool = False, *, correction: int = 1, unbiased=None, _name="var") -> Tensor:
        """Variance over `dim`, dividing by n − correction (Bessel's correction by default, as PyTorch)."""
        if unbiased is not None:
            correction = 1 if unbiased else 0
        dim, keepdim = _dims(self, dim, None, keepdim, None, _name)
        if self.dtype.kind != "f":
            raise TypeError(f"{_name}: expected a floating tensor, got {self.dtype} (convert with .float())")
        n = self.data.size // builtins.max(numpy.prod(rd.reduced_shape(self.shape, dim), dtype=int), 1)
        centred = self - self.mean(dim, keepdim=True)
        return (centred * centred).sum(dim, keepdim=keepdim) / builtins.max(n - correction, 0)

    def std(self, dim=None, keepdim: bool = False, *, correction: int = 1, unbiased=None) -> Tensor:
        """Standard deviation over `dim` (√var)."""
        return rd.StdFromVar.apply(self.var(dim, keepdim, correction=correction, unbiased=unbiased, _name="std"))

    def prod(self, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
        """Product over `dim` (integers and bools multiply as int64, or in `dtype`)."""
        dim, keepdim = _dims(self, dim, None, keepdim, None, "prod")
        x = self if dtype is None and self.dtype.kind == "f" else self.to(dtype or backend.int64)
        return rd.Prod.apply(x, axis=dim, keepdims=keepdim)

    def logsumexp(self, dim=None, keepdim: bool = False) -> Tensor:
        """log Σ exp(x) over `dim`, computed stably."""
        dim, keepdim = _dims(self, dim, None, keepdim, None, "logsumexp")
        return rd.LogSumExp.apply(_floating(self), axis=dim, keepdims=keepdim)

    def gather(self, dim: int, index) -> Tensor:
        """`out[i][j] = self[i][index[i][j]]` along `dim` (PyTorch's gather)."""
        idx = backend.array_like(index.data if isinstance(index, Tensor) else index, self.data)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"gather: index must be an integer tensor, got {idx.dtype}")
        if idx.ndim != self.ndim:
            raise ShapeError(f"gather: index has {idx.ndim} dims but the input of shape {self.shape} has {self.ndim}")
        dim = _axis(dim, self.ndim, "gather")
        # (On a device the values are not checked: that would read them back to the host on every call.)
        if backend.on_host(idx) and idx.size and (idx.max() >= self.shape[dim] or idx.min() < -self.shape[dim]):
            raise OpIndexError(f"gather: index out of range for dim {dim} of size {self.shape[dim]}")
        src = self
        if any(n != m for d, (n, m) in enumerate(zip(idx.shape, self.shape)) if d != dim):
            if any(n > m for d, (n, m) in enumerate(zip(idx.shape, self.shape)) if d != dim):
                raise ShapeError(f"gather: index of shape {idx.shape} is larger than the input {self.shape} "
                                 f"outside dim {dim}")
            # PyTorch reads only the leading part of the other dims (NumPy would broadcast the index)
            src = self[tuple(slice(0, n) if d != dim else slice(None) for d, n in enumerate(idx.shape))]
        return rd.Gather.apply(src, idx, axis=dim)

    # ----- shape ------------------------------------------------------------------------------------
    def reshape(self, *shape) -> Tensor:
        """The same values with a new shape (one dimension may be -1)."""
        shape = _shape_arg(shape)
        try:
            target = _check_reshape(self.shape, shape)
        except ValueError as e:
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {self.shape} to {shape}: {e}") from None
        if target == self.shape:
            return self
        return sh.Reshape.apply(self, shape=target)

    view = reshape

    def view_as(self, other: Tensor) -> Tensor:
        """Reshape to `other`'s shape."""
        return self.reshape(other.shape)

    def permute(self, *dims) -> Tensor:
        """Reorder the dimensions."""
        dims = _shape_arg(dims, "permute")
        dims = tuple(_axis(d, self.ndim, "permute") for d in dims) if self.ndim else dims
        if sorted(dims) != list(range(self.ndim)):
            raise ShapeError(f"permute: {dims} is not a permutation of the {self.ndim} dims of shape {self.shape}")
        return sh.Permute.apply(self, axes=dims)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Swap two dimensions."""
        d0, d1 = _axis(dim0, self.ndim, "transpose"), _axis(dim1, self.ndim, "transpose")
        if self.ndim == 0:
            return self
        axes = list(range(self.ndim))
        axes[d0], axes[d1] = axes[d1], axes[d0]
        return sh.Permute.apply(self, axes=tuple(axes))

    swapaxes = transpose

    def t(self) -> Tensor:
        """Transpose a matrix (a 1-D tensor is returned unchanged)."""
        if self.ndim > 2:
            raise ValueError(f"t: expected at most 2 dims, got shape {self.shape}")
        return self.T

    def expand(self, *shape) -> Tensor:
        """Broadcast to a larger shape without copying (-1 keeps a dimension)."""
        shape = _shape_arg(shape, "expand")
        lead = len(shape) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: cannot expand shape {self.shape} to fewer dims {shape}")
        if any(n == -1 for n in shape[:lead]):
            raise ValueError(f"expand: -1 is not allowed for the new leading dims of {shape} (shape {self.shape})")
        target = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
        try:
            numpy.broadcast_shapes(self.shape, target)
            if numpy.broadcast_shapes(self.shape, target) != target:
                raise ValueError
        except ValueError:
            raise ShapeError(f"expand: cannot expand shape {self.shape} to {shape}") from None
        return sh.Expand.apply(self, shape=target)

    broadcast_to = expand

    def expand_as(self, other: Tensor) -> Tensor:
        """Broadcast to `other`'s shape."""
        return self.expand(other.shape)

    def squeeze(self, dim=None) -> Tensor:
        """Remove size-1 dimensions (all of them, or only `dim`)."""
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dims = {_axis(d, self.ndim, "squeeze") for d in (dim if isinstance(dim, tuple) else (dim,))}
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1)))

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert a size-1 dimension at `dim`."""
        d = _axis(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dimensions start_dim..end_dim into one."""
        if self.ndim == 0:
            return self.reshape(1)
        s, e = _axis(start_dim, self.ndim, "flatten"), _axis(end_dim, self.ndim, "flatten")
        if s > e:
            raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} (shape {self.shape})")
        return self.reshape(self.shape[:s] + (int(numpy.prod(self.shape[s : e + 1])),) + self.shape[e + 1 :])

    def unflatten(self, dim: int, sizes) -> Tensor:
        """Split dimension `dim` into `sizes`."""
        d = _axis(dim, self.ndim, "unflatten")
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1 :])

    def repeat(self, *repeats) -> Tensor:
        """Tile the tensor: repeat(2, 3) copies it twice along dim -2 and three times along dim -1."""
        repeats = _shape_arg(repeats, "repeat")
        if len(repeats) < self.ndim:
            raise ValueError(f"repeat: {len(repeats)} repeat counts for a tensor of {self.ndim} dims")
        return sh.Tile.apply(self, reps=repeats)

    def tile(self, *dims) -> Tensor:
        """Like repeat, but fewer counts than dims are padded with ones in front."""
        dims = _shape_arg(dims, "tile")
        return sh.Tile.apply(self, reps=(1,) * (self.ndim - len(dims)) + dims)

    def split(self, split_size_or_sections, dim: int = 0) -> tuple:
        """Split into chunks of a given size, or into the given list of sizes."""
        return split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        """Split into `chunks` nearly equal pieces."""
        return chunk(self, chunks, dim)

    def __getitem__(self, index) -> Tensor:
        index = _convert_index(index, self.shape, self.data)
        if isinstance(index, tuple) and _ints_apart_from_arrays(index):
            # PyTorch applies integer indices first (as selections), NumPy would treat them as arrays.
            ints_first = tuple(_as_slices(i) if backend.is_array(i) else (i,) for i in index)
            rest = tuple(i if backend.is_array(i) or i is Ellipsis else slice(None)
                         for i in index if not _is_int(i))
            return sh.GetItem.apply(sh.GetItem.apply(self, index=sum(ints_first, ())), index=rest)
        return sh.GetItem.apply(self, index=index)

    def __setitem__(self, index, value) -> None:
        if self._requires_grad and _state.grad_enabled:
            raise RuntimeError(
                "setitem: in-place assignment into a tensor that requires grad would break its gradient; "
                "build a new tensor (e.g. with gn.where) or do it under gn.no_grad()"
            )
        if isinstance(value, Tensor) or backend.is_array(value):
            value = backend.array_like(value.data if isinstance(value, Tensor) else value, self.data)
        self.data[_convert_index(index, self.shape, self.data)] = value

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # ----- in-place helpers for optimisers (no graph) -----------------------------------------------
    def zero_(self) -> Tensor:
        """Set every element to 0 in place."""
        self.data[...] = 0
        return self

    def fill_(self, value) -> Tensor:
        """Set every element to `value` in place."""
        self.data[...] = value
        return self

    def copy_(self, src) -> Tensor:
        """Copy `src`'s values into this tensor in place."""
        if isinstance(src, Tensor) or backend.is_array(src):  # from another device: one explicit copy
            src = backend.array_like(src.data if isinstance(src, Tensor) else src, self.data)
        self.data[...] = src
        return self

    # ----- NumPy protocols: lets backward code written with np.* run on Tensors ---------------------
    def __array__(self, dtype=None, copy=None):
        if type(self.data) is not numpy.ndarray:
            raise TypeError(f"can't convert a tensor on {self.device} to a NumPy array; call .cpu() first")
        return self.data if dtype is None else self.data.astype(dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        handler = _UFUNCS.get(ufunc)
        if method != "__call__" or kwargs or handler is None:
            return NotImplemented
        return handler(*inputs)

    def __array_function__(self, func, types, args, kwargs):
        handler = _FUNCTIONS.get(func)
        if handler is None:
            return NotImplemented
        return handler(*args, **kwargs)


class _RemovableHandle:
    """Returned by hook registrations; `remove()` unregisters the hook."""

    def __init__(self, hooks: list, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self) -> None:
        """Unregister the hook (a no-op if already removed)."""
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


autograd.Tensor = Tensor  # the engine builds output tensors with this class


# ----- helpers ------------------------------------------------------------------------------------------
def _is_device_string(text: str) -> bool:
    return text.partition(":")[0] in ("cpu", "cuda", *backend._devices)


def _cuda_device(device) -> backend.Device:
    if device is None:
        return backend.Device("cuda", 0)
    if isinstance(device, int):
        return backend.Device("cuda", device)
    return backend.Device(device)


def _to_array(data, dtype):
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, numpy.ndarray) or backend.is_array(data):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flatten(data)):
        data = _nested_values(data)
    arr = numpy.asarray(data)
    if dtype is not None:
        return arr.astype(dtype)
    if arr.dtype.kind == "f" and not isinstance(data, numpy.generic):
        return arr.astype(backend.get_default_dtype())
    if arr.dtype.kind in "iu" and not isinstance(data, numpy.generic):
        return arr.astype(backend.int64)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"tensor: unsupported data of dtype {arr.dtype} ({type(data).__name__})")
    return arr


def _flatten(data):
    for d in data:
        if isinstance(d, (list, tuple)):
            yield from _flatten(d)
        else:
            yield d


def _nested_values(data):
    if isinstance(data, Tensor):
        return data.data
    if isinstance(data, (list, tuple)):
        return [_nested_values(d) for d in data]
    return data


def _as_tensor(value, like=None) -> Tensor:
    """Wrap a non-tensor operand as a constant tensor; a number or list goes to the device of `like` (a Tensor),
    as PyTorch lets a Python number meet a GPU tensor. A host array stays a host array."""
    if isinstance(value, Tensor):
        return value
    array = _to_array(value, None)
    if isinstance(like, Tensor) and type(like.data) is not numpy.ndarray and not backend.is_array(value):
        array = backend.to_device(array, like.device)
    return Tensor._make(array, None)


def _first_tensor(*values):
    return next((v for v in values if isinstance(v, Tensor)), None)


def _operand_info(value):
    return (value.dtype, value.ndim) if isinstance(value, Tensor) else value


def _binary(op, a, b, name: str, floating: bool = False) -> Tensor:
    """Apply a binary op with PyTorch's dtype promotion; Python scalars stay scalars (no allocation)."""
    a_t, b_t = isinstance(a, Tensor), isinstance(b, Tensor)
    if a_t and b_t:
        if a.data.dtype is b.data.dtype and (not floating or a.data.dtype.kind == "f"):
            return op.apply(a, b)
    else:
        if not (a_t or isinstance(a, _SCALARS)):
            a = _as_tensor(a, b)
        if not (b_t or isinstance(b, _SCALARS)):
            b = _as_tensor(b, a)
        if isinstance(a, _SCALARS) and not isinstance(a, numpy.generic) and b.data.dtype.kind == "f" and not floating:
            return op.apply(a, b) if not isinstance(a, bool) else op.apply(int(a), b)
        if isinstance(b, _SCALARS) and not isinstance(b, numpy.generic) and a.data.dtype.kind == "f":
            return op.apply(a, b if not isinstance(b, bool) else int(b))
    _check_broadcast(a, b, name)
    dtype = backend.result_dtype(_operand_info(a), _operand_info(b))
    if floating and dtype.kind != "f":
        dtype = backend.get_default_dtype()
    a = _cast_operand(a, dtype)
    b = _cast_operand(b, dtype)
    return op.apply(a, b)


# The hottest ops' apply, bound once (looking up a classmethod builds a bound method on every call).
_add, _sub, _mul, _tanh = ar.Add.apply, ar.Sub.apply, ar.Mul.apply, act.Tanh.apply


def _cast_operand(x, dtype):
    if isinstance(x, Tensor):
        return x if x.dtype == dtype else x._cast(dtype)
    if isinstance(x, numpy.generic):
        x = x.item()
    return numpy.asarray(x, dtype=dtype)[()] if dtype.kind != "f" else float(x)


def _check_broadcast(a, b, name: str) -> None:
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        try:
            numpy.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ShapeError(f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together") from None


def _floating(x: Tensor) -> Tensor:
    return x if x.data.dtype.kind == "f" else x._cast(backend.get_default_dtype())


def _is_bool(a, b) -> bool:
    return all((v.dtype.kind == "b") if isinstance(v, Tensor) else isinstance(v, bool) for v in (a, b))


def _compare(ufunc, a, b) -> Tensor:
    a_data = a.data if isinstance(a, Tensor) else a
    b_data = b.data if isinstance(b, Tensor) else b
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        _check_broadcast(a, b, ufunc.__name__)
    result = ufunc(a_data, b_data)
    out = Tensor._make(result if backend.is_array(result) else numpy.asarray(result), None)
    if open_blocks and _state.observers:  # comparisons are not Functions; observers still see them
        for observer in _state.observers:
            observer(None, (a, b), {"ufunc": ufunc}, out)
    return out


def _inplace(t: Tensor, other, ufunc, name: str) -> Tensor:
    if t._requires_grad and _state.grad_enabled:
        # Out of place on the graph, as PyTorch would refuse an in-place op on a leaf that requires grad.
        if t.grad_fn is None:
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad cannot be modified in place; use gn.no_grad()"
            )
        return {"add_": Tensor.__add__, "sub_": Tensor.__sub__, "mul_": Tensor.__mul__, "div_": Tensor.__truediv__}[
            name
        ](t, other)
    value = other.data if isinstance(other, Tensor) else other
    ufunc(t.data, value, out=t.data, casting="same_kind")
    return t


def _dims(t: Tensor, dim, axis, keepdim, keepdims, name: str):
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if isinstance(dim, (list, tuple)):
        dim = tuple(_axis(d, t.ndim, name) for d in dim)
        if len(set(dim)) != len(dim):
            raise ValueError(f"{name}: dim {dim} repeats a dimension")
    elif dim is not None:
        dim = _axis(dim, t.ndim, name)
    return dim, bool(keepdim)


def _axis(dim, ndim: int, name: str) -> int:
    n = builtins.max(ndim, 1)
    if not isinstance(dim, (int, numpy.integer)) or not -n <= dim < n:
        raise IndexError(f"{name}: dim {dim} is out of range for a tensor with {ndim} dims")
    return int(dim) % n if ndim else 0


def _nonempty(t: Tensor, dim, name: str) -> None:
    if t.data.size == 0 and (dim is None or any(t.shape[d] == 0 for d in (dim if isinstance(dim, tuple) else (dim,)))):
        raise RuntimeError(f"{name}: cannot reduce an empty dimension of a tensor of shape {t.shape}")


def _arg(fn, t: Tensor, dim, keepdim) -> Tensor:
    if dim is None:
        _nonempty(t, None, fn.__name__)
        out = fn(t.data)
        return Tensor._make(_int64(out, t.data).reshape((1,) * t.ndim if keepdim else ()), None)
    d = _axis(dim, t.ndim, fn.__name__)
    _nonempty(t, d, fn.__name__)
    out = fn(t.data, axis=d, keepdims=keepdim) if t.ndim else 0
    return Tensor._make(_int64(out, t.data), None)


def _int64(value, like):
    """An index result as an int64 array on `like`'s device."""
    return backend.array_like(value, like, numpy.int64)


class ValuesIndices(NamedTuple):
    """What max(dim)/min(dim) return, as in PyTorch: unpack it, or read `.values` and `.indices`."""

    values: Tensor
    indices: Tensor


def _values_indices(t: Tensor, idx: Tensor, dim: int, keepdim: bool) -> ValuesIndices:
    if t.ndim == 0:  # a 0-d tensor is its own max along dim 0 (or -1), at index 0
        _axis(dim, 0, "max")
        return ValuesIndices(t.reshape(1).gather(0, idx.reshape(1)).reshape(()), idx)
    values = t.gather(dim, idx)
    if not keepdim:
        values = values.squeeze(dim)
        idx = idx.squeeze(dim)
    return ValuesIndices(values, idx)


def _shape_arg(shape, name: str = "reshape") -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(isinstance(s, (int, numpy.integer)) and not isinstance(s, bool) for s in shape):
        raise TypeError(f"{name}: expected whole numbers for the sizes or dims, got {shape}")
    return tuple(int(s) for s in shape)


def _check_reshape(old: tuple, new: tuple) -> tuple:
    if list(new).count(-1) > 1:
        raise ValueError("only one dimension can be -1")
    size = int(numpy.prod(old))
    known = int(numpy.prod([n for n in new if n != -1]))
    if -1 in new:
        if known == 0 or size % known:
            raise ValueError(f"{size} elements do not divide into {new}")
        new = tuple(size // known if n == -1 else n for n in new)
    if int(numpy.prod(new)) != size:
        raise ValueError(f"{size} elements cannot have shape {new}")
    return new


def _convert_index(index, shape: tuple, like):
    """Turn Tensors and lists inside an index into arrays on `like`'s device, and check integer/boolean indices
    against `shape` (their values only on the host: on a device that would be a transfer per indexing)."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for item in items:
        if isinstance(item, Tensor):
            item = item.data
        if isinstance(item, (list, tuple)) or (backend.is_array(item) and type(item) is not type(like)):
            item = backend.array_like(item, like)  # a sequence inside an index tuple selects like a list, as in PyTorch
        out.append(item)
    _check_index(out, shape)
    return tuple(out) if isinstance(index, tuple) or len(out) > 1 else out[0]


def _is_int(item) -> bool:
    return isinstance(item, (int, numpy.integer)) and not isinstance(item, (bool, numpy.bool_))


def _as_slices(array) -> tuple:
    return (slice(None),) * (array.ndim if array.dtype.kind == "b" else 1)


def _ints_apart_from_arrays(items: tuple) -> bool:
    """Whether an index mixes integers and arrays so that NumPy's and PyTorch's results would differ."""
    if not any(_is_int(i) for i in items) or not any(backend.is_array(i) for i in items):
        return False
    advanced = [k for k, i in enumerate(items) if _is_int(i) or backend.is_array(i)]
    return advanced[-1] - advanced[0] + 1 != len(advanced)  # not all adjacent: NumPy moves them to the front


def _check_index(items: list, shape: tuple) -> None:
    dim = 0
    n_real = sum(1 for i in items if i is not None and i is not Ellipsis and not isinstance(i, bool) and not (
        backend.is_array(i) and i.dtype.kind == "b"))
    n_real += sum(i.ndim for i in items if backend.is_array(i) and i.dtype.kind == "b")
    if n_real > len(shape):
        raise IndexError(f"getitem: too many indices ({n_real}) for a tensor of shape {shape}")
    for item in items:
        if item is None or isinstance(item, bool):  # x[True] adds a dim, like None
            continue
        if item is Ellipsis:
            dim = len(shape) - (n_real - dim)
            continue
        if backend.is_array(item) and item.dtype.kind == "b":
            if item.shape != shape[dim : dim + item.ndim]:
                raise IndexError(
                    f"getitem: boolean mask of shape {item.shape} does not match shape "
                    f"{shape[dim:dim + item.ndim]} at dim {dim}"
                )
            dim += item.ndim
            continue
        if isinstance(item, (int, numpy.integer)) or (backend.is_array(item) and item.dtype.kind in "iu"):
            n = shape[dim]
            arr = numpy.asarray(item) if backend.on_host(item) else None
            if arr is not None and arr.size and (arr.max() >= n or arr.min() < -n):
                bad = arr.max() if arr.max() >= n else arr.min()
                raise IndexError(f"getitem: index {bad} is out of range for dim {dim} of size {n} (shape {shape})")
        elif backend.is_array(item) and item.dtype.kind not in "iub":
            raise IndexError(f"getitem: tensors used as indices must be integer or bool, not {item.dtype}")
        dim += 1


# ----- functions of several tensors ---------------------------------------------------------------------
def matmul(a, b) -> Tensor:
    """Matrix product with batching and broadcasting, like `torch.matmul`."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):  # the common case, checked cheaply
        ad, bd = a.data, b.data
        if (ad.ndim == 2 and bd.ndim == 2 and ad.shape[1] == bd.shape[0] and ad.dtype is bd.dtype
                and ad.dtype.kind == "f"):
            return la.MatMul.apply(a, b)
    a, b = _as_tensor(a, b), _as_tensor(b, a)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: both operands must have at least 1 dim, got shapes {a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} do not align (inner dims {k_a} != {k_b})")
    if a.ndim > 2 or b.ndim > 2:
        try:
            numpy.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ShapeError(f"matmul: batch dims of {a.shape} and {b.shape} cannot be broadcast") from None
    if a.dtype != b.dtype:
        dtype = backend.result_dtype(_operand_info(a), _operand_info(b))
        a, b = a._cast(dtype), b._cast(dtype)
    if a.dtype.kind == "b":
        raise TypeError("matmul: bool tensors are not supported")
    return la.MatMul.apply(a, b)


def maximum(a, b) -> Tensor:
    """Elementwise maximum (the gradient goes to the larger; halves on ties)."""
    return _binary(ar.Maximum, _as_tensor(a, b), _as_tensor(b, a), "maximum")


def minimum(a, b) -> Tensor:
    """Elementwise minimum (the gradient goes to the smaller; halves on ties)."""
    return _binary(ar.Minimum, _as_tensor(a, b), _as_tensor(b, a), "minimum")


def where(condition, input=None, other=None) -> Tensor:  # noqa: A002 - PyTorch's name
    """Pick from `input` where `condition` holds, else from `other`; where(condition) alone: the indices where it
    holds, one tensor per dim (condition.nonzero(as_tuple=True))."""
    if input is None and other is None and isinstance(condition, Tensor):
        return condition.nonzero(as_tuple=True)
    like = _first_tensor(input, other, condition)
    a, b = _as_tensor(input, like), _as_tensor(other, like)
    cond = backend.array_like(condition.data if isinstance(condition, Tensor) else condition, a.data)
    if cond.dtype.kind != "b":
        raise TypeError(f"where: condition must be bool, got {cond.dtype}")
    try:
        numpy.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ShapeError(f"where: shapes {cond.shape}, {a.shape} and {b.shape} cannot be broadcast together") from None
    dtype = backend.result_dtype(_operand_info(a), _operand_info(b))
    return ar.Where.apply(cond, a._cast(dtype), b._cast(dtype))


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension."""
    like = _first_tensor(*tensors)
    tensors = [_as_tensor(t, like) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    d = _axis(dim, tensors[0].ndim, "cat")
    for t in tensors[1:]:
        if t.ndim != tensors[0].ndim or any(t.shape[i] != tensors[0].shape[i] for i in range(t.ndim) if i != d):
            raise ShapeError(f"cat: shapes {[x.shape for x in tensors]} differ outside dim {dim}")
    dtype = backend.result_dtype(*[_operand_info(t) for t in tensors])
    return sh.Concat.apply(*[t._cast(dtype) for t in tensors], axis=d)


def stack(tensors, dim: int = 0) -> Tensor:
    """Join equally-shaped tensors along a new dimension."""
    like = _first_tensor(*tensors)
    tensors = [_as_tensor(t, like) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    if any(t.shape != tensors[0].shape for t in tensors):
        raise ShapeError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    d = _axis(dim, tensors[0].ndim + 1, "stack")
    dtype = backend.result_dtype(*[_operand_info(t) for t in tensors])
    return sh.Stack.apply(*[t._cast(dtype) for t in tensors], axis=d)


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Split into pieces of `split_size` (the last may be smaller), or of the listed sizes."""
    d = _axis(dim, tensor.ndim, "split")
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, int):
        if split_size_or_sections <= 0:
            raise ValueError(f"split: split_size must be positive, got {split_size_or_sections}")
        sizes = [split_size_or_sections] * (n // split_size_or_sections)
        if n % split_size_or_sections or n == 0:  # an empty dim gives one empty piece
            sizes.append(n % split_size_or_sections)
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to {n} (dim {dim} of shape {tensor.shape})")
    lead = (slice(None),) * d
    out, start = [], 0
    for s in sizes:
        out.append(sh.GetItem.apply(tensor, index=lead + (slice(start, start + s),)))
        start += s
    return tuple(out)


def chunk(tensor: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into `chunks` pieces of equal size (the last may be smaller)."""
    n = tensor.shape[_axis(dim, tensor.ndim, "chunk")]
    if not isinstance(chunks, (int, numpy.integer)) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive integer, got {chunks!r}")
    if n == 0:
        return split(tensor, [0] * chunks, dim)
    return split(tensor, -(-n // chunks), dim)


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, differentiable (e.g. 'bij,bjk->bik')."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    tensors = [_as_tensor(t) for t in operands]
    equation, tensors = _einsum_diagonals(equation.replace(" ", ""), tensors)
    la.parse_einsum(equation, [t.shape for t in tensors])
    dtype = backend.result_dtype(*[_operand_info(t) for t in tensors])
    try:
        return la.Einsum.apply(*[t._cast(dtype) for t in tensors], equation=equation)
    except ValueError as e:
        raise OpValueError(f"einsum: '{equation}' with shapes {[t.shape for t in tensors]}: {e}") from None


def _einsum_diagonals(equation: str, tensors: list) -> tuple:
    """Take the diagonal of every operand whose subscripts repeat a letter ('ii->i', 'bii->bi', 'ii'), so that the
    einsum op sees distinct subscripts; the implicit output is fixed first from the original equation."""
    lhs, arrow, rhs = equation.partition("->")
    subs = lhs.split(",")
    if all(len(set(s.replace("...", ""))) == len(s.replace("...", "")) for s in subs) or len(subs) != len(tensors):
        return equation, tensors
    if not arrow:
        letters = "".join(subs).replace(".", "")
        rhs = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
        rhs = ("..." if "..." in lhs else "") + rhs
    if "..." in lhs + rhs:  # '...ii->...i': the ellipsis becomes letters of its own, right-aligned as it broadcasts
        widths = [t.ndim - len(sub.replace("...", "")) for sub, t in zip(subs, tensors) if "..." in sub]
        free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in lhs][: max(widths, default=0)]
        subs = [sub.replace("...", "".join(free[len(free) - (t.ndim - len(sub) + 3):])) if "..." in sub else sub
                for sub, t in zip(subs, tensors)]
        rhs = rhs.replace("...", "".join(free))
    new_subs, new_tensors = [], []
    for sub, t in zip(subs, tensors):
        while len(set(sub)) != len(sub):
            c = next(c for c in sub if sub.count(c) > 1)
            p, q = sub.index(c), sub.index(c, sub.index(c) + 1)
            if t.shape[p] != t.shape[q]:
                raise ShapeError(f"einsum: repeated subscript '{c}' in '{sub}' needs equal sizes, got shape {t.shape}")
            rest = [d for d in range(t.ndim) if d not in (p, q)]
            ar_n = numpy.arange(t.shape[p])
            t = t.permute(*rest, p, q)[(Ellipsis, ar_n, ar_n)]  # the diagonal becomes the last dim
            sub = "".join(sub[d] for d in rest) + c
        new_subs.append(sub)
        new_tensors.append(t)
    return ",".join(new_subs) + "->" + rhs, new_tensors


# ----- NumPy protocol tables -----------------------------------------------------------------------------
def _sum(a, axis=None, keepdims=False, **_):
    return _as_tensor(a).sum(axis, keepdim=keepdims)


def _broadcast_to(a, shape):
    return _as_tensor(a).expand(shape)


_UFUNCS = {
    numpy.add: lambda a, b: _binary(ar.Add, a, b, "add"),
    numpy.subtract: lambda a, b: _binary(ar.Sub, a, b, "sub"),
    numpy.multiply: lambda a, b: _binary(ar.Mul, a, b, "mul"),
    numpy.true_divide: lambda a, b: _binary(ar.Div, a, b, "div", floating=True),
    numpy.power: lambda a, b: a ** b if isinstance(a, Tensor) else b.__rpow__(a),  # NumPy scalars act as numbers
    numpy.negative: lambda a: -_as_tensor(a),
    numpy.matmul: matmul,
    numpy.exp: lambda a: _as_tensor(a).exp(),
    numpy.log: lambda a: _as_tensor(a).log(),
    numpy.log1p: lambda a: _as_tensor(a).log1p(),
    numpy.sqrt: lambda a: _as_tensor(a).sqrt(),
    numpy.tanh: lambda a: _as_tensor(a).tanh(),
    numpy.sin: lambda a: _as_tensor(a).sin(),
    numpy.cos: lambda a: _as_tensor(a).cos(),
    numpy.absolute: lambda a: _as_tensor(a).abs(),
    numpy.sign: lambda a: _as_tensor(a).sign(),
    numpy.maximum: maximum,
    numpy.minimum: minimum,
    numpy.equal: lambda a, b: _compare(numpy.equal, a, b),
    numpy.not_equal: lambda a, b: _compare(numpy.not_equal, a, b),
    numpy.greater: lambda a, b: _compare(numpy.greater, a, b),
    numpy.greater_equal: lambda a, b: _compare(numpy.greater_equal, a, b),
    numpy.less: lambda a, b: _compare(numpy.less, a, b),
    numpy.less_equal: lambda a, b: _compare(numpy.less_equal, a, b),
    numpy.logical_and: lambda a, b: _compare(numpy.logical_and, a, b),
    numpy.isfinite: lambda a: Tensor._make(numpy.isfinite(a.data), None),
}

def _dot(a, b):
    if numpy.ndim(a) > 2 or numpy.ndim(b) > 2:  # N-d np.dot is not matmul; glassnet's ops only use the 2-D form
        raise TypeError("np.dot on Tensors is supported for 1-D and 2-D operands only; use @ (matmul)")
    return _as_tensor(a) @ b


_FUNCTIONS = {
    numpy.sum: _sum,
    numpy.dot: _dot,
    numpy.broadcast_to: _broadcast_to,
    numpy.where: lambda c, a, b: where(c, a, b),
    numpy.reshape: lambda a, shape, **_: _as_tensor(a).reshape(shape),
    numpy.transpose: lambda a, axes=None: _as_tensor(a).permute(*(axes or range(a.ndim - 1, -1, -1))),
    numpy.swapaxes: lambda a, x, y: _as_tensor(a).transpose(x, y),
    numpy.expand_dims: lambda a, axis: _as_tensor(a).unsqueeze(axis),
    numpy.einsum: lambda eq, *ops, **_: einsum(eq, *ops),
    numpy.concatenate: lambda arrays, axis=0: cat(arrays, axis),
    numpy.stack: lambda arrays, axis=0: stack(arrays, axis),
    numpy.shape: lambda a: a.shape,
    numpy.ndim: lambda a: a.ndim,
    numpy.all: lambda a, **kw: numpy.all(a.data, **kw),
    numpy.any: lambda a, **kw: numpy.any(a.data, **kw),
}
