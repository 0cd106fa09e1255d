"""Converters for the elementwise, activation, reduction and matrix ops: one small function per glassnet op."""

from __future__ import annotations

import math

import numpy

from glassnet.io.onnx.lowering import OpLowering, unsupported
from glassnet.io.onnx.trace import Compare
from glassnet.ops import activation as act
from glassnet.ops import arithmetic as ar
from glassnet.ops import linalg as la
from glassnet.ops import reduction as red


def _unary(onnx_op: str):
    def convert(op: OpLowering) -> str:
        return op.node(onnx_op, [op.input(0)])
    return convert


def _binary(onnx_op: str):
    def convert(op: OpLowering) -> str:
        return op.node(onnx_op, [op.input(0), op.input(1)])
    return convert


def _log1p(op: OpLowering) -> str:
    return op.node("Log", [op.node("Add", [op.input(0), op.scalar(1)])])


def _rsqrt(op: OpLowering) -> str:
    return op.node("Reciprocal", [op.node("Sqrt", [op.input(0)])])


def _clamp(op: OpLowering) -> str:
    lo, hi = op.static("lo"), op.static("hi")
    bounds = ["" if v is None else op.scalar(v) for v in (lo, hi)]
    return op.node("Clip", [op.input(0)] + bounds)


def _clamp_tensor(op: OpLowering) -> str:
    y = op.input(0)
    if op.arg(1) is not None:
        y = op.node("Max", [y, op.input(1)])
    if op.arg(2) is not None:
        y = op.node("Min", [y, op.input(2)])
    return y


def _where(op: OpLowering) -> str:
    cond = op.input(0, dtype=bool)
    if numpy.asarray(op.arg(0).data if hasattr(op.arg(0), "data") else op.arg(0)).dtype != bool:
        cond = op.node("Cast", [cond], to=op.g.helper.np_dtype_to_tensor_dtype(numpy.dtype(bool)))
    return op.node("Where", [cond, op.input(1), op.input(2)])


def _cast(op: OpLowering) -> str:
    return op.node("Cast", [op.input(0)], to=op.g.helper.np_dtype_to_tensor_dtype(op.out.dtype))


def _leaky_relu(op: OpLowering) -> str:
    return op.node("LeakyRelu", [op.input(0)], alpha=float(op.static("slope", 0.01)))


def _elu(op: OpLowering) -> str:
    y = op.node("Elu", [op.input(0)], alpha=float(op.static("alpha", 1.0)))
    scale = op.static("scale", 1.0)
    return y if scale == 1.0 else op.node("Mul", [y, op.scalar(scale)])


def _silu(op: OpLowering) -> str:
    x = op.input(0)
    return op.node("Mul", [x, op.node("Sigmoid", [x])])


def _softplus(op: OpLowering) -> str:
    """log(1 + e^{βx})/β, and x itself where βx > threshold (as glassnet and PyTorch do)."""
    beta, threshold = float(op.static("beta", 1.0)), float(op.static("threshold", 20.0))
    x = op.input(0)
    bx = x if beta == 1.0 else op.node("Mul", [x, op.scalar(beta)])
    soft = op.node("Softplus", [bx])
    if beta != 1.0:
        soft = op.node("Div", [soft, op.scalar(beta)])
    return op.node("Where", [op.node("Greater", [bx, op.scalar(threshold)]), x, soft])


def _hardtanh(op: OpLowering) -> str:
    return op.node("Clip", [op.input(0), op.scalar(op.static("lo", -1.0)), op.scalar(op.static("hi", 1.0))])


def _gelu(op: OpLowering) -> str:
    """x·Φ(x) written with Erf (exact) or Tanh (approximate='tanh'), ops every opset since 13 has."""
    x = op.input(0)
    if op.static("approximate", "none") == "tanh":
        cube = op.node("Mul", [op.node("Mul", [x, x]), x])
        inner = op.node("Add", [x, op.node("Mul", [cube, op.scalar(0.044715)])])
        phi = op.node("Tanh", [op.node("Mul", [inner, op.scalar(math.sqrt(2 / math.pi))])])
    else:
        phi = op.node("Erf", [op.node("Mul", [x, op.scalar(1 / math.sqrt(2))])])
    half_x = op.node("Mul", [x, op.scalar(0.5)])
    return op.node("Mul", [half_x, op.node("Add", [phi, op.scalar(1.0)])])


