"""Functional convolution and pooling (1-D, 2-D and 3-D) with PyTorch's signatures (re-exported by
`glassnet.nn.functional`).

Here the arguments are checked and normalised (ints to tuples, "same"/"valid" to padding); the arithmetic and
the derivatives live in `glassnet/ops/conv.py` and `glassnet/ops/pooling.py`.
"""

from __future__ import annotations

import math

import numpy

from glassnet.errors import OpValueError, ShapeError
from glassnet.ops import conv as cv
from glassnet.ops import pooling as pl
from glassnet.tensor import Tensor, _as_tensor

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "unfold",
    "fold",
]

_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}
_KERNEL = {1: "k", 2: "kh, kw", 3: "kd, kh, kw"}


# ----- argument helpers -----------------------------------------------------------------------------------------------


def _ints(value, n: int, name: str, op: str, minimum: int = 0) -> tuple:
    """An int or a sequence of n ints (a 1-sequence is repeated), each at least `minimum`."""
    if isinstance(value, (int, numpy.integer)) and not isinstance(value, bool):
        t = (int(value),) * n
    else:
        try:
            t = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise OpValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}") from None
        if len(t) == 1:
            t = t * n
    if len(t) != n:
        raise OpValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in t):
        raise OpValueError(f"{op}: {name} must be at least {minimum}, got {value!r}")
    return t


def _shape(t) -> str:
    return str(tuple(t))


def _size(t) -> str:
    return "x".join(str(v) for v in t)


def _floating(op: str, **tensors) -> None:
    """Every given tensor is floating and of the same dtype (PyTorch refuses mixed dtypes in a convolution)."""
    dtypes = {name: t.dtype for name, t in tensors.items() if t is not None}
    for name, dt in dtypes.items():
        if dt.kind != "f":
            raise TypeError(f"{op}: {name} must be a floating tensor, got {dt}")
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{name} is {dt}" for name, dt in dtypes.items())
        raise TypeError(f"{op}: dtypes differ ({listed}); convert with .to(...)")


def _batched(op: str, x: Tensor, nd: int, allow_unbatched: bool) -> tuple[Tensor, bool]:
    """x as an (N, C, *spatial) tensor, and whether a batch axis was added to an unbatched (C, *spatial) input."""
    if x.ndim == nd + 2:
        return x, False
    if allow_unbatched and x.ndim == nd + 1:
        return x.unsqueeze(0), True
    hint = ""
    if x.ndim == nd + 1:
        hint = "; for a single example add the batch dimension with x.unsqueeze(0)"
    accepted = f"a {nd + 2}-D" + (f" or {nd + 1}-D (unbatched)" if allow_unbatched else "")
    raise OpValueError(f"{op}: expected {accepted} input {_LAYOUT[nd]}, got shape {_shape(x.shape)}{hint}")


