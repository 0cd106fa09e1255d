"""Building the ONNX graph: names for values, initializers, nodes, and the constants a trace leaves behind.

Two traces of the same model are compared to tell what a value depends on: the example input and a second input
with a different batch size and different values. A constant that is the same in both is baked into the file; a
shape that scales with the batch becomes a computed shape (so the file accepts any batch size); anything else that
changed was computed outside glassnet's ops from the input and cannot be exported.
"""

from __future__ import annotations

import itertools

import numpy

from glassnet.tensor import Tensor

INT64_MAX = numpy.iinfo(numpy.int64).max


def same_value(a, b) -> bool:
    """Whether two option/argument values (numbers, tuples, arrays, None, …) are the same."""
    if isinstance(a, numpy.ndarray) or isinstance(b, numpy.ndarray):
        a, b = numpy.asarray(a), numpy.asarray(b)
        nan_ok = a.dtype.kind == "f"
        return a.shape == b.shape and a.dtype == b.dtype and bool(numpy.array_equal(a, b, equal_nan=nan_ok))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return same_value(a.data, b.data)
    return type(a) is type(b) and a == b


class GraphBuilder:
    """Collects the nodes and initializers of one ONNX graph and knows the ONNX name of every traced value."""

    def __init__(self, onnx, batch_sizes: tuple[int, int] | None):
        self.onnx, self.helper = onnx, onnx.helper
        self.nodes: list = []
        self.initializers: list = []
        self.names: dict = {}  # id(Tensor or ndarray) -> ONNX name (the traces keep every object alive)
        self.batch_sizes = batch_sizes  # (example batch, second batch) when the batch is dynamic
        self.batch_source: tuple[str, int] | None = None  # (input name, batch axis)
        self._batch_name: str | None = None
        self._counter = itertools.count()
        self._constants: dict = {}  # id(array) -> initializer name (a parameter used twice is stored once)
        self.derived_inputs: list = []  # (name, array in trace A, array in trace B) of every graph input

    def fresh(self, hint: str) -> str:
        return f"{hint}_{next(self._counter)}"

    def bind(self, value, name: str) -> None:
        """Record that the traced Tensor `value` (and its array) is called `name` in the graph."""
        self.names[id(value)] = name
        if isinstance(value, Tensor):
            self.names.setdefault(id(value.data), name)

    def node(self, op_type: str, inputs: list, n_out: int = 1, **attrs):
        """Add a node; return its output name (or the list of names when n_out > 1)."""
        outs = [self.fresh(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, array, hint: str = "const") -> str:
        """An initializer holding `array`."""
        array = numpy.asarray(array)
        key = id(array)
        if key in self._constants:
            return self._constants[key][0]
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(array.copy(order="C"), name))
        self._constants[key] = (name, array)  # holding the array keeps its id from being reused
        return name

    def ints(self, values) -> str:
        """A 1-D int64 initializer."""
        return self.const(numpy.asarray(list(values), dtype=numpy.int64), "ints")

    # ----- the batch size as a graph value -------------------------------------------------------------------------

    def batch(self) -> str:
        """The batch size of the first input, as a 1-element int64 tensor computed from its shape."""
        if self._batch_name is None:
            source, axis = self.batch_source
            self._batch_name = self.node("Shape", [source], start=axis, end=axis + 1)
        return self._batch_name

    def dynamic_dim(self, a: int, b: int, what: str):
        """The factor k with a = k·batch in trace A and b = k·batch in trace B, or an error saying why not."""
        if self.batch_sizes is not None:
            ba, bb = self.batch_sizes
            if a % ba == 0 and b % bb == 0 and a // ba == b // bb and a != -1:
                return a // ba
        raise ValueError(f"gn.onnx.export: {what} changes with the input ({a} vs {b}) in a way the exporter cannot "
                         f"express (not a multiple of the batch size); try dynamic_batch=False")

    def shape_value(self, shape_a, shape_b, what: str) -> str:
        """An int64 shape tensor: constant where both traces agree, k·batch where a dimension follows the batch."""
        shape_a, shape_b = [int(n) for n in shape_a], [int(n) for n in shape_b]
        if len(shape_a) != len(shape_b):
            raise ValueError(f"gn.onnx.export: {what} has a different rank for another input; cannot export it")
        if shape_a == shape_b:
            return self.ints(shape_a)
        pieces, run = [], []
        for a, b in zip(shape_a, shape_b):
            if a == b:
                run.append(a)
                continue
            if run:
                pieces.append(self.ints(run))
                run = []
            k = self.dynamic_dim(a, b, what)
            pieces.append(self.batch() if k == 1 else self.node("Mul", [self.batch(), self.ints([k])]))
        if run:
            pieces.append(self.ints(run))
        return pieces[0] if len(pieces) == 1 else self.node("Concat", pieces, axis=0)

    # ----- constants found in a trace ------------------------------------------------------------------------------

    def constant(self, a, b, used_by: str) -> str:
        """The graph value for an array that no recorded op produced (a parameter, a buffer, a mask …)."""
        a_arr = a.data if isinstance(a, Tensor) else numpy.asarray(a)
        b_arr = b.data if isinstance(b, Tensor) else numpy.asarray(b)
        for key in (id(a), id(a_arr)):
            if key in self.names:
                return self.names[key]
        derived = self._derived_from_input(a_arr, b_arr)
        if derived is not None:
            return derived
        if same_value(a_arr, b_arr):
            return self.const(a_arr)
        flat_a, flat_b = a_arr.reshape(-1), b_arr.reshape(-1)
        if a_arr.shape != b_arr.shape and flat_a.size and flat_b.size and (flat_a == flat_a[0]).all() and \
                (flat_b == flat_a[0]).all():  # a filled tensor whose shape follows the batch (an initial state)
            shape = self.shape_value(a_arr.shape, b_arr.shape, f"the shape of a constant used by {used_by}")
            fill = self.onnx.numpy_helper.from_array(flat_a[:1].copy(), "value")
            return self.node("ConstantOfShape", [shape], value=fill)
        raise ValueError(
            f"gn.onnx.export: a constant of shape {a_arr.shape} used by op '{used_by}' changes with the input: it was "
            f"computed from the input outside glassnet's ops (e.g. through .numpy()), so the exported graph could "
            f"not recompute it"
        )

    def _derived_from_input(self, a_arr, b_arr) -> str | None:
        """An input re-made as an array outside the ops: a cast copy, or the additive 0/−∞ mask of a bool mask."""
        for name, in_a, in_b in self.derived_inputs:
            if in_a.shape != a_arr.shape or in_b.shape != b_arr.shape:
                continue
            if in_a.dtype.kind == "b" and a_arr.dtype.kind == "f":
                for allowed in (False, True):  # False: True means "masked out" (key_padding_mask)
                    fill = _additive(in_a, allowed, a_arr.dtype)
                    if same_value(fill, a_arr) and same_value(_additive(in_b, allowed, b_arr.dtype), b_arr):
                        zero, ninf = self.const(numpy.zeros((), a_arr.dtype)), self.const(
                            numpy.full((), -numpy.inf, a_arr.dtype))
                        return self.node("Where", [name, zero, ninf] if allowed else [name, ninf, zero])
            if same_value(in_a.astype(a_arr.dtype), a_arr) and same_value(in_b.astype(b_arr.dtype), b_arr):
                if a_arr.dtype == in_a.dtype:
                    return name
                return self.node("Cast", [name], to=self.helper.np_dtype_to_tensor_dtype(a_arr.dtype))
        return None


def _additive(mask, allowed: bool, dtype):
    """0 where attention is allowed, −∞ elsewhere (allowed=True reads True as "attend")."""
    keep = mask if allowed else ~mask
    return numpy.where(keep, 0.0, -numpy.inf).astype(dtype)
