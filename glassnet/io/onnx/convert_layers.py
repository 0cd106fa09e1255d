"""Converters for the shape, convolution, pooling, normalization, embedding and recurrent ops."""

from __future__ import annotations

import numpy

from glassnet.io.onnx.graph import INT64_MAX
from glassnet.io.onnx.lowering import OpLowering, unsupported
from glassnet.ops import conv as cv
from glassnet.ops import dropout as dr
from glassnet.ops import embedding as em
from glassnet.ops import normalization as nm
from glassnet.ops import pooling as pl
from glassnet.ops import recurrent as rc
from glassnet.ops import shape as sh

# ----- shapes -------------------------------------------------------------------------------------------------------


def _reshape(op: OpLowering) -> str:
    a, b = op.option_pair("shape")
    return op.node("Reshape", [op.input(0), op.g.shape_value(a, b, "the target shape of a reshape")])


def _expand(op: OpLowering) -> str:
    a, b = op.option_pair("shape")
    return op.node("Expand", [op.input(0), op.g.shape_value(a, b, "the target shape of an expand")])


def _permute(op: OpLowering) -> str:
    return op.node("Transpose", [op.input(0)], perm=[int(a) for a in op.static("axes")])


def _concat(op: OpLowering) -> str:
    return op.node("Concat", [op.input(i) for i in range(len(op.a.args))], axis=int(op.static("axis", 0)))


def _stack(op: OpLowering) -> str:
    axis = int(op.static("axis", 0)) % op.out.ndim
    parts = [op.node("Unsqueeze", [op.input(i), op.ints([axis])]) for i in range(len(op.a.args))]
    return op.node("Concat", parts, axis=axis)


def _pad(op: OpLowering) -> str:
    widths = op.static("widths")
    pads = [int(lo) for lo, _ in widths] + [int(hi) for _, hi in widths]
    return op.node("Pad", [op.input(0), op.ints(pads), op.scalar(op.static("value", 0.0))], mode="constant")


def _tile(op: OpLowering) -> str:
    reps = [int(r) for r in op.static("reps")]
    x, extra = op.input(0), len(reps) - len(op.shape_of(0))
    if extra > 0:  # np.tile puts new leading axes in front
        x = op.node("Unsqueeze", [x, op.ints(range(extra))])
    return op.node("Tile", [x, op.ints([1] * -extra + reps if extra < 0 else reps)])


def _getitem(op: OpLowering) -> str:
    """x[index] for ints, slices, None, Ellipsis and one integer (or 1-D bool) array: Slice, Gather, Unsqueeze."""
    index = op.static("index")
    items = list(index) if isinstance(index, tuple) else [index]
    ndim = len(op.shape_of(0))
    used = sum(_index_rank(i) for i in items if i is not None and i is not Ellipsis)
    if any(i is Ellipsis for i in items):
        k = next(n for n, i in enumerate(items) if i is Ellipsis)
        items[k:k + 1] = [slice(None)] * (ndim - used)
    if sum(isinstance(i, numpy.ndarray) for i in items) > 1:
        unsupported(op, "indexing with more than one array is not supported")
    y, axis = op.input(0), 0
    for item in items:
        if item is None:
            y = op.node("Unsqueeze", [y, op.ints([axis])])
            axis += 1
        elif isinstance(item, slice):
            if item != slice(None):
                y = op.node("Slice", [y] + _slice_bounds(op, item, axis))
            axis += 1
        elif isinstance(item, numpy.ndarray):
            positions = numpy.nonzero(item)[0] if item.dtype.kind == "b" else item.astype(numpy.int64)
            if item.dtype.kind == "b" and item.ndim != 1:
                unsupported(op, "a boolean index of more than one dimension")
            y = op.node("Gather", [y, op.g.const(positions)], axis=axis)
            axis += positions.ndim
        else:  # an int: Gather with a scalar index drops the axis
            y = op.node("Gather", [y, op.g.const(numpy.asarray(int(item), numpy.int64))], axis=axis)
    return y


def _index_rank(item) -> int:
    return item.ndim if isinstance(item, numpy.ndarray) and item.dtype.kind == "b" else 1


def _slice_bounds(op: OpLowering, item: slice, axis: int) -> list:
    """Slice's starts, ends, axes, steps for a Python slice (ONNX clamps out-of-range bounds the same way)."""
    step = 1 if item.step is None else int(item.step)
    start = item.start if item.start is not None else (0 if step > 0 else -1)
    stop = item.stop if item.stop is not None else (INT64_MAX if step > 0 else -INT64_MAX)
    return [op.ints([int(start)]), op.ints([int(stop)]), op.ints([axis]), op.ints([step])]


# ----- convolution and pooling ----------------------------------------------------------------------------------------