def _softmax(onnx_op: str):
    def convert(op: OpLowering) -> str:
        return op.node(onnx_op, [op.input(0)], axis=int(op.static("axis", -1)))
    return convert


def _axes(op: OpLowering) -> list | None:
    axis = op.static("axis")
    if axis is None:
        return None
    return [int(a) for a in axis] if isinstance(axis, (tuple, list)) else [int(axis)]


def _reduce(onnx_op: str):
    def convert(op: OpLowering) -> str:
        return op.reduce(onnx_op, op.input(0), _axes(op), op.static("keepdims", False))
    return convert


def _gather(op: OpLowering) -> str:
    return op.node("GatherElements", [op.input(0), op.input(1)], axis=int(op.static("axis", 0)))


def _linear(op: OpLowering) -> str:
    """y = x Wᵀ + b: a parameter W is stored already transposed, so this is one MatMul (plus an Add)."""
    weight = op.arg(1)
    if id(weight) in op.g.names:  # W computed in the graph: transpose it there
        w_t = op.node("Transpose", [op.input(1)], perm=[1, 0])
    else:
        w_t = op.g.const(numpy.ascontiguousarray(weight.data.T), "weight_t")
    y = op.node("MatMul", [op.input(0), w_t])
    return y if op.arg(2) is None else op.node("Add", [y, op.input(2)])


def _einsum(op: OpLowering) -> str:
    return op.node("Einsum", [op.input(i) for i in range(len(op.a.args))], equation=op.static("equation"))


_COMPARISONS = {"equal": "Equal", "less": "Less", "less_equal": "LessOrEqual", "greater": "Greater",
                "greater_equal": "GreaterOrEqual", "logical_and": "And", "logical_or": "Or", "logical_xor": "Xor"}


def _compare(op: OpLowering) -> str:
    """x > y and friends; a number on one side becomes a constant of the other side's dtype."""
    ufunc = op.static("ufunc").__name__
    if ufunc not in _COMPARISONS and ufunc != "not_equal":
        unsupported(op, f"the comparison numpy.{ufunc}")
    tensors = [a for a in op.a.args if hasattr(a, "dtype") and hasattr(a, "data")]
    dtype = tensors[0].dtype if tensors else None
    a, b = op.input(0, dtype=dtype), op.input(1, dtype=dtype)
    if ufunc == "not_equal":
        return op.node("Not", [op.node("Equal", [a, b])])
    return op.node(_COMPARISONS[ufunc], [a, b])


CONVERTERS = {
    Compare: _compare,
    ar.Add: _binary("Add"), ar.Sub: _binary("Sub"), ar.Mul: _binary("Mul"), ar.Div: _binary("Div"),
    ar.Pow: _binary("Pow"), ar.Maximum: _binary("Max"), ar.Minimum: _binary("Min"),
    ar.Neg: _unary("Neg"), ar.Exp: _unary("Exp"), ar.Log: _unary("Log"), ar.Sqrt: _unary("Sqrt"),
    ar.Sin: _unary("Sin"), ar.Cos: _unary("Cos"), ar.Abs: _unary("Abs"), ar.Log1p: _log1p, ar.Rsqrt: _rsqrt,
    ar.Clamp: _clamp, ar.ClampTensor: _clamp_tensor, ar.Where: _where, ar.Cast: _cast,
    act.Relu: _unary("Relu"), act.Sigmoid: _unary("Sigmoid"), act.Tanh: _unary("Tanh"), act.Erf: _unary("Erf"),
    act.LeakyRelu: _leaky_relu, act.Elu: _elu, act.Silu: _silu, act.Softplus: _softplus, act.Hardtanh: _hardtanh,
    act.Gelu: _gelu, act.Softmax: _softmax("Softmax"), act.LogSoftmax: _softmax("LogSoftmax"),
    red.Sum: _reduce("ReduceSum"), red.Mean: _reduce("ReduceMean"), red.AMax: _reduce("ReduceMax"),
    red.Prod: _reduce("ReduceProd"), red.LogSumExp: _reduce("ReduceLogSumExp"), red.StdFromVar: _unary("Sqrt"),
    red.Gather: _gather,
    la.MatMul: _binary("MatMul"), la.Linear: _linear, la.Einsum: _einsum,
}
