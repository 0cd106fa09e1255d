"""The view of one recorded op that a converter works with: its inputs as graph names, its options, its output."""

from __future__ import annotations

import numbers

import numpy

from glassnet.io.onnx.graph import GraphBuilder, same_value
from glassnet.tensor import Tensor


class OpLowering:
    """One op call seen in both traces (A: the example input, B: the second input)."""

    def __init__(self, builder: GraphBuilder, call_a, call_b):
        self.g = builder
        self.a, self.b = call_a, call_b
        self.name = call_a.op.__name__
        self.out = call_a.output.data  # the output array in trace A

    def input(self, i: int, dtype=None) -> str:
        """The graph name of positional argument i ('' for None; numbers become constants of the output dtype)."""
        a = self.a.args[i] if i < len(self.a.args) else None
        b = self.b.args[i] if i < len(self.b.args) else None
        return self.value(a, b, dtype)

    def value(self, a, b, dtype=None) -> str:
        """The graph name of a value given as its trace-A and trace-B versions."""
        if a is None:
            return ""
        if isinstance(a, Tensor) and id(a) in self.g.names:
            return self.g.names[id(a)]
        if isinstance(a, (numbers.Number, numpy.generic)) and not isinstance(a, numpy.ndarray):
            if not same_value(a, b):
                raise ValueError(f"gn.onnx.export: the number {a} passed to op '{self.name}' changes with the input "
                                 f"({a} vs {b}); cannot export it")
            return self.g.const(numpy.asarray(a, dtype=dtype or self.out.dtype))
        return self.g.constant(a, b, self.name)

    def arg(self, i: int):
        """Positional argument i as recorded in trace A."""
        return self.a.args[i] if i < len(self.a.args) else None

    def shape_of(self, i: int) -> tuple:
        a = self.arg(i)
        return tuple(numpy.shape(a.data if isinstance(a, Tensor) else a))

    def static(self, key: str, default=None):
        """An option that must not depend on the input (a kernel size, an axis …)."""
        a, b = self.a.options.get(key, default), self.b.options.get(key, default)
        if not same_value(a, b):
            raise ValueError(f"gn.onnx.export: option {key}={a!r} of op '{self.name}' changes with the input "
                             f"({a!r} vs {b!r}); export with dynamic_batch=False or a fixed-shape model")
        return a

    def option_pair(self, key: str, default=None) -> tuple:
        return self.a.options.get(key, default), self.b.options.get(key, default)

    def node(self, op_type: str, inputs: list, n_out: int = 1, **attrs):
        return self.g.node(op_type, inputs, n_out, **attrs)

    def ints(self, values) -> str:
        return self.g.ints(values)

    def reduce(self, op_type: str, x: str, axes: list | None, keepdims: bool) -> str:
        """ReduceSum takes its axes as an input since opset 13, the others since opset 18 (an attribute before)."""
        keep = int(bool(keepdims))
        if axes is None:
            return self.node(op_type, [x], keepdims=keep)
        if op_type == "ReduceSum" or self.g.opset >= 18:
            return self.node(op_type, [x, self.ints(axes)], keepdims=keep)
        return self.node(op_type, [x], axes=list(axes), keepdims=keep)

    def scalar(self, value, dtype=None) -> str:
        """A 0-d constant of the output's dtype (or `dtype`)."""
        return self.g.const(numpy.asarray(value, dtype=dtype or self.out.dtype))


def unsupported(lowering: OpLowering, why: str = ""):
    op = lowering.a.op
    raise NotImplementedError(f"gn.onnx.export: no ONNX converter for op '{op.__name__}' "
                              f"({op.__module__}.{op.__qualname__}){': ' + why if why else ''}")
