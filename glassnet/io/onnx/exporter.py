"""gn.onnx.export: write a glassnet model as an ONNX file, by tracing the ops of one forward pass.

The exporter runs the model twice in eval mode while recording every op (`trace.py`): once on the example
input and once on a second input with another batch size and other values. Each recorded op is turned into
ONNX nodes by the converter for its class (`convert_math.py`, `convert_layers.py`); comparing the two runs
tells which shapes follow the batch size (they become computed shapes) and which values are true constants.
Because it traces ops, any `forward` built from glassnet ops exports, not only known layer classes. Loops in
Python (a GRU's time steps) are unrolled: the sequence length of such models is fixed by the example.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy

from glassnet.errors import OpValueError
from glassnet.files import atomic_write
from glassnet.io.onnx.convert_layers import CONVERTERS as LAYER_CONVERTERS
from glassnet.io.onnx.convert_math import CONVERTERS as MATH_CONVERTERS
from glassnet.io.onnx.graph import GraphBuilder
from glassnet.io.onnx.lowering import OpLowering, unsupported
from glassnet.io.onnx.trace import trace
from glassnet.tensor import Tensor

CONVERTERS = {**MATH_CONVERTERS, **LAYER_CONVERTERS}
SUPPORTED_OPSETS = range(17, 21)


def _require_onnx():
    from glassnet.extras import missing_modules, require

    if "onnx" in missing_modules("onnx"):  # onnxruntime, the other half of the extra, is only for checking exports
        require("onnx", "gn.onnx.export")
    import onnx

    return onnx


def export(model, example_input, path, dynamic_batch: bool = True, opset: int = 17, input_names=None,
           output_names=None, batch_axis: int = 0) -> Path:
    """Write `model` as an ONNX file at `path` (atomically) and return the path.

    example_input: a Tensor (or array), or a tuple of them for a model with several inputs (e.g. a padding mask).
    dynamic_batch: make axis `batch_axis` of every input a symbolic 'batch' dimension.
    The model is traced in eval mode; each module's training flag is restored afterwards.
    """
    onnx = _require_onnx()
    path = _check_path(path)
    if opset not in SUPPORTED_OPSETS:
        raise ValueError(f"gn.onnx.export: opset must be between 17 and 20, got {opset!r}")
    model, example_input = _on_host(model, example_input)
    inputs = _as_inputs(example_input)
    if dynamic_batch:
        for x in inputs:
            if not -x.ndim <= batch_axis < x.ndim:
                raise ValueError(f"gn.onnx.export: dynamic_batch needs every input to have axis {batch_axis}; "
                                 f"got an input of shape {tuple(x.shape)}")
        batch_axis %= inputs[0].ndim  # Shape(start=axis, end=axis + 1) needs it non-negative
    trace_a, trace_b = _two_traces(model, inputs, dynamic_batch, batch_axis)
    batch_sizes = (inputs[0].shape[batch_axis], trace_b.inputs[0].shape[batch_axis]) if dynamic_batch else None
    graph = _build_graph(onnx, trace_a, trace_b, batch_sizes, batch_axis, opset,
                         _names(input_names, len(inputs), "input"), output_names)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="glassnet")
    proto.ir_version = min(proto.ir_version, 8 if opset < 19 else 9)  # readable by onnxruntime releases of the opset
    onnx.checker.check_model(proto, full_check=True)
    atomic_write(path, proto.SerializeToString())
    return path


def _check_path(path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"gn.onnx.export: path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"gn.onnx.export: path {str(path)!r} is a directory; give a file name such as "
                                f"'model.onnx'")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"gn.onnx.export: the folder {str(path.parent)!r} of {str(path)!r} does not exist")
    return path


def _as_inputs(example_input) -> list:
    items = list(example_input) if isinstance(example_input, (tuple, list)) else [example_input]
    if not items:
        raise ValueError("gn.onnx.export: example_input is empty; give a Tensor or a tuple of Tensors")
    out = []
    for item in items:
        if isinstance(item, numpy.ndarray):
            item = Tensor(item)
        if not isinstance(item, Tensor):
            raise TypeError(f"gn.onnx.export: example_input must be Tensors or arrays, got {type(item).__name__}")
        out.append(item.detach())
    return out


def _names(given, count: int, stem: str) -> list:
    if given is None:
        return [stem] if count == 1 else [f"{stem}_{k}" for k in range(count)]
    given = [given] if isinstance(given, str) else list(given)
    if len(given) != count or len(set(given)) != count:
        raise ValueError(f"gn.onnx.export: {stem}_names must be {count} distinct names, got {given!r}")
    return given


def _second_input(x: Tensor, dynamic_batch: bool, batch_axis: int) -> Tensor:
    """The same kind of input with other values (rows rotated, floats rescaled) and, if dynamic, one more row."""
    if x.ndim == 0:
        return Tensor(x.data * 0.75 + 0.125 if x.dtype.kind == "f" else x.data.copy())
    n = x.shape[batch_axis]
    rows = [(i + 1) % n for i in range(n)] + ([0] if dynamic_batch else [])
    data = numpy.take(x.data, rows, axis=batch_axis)
    if data.dtype.kind == "f":
        data = (data * 0.75 + 0.125).astype(x.dtype)
    return Tensor(data)


def _on_host(model, example_input):
    """A model on a device is traced as a host copy (an ONNX file holds host values); a host model as it is."""
    tensors = [*model.parameters(), *model.buffers()] if hasattr(model, "parameters") else []
    if any(t.device != "cpu" for t in tensors):
        import copy

        model = copy.deepcopy(model).cpu()
    if isinstance(example_input, Tensor):
        return model, example_input.cpu()
    if isinstance(example_input, tuple):
        return model, tuple(x.cpu() if isinstance(x, Tensor) else x for x in example_input)
    return model, example_input


def _two_traces(model, inputs: list, dynamic_batch: bool, batch_axis: int):
    modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
    if hasattr(model, "eval"):
        model.eval()
    try:
        trace_a = trace(model, inputs)
        try:
            trace_b = trace(model, [_second_input(x, dynamic_batch, batch_axis) for x in inputs])
        except ValueError as error:  # e.g. an unbatched (C, H, W) example: its axis 0 is the channels
            if not dynamic_batch:
                raise
            raise OpValueError(
                f"gn.onnx.export: the model refused the example with another size on axis {batch_axis} (the batch "
                f"axis, varied to make it symbolic): {error}. An example with no batch axis (one unbatched sample) "
                f"needs dynamic_batch=False, or add the axis with x.unsqueeze(0)"
            ) from error
    finally:
        for module, training in modes:
            module.training = training
    ops_a, ops_b = [c.op for c in trace_a.calls], [c.op for c in trace_b.calls]
    if ops_a != ops_b or len(trace_a.outputs) != len(trace_b.outputs):
        raise ValueError("gn.onnx.export: the model runs different ops for another input (its forward branches on "
                         "the batch size or the values); export it with dynamic_batch=False")
    return trace_a, trace_b


def _value_info(helper, name: str, array, batch_sizes, other_shape, batch_axis: int):
    dims = list(array.shape)
    for k, (a, b) in enumerate(zip(array.shape, other_shape)):
        if a != b:
            dims[k] = "batch" if batch_sizes and a == batch_sizes[0] and k == batch_axis else None
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype), dims)


def _build_graph(onnx, trace_a, trace_b, batch_sizes, batch_axis: int, opset: int, input_names: list, output_names):
    builder = GraphBuilder(onnx, batch_sizes)
    builder.opset = opset
    builder.batch_source = (input_names[0], batch_axis)
    graph_inputs = []
    for name, xa, xb in zip(input_names, trace_a.inputs, trace_b.inputs):
        builder.bind(xa, name)
        builder.derived_inputs.append((name, xa.data, xb.data))
        graph_inputs.append(_value_info(onnx.helper, name, xa.data, batch_sizes, xb.shape, batch_axis))
    for call_a, call_b in zip(trace_a.calls, trace_b.calls):
        lowering = OpLowering(builder, call_a, call_b)
        converter = CONVERTERS.get(call_a.op)
        if converter is None:
            unsupported(lowering)
        builder.bind(call_a.output, converter(lowering))
    names = _names(output_names, len(trace_a.outputs), "output")
    graph_outputs = []
    for name, ya, yb in zip(names, trace_a.outputs, trace_b.outputs):
        source = OpLowering(builder, trace_a.calls[-1], trace_b.calls[-1]).value(ya, yb) if trace_a.calls else \
            builder.constant(ya, yb, "output")
        builder.nodes.append(onnx.helper.make_node("Identity", [source], [name]))
        graph_outputs.append(_value_info(onnx.helper, name, ya.data, batch_sizes, yb.shape, batch_axis))
    used = {name for node in builder.nodes for name in node.input}
    initializers = [t for t in builder.initializers if t.name in used]  # helpers a converter made but did not need
    return onnx.helper.make_graph(builder.nodes, "glassnet", graph_inputs, graph_outputs, initializers)