def _conv(op: OpLowering) -> str:
    padding = op.static("padding")
    pads = [int(lo) for lo, _ in padding] + [int(hi) for _, hi in padding]
    weight_shape = op.shape_of(1)
    inputs = [op.input(0), op.input(1)] + ([op.input(2)] if op.arg(2) is not None else [])
    return op.node("Conv", inputs, kernel_shape=list(weight_shape[2:]), strides=list(op.static("stride")),
                   pads=pads, dilations=list(op.static("dilation")), group=int(op.static("groups", 1)))


def _conv_transpose(op: OpLowering) -> str:
    """ONNX ConvTranspose has PyTorch's weight layout; output_padding makes up the size `in_size` asks for."""
    padding, stride, dilation = op.static("padding"), op.static("stride"), op.static("dilation")
    kernel, in_shape = op.shape_of(1)[2:], op.shape_of(0)[2:]
    natural = [(n - 1) * s - lo - hi + d * (k - 1) + 1
               for n, s, (lo, hi), d, k in zip(in_shape, stride, padding, dilation, kernel)]
    extra = [int(want) - got for want, got in zip(op.static("in_size"), natural)]
    pads = [int(lo) for lo, _ in padding] + [int(hi) for _, hi in padding]
    inputs = [op.input(0), op.input(1)] + ([op.input(2)] if op.arg(2) is not None else [])
    return op.node("ConvTranspose", inputs, kernel_shape=list(kernel), strides=list(stride), pads=pads,
                   dilations=list(dilation), group=int(op.static("groups", 1)), output_padding=extra)


def _pool_pads(padding) -> list:
    return [int(p) for p in padding] * 2


def _max_pool(op: OpLowering) -> str:
    return op.node("MaxPool", [op.input(0)], kernel_shape=list(op.static("kernel")), strides=list(op.static("stride")),
                   pads=_pool_pads(op.static("padding")), dilations=list(op.static("dilation")),
                   ceil_mode=int(bool(op.static("ceil_mode", False))))


def _avg_pool(op: OpLowering) -> str:
    if op.static("divisor_override") is not None:
        unsupported(op, "divisor_override has no ONNX equivalent")
    return op.node("AveragePool", [op.input(0)], kernel_shape=list(op.static("kernel")),
                   strides=list(op.static("stride")), pads=_pool_pads(op.static("padding")),
                   ceil_mode=int(bool(op.static("ceil_mode", False))),
                   count_include_pad=int(bool(op.static("count_include_pad", True))))


def _pool_by_matrices(op: OpLowering) -> str:
    """Adaptive average pooling: each spatial axis mixed by a constant matrix, i.e. one MatMul per axis."""
    y, ndim = op.input(0), len(op.shape_of(0))
    for axis, m in enumerate(op.static("matrices"), start=2):
        if m is None:
            continue
        if axis == ndim - 1:  # the last axis: y · mᵀ
            y = op.node("MatMul", [y, op.g.const(numpy.ascontiguousarray(m.T))])
        elif axis == ndim - 2:  # the second-last axis: m · y (broadcast over the leading axes)
            y = op.node("MatMul", [op.g.const(m), y])
        else:
            unsupported(op, "adaptive pooling over more than two spatial axes")
    return y


# ----- normalization, embedding, recurrent -------------------------------------------------------------------------


def _affine_or(op: OpLowering, i: int, fill: float, shape: tuple) -> str:
    return op.input(i) if op.arg(i) is not None else op.g.const(numpy.full(shape, fill, op.out.dtype))


def _batch_norm(op: OpLowering) -> str:
    if op.static("training", True):
        unsupported(op, "batch norm in training mode (the exporter exports models in eval mode)")
    channels = (op.shape_of(0)[1],)
    mean = op.value(*op.option_pair("running_mean"))
    var = op.value(*op.option_pair("running_var"))
    if numpy.asarray(op.a.options["running_mean"]).dtype != op.out.dtype:
        to = op.g.helper.np_dtype_to_tensor_dtype(op.out.dtype)
        mean, var = op.node("Cast", [mean], to=to), op.node("Cast", [var], to=to)
    inputs = [op.input(0), _affine_or(op, 1, 1.0, channels), _affine_or(op, 2, 0.0, channels), mean, var]
    return op.node("BatchNormalization", inputs, epsilon=float(op.static("eps", 1e-5)))


def _layer_norm(op: OpLowering) -> str:
    ndim = int(op.static("ndim", 1))
    shape = op.shape_of(0)[-ndim:]
    inputs = [op.input(0), _affine_or(op, 1, 1.0, shape), _affine_or(op, 2, 0.0, shape)]
    return op.node("LayerNormalization", inputs, axis=-ndim, epsilon=float(op.static("eps", 1e-5)))


