"""Lowerings: how a `gn.compile` replay writes the hottest ops as inline array calls instead of calling the op.

A replay (glassnet/capture.py) normally runs each recorded op through its own `forward` and `backward`: it makes
the op's object, calls its methods, and reads back what they saved. For a small network that Python costs more
than the maths. A *lowering* writes the same NumPy calls, in the same order and on the same operands, straight
into the generated replay function, e.g. for `Linear` (x of shape (rows, in), W of shape (out, in)):

    forward:   w3 = p2.data; v3 = _dot(v2, w3.T); v3 += p4.data
    backward:  d3_0 = _dot(g3, w3); d3_1 = _dot(g3.T, v2); d3_2 = _sum_rows(g3)

so the result is bitwise the op's own (tests/test_capture.py checks every lowering against its op, and every
workload against eager). Each lowering is the op's code, specialised at capture time to the shapes, dtypes and
options it saw there; `applies` says when it may be used (otherwise the replay calls the op as it is).

`gn.compile(step, lower=False)` turns lowering off: the replay then calls every op's own forward and backward,
the readable reference that the lowered replay must equal.
"""

from __future__ import annotations

from glassnet.backend import np
from glassnet.ops.activation import Relu, Tanh
from glassnet.ops.linalg import Linear, sum_rows
from glassnet.ops.loss import MeanSquaredError

_ndarray = np.ndarray

# Names the generated code may use (capture.py puts them in the replay function's namespace).
NAMESPACE = {
    "_dot": np.dot,
    "_tanh": np.tanh,
    "_maximum": np.maximum,
    "_vdot": np.vdot,
    "_asarray": np.asarray,
    "_sum_rows": sum_rows,
}


class Lowering:
    """How one op class is written inline. A subclass sets `op` and writes `lower`, which looks at one recorded
    call and returns a `Lowered` (or None: the replay then calls the op itself).

    Names in the generated code: `v{i}` is op i's output, `g{i}` the gradient arriving at it; a lowering may
    define its own locals ending in `_{i}` (the values its backward reads, as the op's `save_for_backward` would).
    """

    op: type

    def lower(self, arrays: list, options: dict, out) -> Lowered | None:
        """The op's code for this call (`arrays`: each argument's array, or the constant itself; `out`: the
        result the op returned at capture), or None if these values are not the case this lowering writes."""
        raise NotImplementedError


class Lowered:
    """One recorded call written inline: `forward` lines setting `v{i}` from the argument expressions, and
    `backward` lines computing the input gradients from `g{i}`, with per input position the local holding it
    (None where `wants[position]` is False). `const(value, prefix)` names a value for the generated code."""

    def forward(self, i: int, args: list, const) -> list:
        raise NotImplementedError

    def backward(self, i: int, wants: tuple, const) -> tuple[list, list]:
        raise NotImplementedError

    def saved(self, i: int) -> list:
        """The locals the forward keeps for the backward (dropped once the backward has run, as the eager walk
        frees a node's saved values)."""
        return []


def _host(*arrays) -> bool:
    return all(type(a) is _ndarray for a in arrays)


class LinearLowering(Lowering):
    """Linear.forward/backward (glassnet/ops/linalg.py), the branches on ndim and bias taken at capture."""

    op = Linear

    def lower(self, arrays, options, out):
        if len(arrays) not in (2, 3) or options or not _host(arrays[0], arrays[1], out):
            return None
        x, w, b = arrays[0], arrays[1], arrays[2] if len(arrays) == 3 else None
        if b is not None and not _host(b):
            return None
        if not (x.dtype is w.dtype and w.ndim == 2 and x.ndim >= 1 and x.shape[-1] == w.shape[1]):
            return None
        if b is not None and b.shape != w.shape[:1]:
            return None
        return _LinearCall(x.shape, w.shape[0], b is not None)


