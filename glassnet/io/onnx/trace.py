"""Recording one forward pass as the list of ops it ran: the raw material of the ONNX exporter.

Every op in glassnet goes through `Function.apply`, which tells the observers registered with
`glassnet.autograd.observe_ops`; while `record_ops` is active each call is appended to a list with
its class, its positional arguments, its keyword options and its output. Unlike the autograd graph,
this record keeps the options (shapes, axes, strides) that a converter needs and also sees ops whose
inputs need no gradient.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from glassnet.autograd import no_grad, observe_ops
from glassnet.tensor import Tensor


@dataclass
class OpCall:
    """One recorded op: `op(*args, **options) -> output`."""

    op: type
    args: tuple
    options: dict
    output: Tensor


@dataclass
class Trace:
    """One forward pass: its input tensors, output tensors (flattened) and the ops in the order they ran."""

    inputs: list
    outputs: list
    calls: list = field(default_factory=list)


class Compare:
    """A comparison (x > 0, a == b, mask & other): it has no gradient, so it is not a Function, but it is traced."""


@contextlib.contextmanager
def record_ops(calls: list):
    """Append an OpCall to `calls` for every op (and comparison) inside the block (via autograd.observe_ops)."""

    def record(op, args, options, out):
        if op is None:  # a comparison: not a Function, reported with its ufunc
            op = Compare
        calls.append(OpCall(op, args, options, out))

    with observe_ops(record):
        yield calls


def flatten_outputs(result, where: str = "output") -> list:
    """The Tensors inside a model's result (a Tensor or nested tuples/lists of them); None entries are skipped."""
    if isinstance(result, Tensor):
        return [result]
    if result is None:
        return []
    if isinstance(result, (tuple, list)):
        return [t for item in result for t in flatten_outputs(item, where)]
    raise TypeError(f"gn.onnx.export: the model's {where} must be Tensors (or tuples of them), "
                    f"got {type(result).__name__}")


def trace(model, inputs: list) -> Trace:
    """Run `model(*inputs)` once without building the autograd graph and record every op it applies."""
    calls: list = []
    with no_grad(), record_ops(calls):
        result = model(*inputs)
    outputs = flatten_outputs(result)
    if not outputs:
        raise ValueError("gn.onnx.export: the model returned no Tensor to export")
    return Trace(list(inputs), outputs, calls)