def _conv_padding(padding, nd: int, kernel, stride, dilation, op: str) -> tuple:
    """Padding as (lo, hi) pairs: an int or tuple pads both sides; "valid" is none; "same" keeps the size
    (d·(k − 1) in total, the odd one on the right, as PyTorch)."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise OpValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in total)
        raise OpValueError(f"{op}: padding must be 'same', 'valid', an int or a tuple of {nd} ints, got {padding!r}")
    return tuple((p, p) for p in _ints(padding, nd, "padding", op))


# ----- convolution ----------------------------------------------------------------------------------------------------


def _conv_operands(op: str, nd: int, input, weight, bias, layout: str) -> tuple:
    """input, weight and bias as float Tensors, the input batched and the weight of rank nd + 2, and whether a batch
    axis was added to an unbatched (C, *spatial) input (PyTorch accepts one; the caller removes the axis again)."""
    x, w = _as_tensor(input), _as_tensor(weight)
    b = None if bias is None else _as_tensor(bias)
    x, unbatched = _batched(op, x, nd, allow_unbatched=True)
    if w.ndim != nd + 2:
        raise OpValueError(f"{op}: expected a {nd + 2}-D weight ({layout}, {_KERNEL[nd]}), got shape {_shape(w.shape)}")
    _floating(op, input=x, weight=w, bias=b)
    return x, w, b, unbatched


def _conv(op: str, nd: int, input, weight, bias, stride, padding, dilation, groups) -> Tensor:
    x, w, b, unbatched = _conv_operands(op, nd, input, weight, bias, "out_channels, in_channels/groups")
    xs = _shape(x.shape[1:] if unbatched else x.shape)  # the input's shape as given, for messages
    groups = int(groups)
    c, o = x.shape[1], w.shape[0]
    if groups < 1 or c % groups or o % groups:
        raise OpValueError(
            f"{op}: groups={groups} must divide both the input's {c} channels and the weight's {o} output channels "
            f"(input {xs}, weight {_shape(w.shape)})"
        )
    if w.shape[1] * groups != c:
        raise OpValueError(
            f"{op}: input of shape {xs} has {c} channels, but weight of shape {_shape(w.shape)} "
            f"expects {w.shape[1] * groups} (weight.shape[1]={w.shape[1]} x groups={groups})"
        )
    if b is not None and b.shape != (o,):
        raise OpValueError(f"{op}: bias of shape {_shape(b.shape)} does not match the {o} output channels; "
                         f"expected ({o},)")
    kernel = w.shape[2:]
    stride = _ints(stride, nd, "stride", op, minimum=1)
    dilation = _ints(dilation, nd, "dilation", op, minimum=1)
    pads = _conv_padding(padding, nd, kernel, stride, dilation, op)
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pads))
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(k > n for k, n in zip(span, padded)) or 0 in kernel:
        dil = f" with dilation {dilation} spans {_size(span)}" if any(d > 1 for d in dilation) else ""
        raise ShapeError(
            f"{op}: kernel {_size(kernel)}{dil} is bigger than the padded input {_size(padded)} "
            f"(input {xs}, padding {padding!r})"
        )
    y = cv.Conv.apply(x, w, b, stride=stride, padding=pads, dilation=dilation, groups=groups)
    return y.squeeze(0) if unbatched else y


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """1-D convolution of (N, C, L) with weight (O, C/groups, k), like torch.nn.functional.conv1d."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-D convolution of (N, C, H, W) with weight (O, C/groups, kh, kw), like torch.nn.functional.conv2d."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """3-D convolution of (N, C, D, H, W) with weight (O, C/groups, kd, kh, kw), like torch.nn.functional.conv3d
    (the same im2col + GEMM as conv2d, with one more spatial axis)."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(op: str, nd: int, input, weight, bias, stride, padding, output_padding, groups,
                    dilation) -> Tensor:
    x, w, b, unbatched = _conv_operands(op, nd, input, weight, bias, "in_channels, out_channels/groups")
    xs = _shape(x.shape[1:] if unbatched else x.shape)  # the input's shape as given, for messages
    groups = int(groups)
    c = x.shape[1]
    if groups < 1 or c % groups:
        raise OpValueError(f"{op}: groups={groups} must divide the input's {c} channels "
                         f"(input {xs}, weight {_shape(w.shape)})")
    if w.shape[0] != c:
        raise OpValueError(
            f"{op}: input of shape {xs} has {c} channels, but weight of shape {_shape(w.shape)} "
            f"expects {w.shape[0]} (weight.shape[0])"
        )
    o = w.shape[1] * groups
    if b is not None and b.shape != (o,):
        raise OpValueError(f"{op}: bias of shape {_shape(b.shape)} does not match the {o} output channels; "
                         f"expected ({o},)")
    if isinstance(padding, str):
        raise OpValueError(f"{op}: padding must be an int or a tuple of {nd} ints, got {padding!r}")
    kernel = w.shape[2:]
    stride = _ints(stride, nd, "stride", op, minimum=1)
    dilation = _ints(dilation, nd, "dilation", op, minimum=1)
    pads = tuple((p, p) for p in _ints(padding, nd, "padding", op))
    extra = _ints(output_padding, nd, "output_padding", op)
    if any(e >= max(s, d) for e, s, d in zip(extra, stride, dilation)):
        raise OpValueError(f"{op}: output_padding {extra} must be smaller than either stride {stride} "
                         f"or dilation {dilation}")
    size = cv.transposed_output_size(x.shape[2:], kernel, stride, pads, dilation, extra)
    if any(n < 1 for n in size) or 0 in kernel:
        raise ShapeError(f"{op}: the output size {_size(size)} would not be positive "
                         f"(input {xs}, weight {_shape(w.shape)}, padding {padding!r})")
    y = cv.ConvTranspose.apply(x, w, b, stride=stride, padding=pads, dilation=dilation, groups=groups,
                               in_size=size)
    return y.squeeze(0) if unbatched else y


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-D transposed convolution of (N, C_in, L) with weight (C_in, C_out/groups, k), like PyTorch's."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-D transposed convolution ("deconvolution") of (N, C_in, H, W) with weight (C_in, C_out/groups, kh, kw)."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """3-D transposed convolution of (N, C_in, D, H, W) with weight (C_in, C_out/groups, kd, kh, kw)."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