def _group_norm(op: OpLowering) -> str:
    """Standardise each (sample, group) over its channels and positions, then scale and shift per channel."""
    groups, eps = int(op.static("num_groups", 1)), float(op.static("eps", 1e-5))
    x, ndim = op.input(0), len(op.shape_of(0))
    grouped = op.node("Reshape", [x, op.ints([0, groups, -1])])  # 0: keep the (possibly dynamic) batch size
    centred = op.node("Sub", [grouped, op.reduce("ReduceMean", grouped, [2], True)])
    var = op.reduce("ReduceMean", op.node("Mul", [centred, centred]), [2], True)
    xhat = op.node("Div", [centred, op.node("Sqrt", [op.node("Add", [var, op.scalar(eps)])])])
    y = op.node("Reshape", [xhat, op.node("Shape", [x])])
    per_channel = op.ints(range(1, ndim - 1))
    if op.arg(1) is not None:
        y = op.node("Mul", [y, op.node("Unsqueeze", [op.input(1), per_channel])])
    if op.arg(2) is not None:
        y = op.node("Add", [y, op.node("Unsqueeze", [op.input(2), per_channel])])
    return y


def _embedding(op: OpLowering) -> str:
    index = op.value(*op.option_pair("index"))
    return op.node("Gather", [op.input(0), index], axis=0)


def _lstm_sequence(op: OpLowering) -> str:
    """LSTMSequence → ONNX LSTM. glassnet hands in gi = x W_ihᵀ + b (gates i, f, g, o); ONNX wants gates i, o, f, c:
    X = gi with W a 4H×4H permutation matrix (exact in floating point) reorders the gates, and R = W_hh's rows in
    the same order. Output: [h_1, …, h_T, c_T] = Concat(Y without its direction axis, Y_c)."""
    hidden = op.shape_of(3)[1]
    order = numpy.concatenate([numpy.arange(k * hidden, (k + 1) * hidden) for k in (0, 3, 1, 2)])
    permutation = numpy.eye(4 * hidden, dtype=op.out.dtype)[order][None]  # (1, 4H, 4H): row r picks gate column
    recurrent = op.node("Gather", [op.input(3), op.g.const(order.astype(numpy.int64))], axis=0)
    recurrent = op.node("Unsqueeze", [recurrent, op.ints([0])])
    h0, c0 = (op.node("Unsqueeze", [op.input(i), op.ints([0])]) for i in (1, 2))
    direction = "reverse" if op.static("reverse", False) else "forward"
    y, _, y_c = op.node("LSTM", [op.input(0), op.g.const(permutation), recurrent, "", "", h0, c0], n_out=3,
                        hidden_size=int(hidden), direction=direction)
    return op.node("Concat", [op.node("Squeeze", [y, op.ints([1])]), y_c], axis=0)


def _gru_sequence(op: OpLowering) -> str:
    """GRUSequence → ONNX GRU (linear_before_reset=1, PyTorch's form): gates r, z, n → ONNX z, r, h via a permutation
    matrix on X = gi, W_hh's rows and b_hh in the same order (B = [0, b_hh])."""
    hidden = op.shape_of(2)[1]
    order = numpy.concatenate([numpy.arange(k * hidden, (k + 1) * hidden) for k in (1, 0, 2)])
    permutation = numpy.eye(3 * hidden, dtype=op.out.dtype)[order][None]
    index = op.g.const(order.astype(numpy.int64))
    recurrent = op.node("Unsqueeze", [op.node("Gather", [op.input(2), index], axis=0), op.ints([0])])
    bias = ""
    if op.arg(3) is not None:
        hidden_bias = op.node("Gather", [op.input(3), index], axis=0)
        zeros = op.g.const(numpy.zeros(3 * hidden, dtype=op.out.dtype))
        bias = op.node("Unsqueeze", [op.node("Concat", [zeros, hidden_bias], axis=0), op.ints([0])])
    h0 = op.node("Unsqueeze", [op.input(1), op.ints([0])])
    direction = "reverse" if op.static("reverse", False) else "forward"
    y, _ = op.node("GRU", [op.input(0), op.g.const(permutation), recurrent, bias, "", h0], n_out=2,
                   hidden_size=int(hidden), direction=direction, linear_before_reset=1)
    return op.node("Squeeze", [y, op.ints([1])])


def _training_only(op: OpLowering) -> str:
    return unsupported(op, "it runs only in training mode; call model.eval() (export does) or pass training=False")


CONVERTERS = {
    sh.Reshape: _reshape, sh.Expand: _expand, sh.Permute: _permute, sh.Concat: _concat, sh.Stack: _stack,
    sh.Pad: _pad, sh.Tile: _tile, sh.GetItem: _getitem,
    cv.Conv: _conv, cv.ConvTranspose: _conv_transpose,
    pl.MaxPool: _max_pool, pl.AvgPool: _avg_pool, pl.PoolByMatrices: _pool_by_matrices,
    nm.BatchNorm: _batch_norm, nm.LayerNorm: _layer_norm, nm.GroupNorm: _group_norm, em.Embedding: _embedding,
    rc.LSTMSequence: _lstm_sequence, rc.GRUSequence: _gru_sequence, dr.Dropout: _training_only,
}