class _LinearCall(Lowered):
    def __init__(self, x_shape: tuple, n_out: int, bias: bool):
        self.x_shape, self.n_out, self.bias = x_shape, n_out, bias
        self.flat = len(x_shape) != 2  # leading dims flattened into rows: one GEMM

    def forward(self, i, args, const):
        x2 = f"x_{i}.reshape({(-1, self.x_shape[-1])})" if self.flat else f"x_{i}"
        lines = [f"x_{i} = {args[0]}; w_{i} = {args[1]}", f"v{i} = _dot({x2}, w_{i}.T)"]
        if self.bias:
            lines.append(f"v{i} += {args[2]}")
        if self.flat:
            lines.append(f"v{i} = v{i}.reshape({self.x_shape[:-1] + (self.n_out,)})")
        return lines

    def saved(self, i):
        return [f"x_{i}", f"w_{i}"]

    def backward(self, i, wants, const):
        gy = f"g{i}.reshape({(-1, self.n_out)})" if self.flat else f"g{i}"
        lines, names = [f"gy_{i} = {gy}"], [None] * len(wants)  # (gy_{i}: a temporary, dropped with g{i})
        if wants[0]:
            lines.append(f"d{i}_0 = _dot(gy_{i}, w_{i})")
            if self.flat:
                lines.append(f"d{i}_0 = d{i}_0.reshape({self.x_shape})")
            names[0] = f"d{i}_0"
        if len(wants) > 1 and wants[1]:
            x2 = f"x_{i}.reshape({(-1, self.x_shape[-1])})" if self.flat else f"x_{i}"
            lines.append(f"d{i}_1 = _dot(gy_{i}.T, {x2})")
            names[1] = f"d{i}_1"
        if len(wants) > 2 and wants[2] and self.bias:
            lines.append(f"d{i}_2 = _sum_rows(gy_{i})")
            names[2] = f"d{i}_2"
        return lines, names


class _Elementwise(Lowering):
    """A one-input elementwise op on a host array of at least one dimension (0-d maths gives NumPy scalars,
    which the op's caller turns back into arrays: left to the op)."""

    def lower(self, arrays, options, out):
        if len(arrays) != 1 or options or not _host(arrays[0], out) or arrays[0].ndim == 0:
            return None
        return self.call()


class _TanhCall(Lowered):
    def forward(self, i, args, const):
        return [f"v{i} = _tanh({args[0]})"]  # y = tanh x

    def backward(self, i, wants, const):
        return [f"d{i}_0 = g{i} * (1 - v{i} * v{i})"], [f"d{i}_0" if wants[0] else None]  # dL/dy · (1 − y²)


class TanhLowering(_Elementwise):
    op, call = Tanh, _TanhCall


class _ReluCall(Lowered):
    def forward(self, i, args, const):
        return [f"v{i} = _maximum({args[0]}, 0)"]  # y = max(x, 0)

    def backward(self, i, wants, const):
        return [f"d{i}_0 = g{i} * (v{i} > 0)"], [f"d{i}_0" if wants[0] else None]  # dL/dy where y > 0


class ReluLowering(_Elementwise):
    op, call = Relu, _ReluCall


class MseLowering(Lowering):
    """MeanSquaredError.forward/backward (glassnet/ops/loss.py) for a float input and target of one shape and
    dtype (the gradient then has the input's shape and dtype as it is)."""

    op = MeanSquaredError

    def lower(self, arrays, options, out):
        if len(arrays) not in (2, 3) or options or not _host(arrays[0], arrays[1], out):
            return None
        x, t = arrays[0], arrays[1]
        mean = arrays[2] if len(arrays) == 3 else True
        if x.shape != t.shape or x.dtype is not t.dtype or x.dtype.kind != "f" or type(mean) is not bool:
            return None
        if x.ndim == 0 or x.size == 0:  # (0-d maths gives NumPy scalars, which the eager walk turns into arrays)
            return None
        return _MseCall(x.size, mean)


class _MseCall(Lowered):
    def __init__(self, size: int, mean: bool):
        self.size, self.mean = size, mean
        self.scale = 2.0 / size if mean and size else 2.0

    def forward(self, i, args, const):
        total = f"_vdot(d_{i}, d_{i})"
        return [
            f"d_{i} = {args[0]} - {args[1]}",  # diff = x − t
            f"v{i} = _asarray({f'{total} / {self.size}' if self.mean else total}, d_{i}.dtype)",
        ]

    def saved(self, i):
        return [f"d_{i}"]

    def backward(self, i, wants, const):
        lines = [f"d{i}_0 = d_{i} * (g{i} * {const(self.scale, 'c')})"]  # dL/dx = dL/dL · 2(x − t)/n
        names = [f"d{i}_0", None]
        if len(wants) > 1 and wants[1]:
            lines.append(f"d{i}_1 = -d{i}_0")  # dL/dt = −dL/dx
            names[1] = f"d{i}_1"
        return lines, names + [None] * (len(wants) - 2)


LOWERINGS: dict = {
    lowering.op: lowering for lowering in (LinearLowering(), TanhLowering(), ReluLowering(), MseLowering())
}


def lower(cls, arrays: list, options: dict, out):
    """The `Lowered` code of one recorded call of op `cls`, or None (the replay calls the op)."""
    lowering = LOWERINGS.get(cls)
    return None if lowering is None else lowering.lower(arrays, options, out)