# ----- pooling --------------------------------------------------------------------------------------------------------


def _pool_args(op: str, nd: int, x: Tensor, kernel_size, stride, padding, dilation, ceil_mode, half: str):
    kernel = _ints(kernel_size, nd, "kernel_size", op, minimum=1)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else stride
    stride = _ints(stride, nd, "stride", op, minimum=1)
    padding = _ints(padding, nd, "padding", op)
    dilation = _ints(dilation, nd, "dilation", op, minimum=1)
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    limit = span if half == "effective" else kernel
    if any(p > s // 2 for p, s in zip(padding, limit)):
        what = "effective kernel size" if half == "effective" else "kernel size"
        raise OpValueError(f"{op}: padding {padding} should be at most half of the {what} {_size(limit)}")
    out_size, _ = pl.pool_geometry(x.shape[2:], kernel, stride, padding, dilation, ceil_mode)
    if any(n < 1 for n in out_size):
        raise ShapeError(f"{op}: input of shape {_shape(x.shape)} is too small for kernel {_size(kernel)} "
                         f"(padding {padding}, dilation {dilation}): the output would be {_size(out_size)}")
    return kernel, stride, padding, dilation


def _max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, unbatched = _batched(op, _as_tensor(input), nd, allow_unbatched=True)
    if x.dtype.kind not in "iu":  # integers are pooled too, as in PyTorch (no gradient flows through them)
        _floating(op, input=x)
    kernel, stride, padding, dilation = _pool_args(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode,
                                                   "effective")
    y = pl.MaxPool.apply(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    indices = None
    if return_indices:
        _, pads = pl.pool_geometry(x.shape[2:], kernel, stride, padding, dilation, ceil_mode)
        xp = cv.pad(x.data, pads, pl._lowest(x.dtype))
        hits = pl.window_argmax(xp, y.data, kernel, stride, dilation)
        indices = Tensor._make(pl.flat_indices(hits, x.shape[2:], kernel, stride, padding, dilation), None)
    if unbatched:
        y = y.squeeze(0)
        indices = None if indices is None else indices[0]
    return y if not return_indices else (y, indices)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max over sliding windows of (N, C, L); with return_indices also the flat position of each maximum."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max over sliding windows of (N, C, H, W); with return_indices also the flat position (h·W + w) of each max."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max over sliding windows of (N, C, D, H, W); with return_indices also the flat position (d·H·W + h·W + w)
    of each maximum."""
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_pool(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    x, unbatched = _batched(op, _as_tensor(input), nd, allow_unbatched=True)
    _floating(op, input=x)
    kernel, stride, padding, _ = _pool_args(op, nd, x, kernel_size, stride, padding, 1, ceil_mode, "")
    if divisor_override is not None and int(divisor_override) == 0:
        raise OpValueError(f"{op}: divisor_override must be non-zero")
    y = pl.AvgPool.apply(x, kernel=kernel, stride=stride, padding=padding, ceil_mode=bool(ceil_mode),
                         count_include_pad=bool(count_include_pad),
                         divisor_override=None if divisor_override is None else int(divisor_override))
    return y.squeeze(0) if unbatched else y


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over sliding windows of (N, C, L), like torch.nn.functional.avg_pool1d."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over sliding windows of (N, C, H, W), like torch.nn.functional.avg_pool2d."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over sliding windows of (N, C, D, H, W), like torch.nn.functional.avg_pool3d."""
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def _adaptive_avg_pool(op, nd, input, output_size):
    x, unbatched = _batched(op, _as_tensor(input), nd, allow_unbatched=True)
    _floating(op, input=x)
    if output_size is None or isinstance(output_size, (int, numpy.integer)):
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if len(output_size) == 1:
        output_size *= nd
    if len(output_size) != nd:
        raise OpValueError(f"{op}: output_size must be an int or a tuple of {nd} ints (or None), got {output_size!r}")
    size = tuple(n if o is None else int(o) for n, o in zip(x.shape[2:], output_size))
    if any(o < 1 for o in size) or 0 in x.shape[2:]:
        raise OpValueError(f"{op}: output_size {output_size} and input of shape {_shape(x.shape)} must be positive")
    mats = tuple(None if o == n else pl.adaptive_matrix(n, o, x.dtype) for n, o in zip(x.shape[2:], size))
    y = pl.PoolByMatrices.apply(x, matrices=mats) if any(m is not None for m in mats) else x.clone()
    return y.squeeze(0) if unbatched else y


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average (N, C, L) down to a given length with windows of nearly equal size."""
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average (N, C, H, W) down to (N, C, *output_size) with windows of nearly equal size (None keeps a dim)."""
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """Average (N, C, D, H, W) down to (N, C, *output_size) with windows of nearly equal size (None keeps a dim):
    one constant averaging matrix per spatial axis."""
    return _adaptive_avg_pool("adaptive_avg_pool3d", 3, input, output_size)


# ----- unfold / fold --------------------------------------------------------------------------------------------------


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """im2col: (N, C, H, W) → (N, C·kh·kw, L), every sliding block as a column (torch.nn.functional.unfold)."""
    op = "unfold"
    x, unbatched = _batched(op, _as_tensor(input), 2, allow_unbatched=True)
    _floating(op, input=x)
    kernel = _ints(kernel_size, 2, "kernel_size", op, minimum=1)
    dilation = _ints(dilation, 2, "dilation", op, minimum=1)
    stride = _ints(stride, 2, "stride", op, minimum=1)
    pads = tuple((p, p) for p in _ints(padding, 2, "padding", op))
    blocks = cv.conv_output_size(x.shape[2:], kernel, stride, pads, dilation)
    if any(n < 1 for n in blocks):
        raise ShapeError(f"{op}: kernel {_size(kernel)} (dilation {dilation}) does not fit in the padded input "
                         f"(input {_shape(x.shape)}, padding {padding!r})")
    y = cv.Unfold.apply(x, kernel=kernel, stride=stride, padding=pads, dilation=dilation)
    return y.squeeze(0) if unbatched else y


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """col2im: (N, C·kh·kw, L) → (N, C, *output_size), overlapping values summed (torch.nn.functional.fold)."""
    op = "fold"
    cols = _as_tensor(input)
    unbatched = cols.ndim == 2
    if cols.ndim not in (2, 3):
        raise OpValueError(f"{op}: expected a 3-D input (N, C·kh·kw, L) or 2-D (unbatched), got shape "
                         f"{_shape(cols.shape)}")
    if unbatched:
        cols = cols.unsqueeze(0)
    _floating(op, input=cols)
    size = _ints(output_size, 2, "output_size", op, minimum=1)
    kernel = _ints(kernel_size, 2, "kernel_size", op, minimum=1)
    dilation = _ints(dilation, 2, "dilation", op, minimum=1)
    stride = _ints(stride, 2, "stride", op, minimum=1)
    pads = tuple((p, p) for p in _ints(padding, 2, "padding", op))
    k = math.prod(kernel)
    if cols.shape[1] % k:
        raise OpValueError(f"{op}: input of shape {_shape(cols.shape)}: dim 1 ({cols.shape[1]}) must be divisible "
                         f"by the kernel size {_size(kernel)} = {k}")
    blocks = cv.conv_output_size(size, kernel, stride, pads, dilation)
    if any(n < 1 for n in blocks) or math.prod(blocks) != cols.shape[2]:
        raise OpValueError(f"{op}: input of shape {_shape(cols.shape)} has {cols.shape[2]} blocks, but output_size "
                         f"{size} with kernel {_size(kernel)} gives {_size(blocks)} = {math.prod(blocks)}")
    y = cv.Fold.apply(cols, in_size=size, kernel=kernel, stride=stride, padding=pads, dilation=dilation)
    return y.squeeze(0) if unbatched else y
