"""Adaptive max pooling, max unpooling and power-average (LP) pooling, as compositions: an adaptive max is a gather
of each window (padded by repeating its last element, which leaves the max unchanged) followed by amax, one spatial
dim at a time (a max over a rectangle is a max of maxes); unpooling scatters each value to its recorded position;
LP pooling is (Σ x^p)^(1/p) over each window, an average pool of x^p times the window size."""

from __future__ import annotations

import math

import numpy

from glassnet.backend import array_module
from glassnet.errors import ShapeError
from glassnet.nn import _functional_conv as fc
from glassnet.ops import indexing as ix
from glassnet.tensor import Tensor

__all__ = ["adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "max_unpool1d", "max_unpool2d",
           "max_unpool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d"]


def _windows(n: int, o: int) -> tuple:
    """PyTorch's adaptive windows: [⌊i·n/o⌋, ⌈(i+1)·n/o⌉) for each output position i."""
    starts = numpy.array([(i * n) // o for i in range(o)])
    ends = numpy.array([math.ceil((i + 1) * n / o) for i in range(o)])
    return starts, ends


def _adaptive_max(name: str, nd: int, input: Tensor, output_size, return_indices: bool):  # noqa: A002
    if not isinstance(input, Tensor) or input.ndim not in (nd + 1, nd + 2):
        raise ShapeError(
            f"{name}: expected a {nd + 2}-D or {nd + 1}-D (unbatched) input, got "
            f"{getattr(input, 'shape', type(input).__name__)}"
        )
    unbatched = input.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    sizes = (output_size,) * nd if isinstance(output_size, int) or output_size is None else tuple(output_size)
    sizes = tuple(n if o is None else int(o) for n, o in zip(x.shape[2:], sizes))
    if len(sizes) != nd or any(o < 1 for o in sizes) or 0 in x.shape[2:]:
        raise ShapeError(f"{name}: output_size {output_size} does not fit input of shape {input.shape}")
    out = x
    for d, (n, o) in enumerate(zip(x.shape[2:], sizes)):
        starts, ends = _windows(n, o)
        width = int((ends - starts).max())
        taps = numpy.minimum(starts[:, None] + numpy.arange(width), ends[:, None] - 1)  # (o, width)
        axis = 2 + d
        out = out[(slice(None),) * axis + (taps,)].amax(axis + 1)
    if unbatched:
        out = out.squeeze(0)
    if not return_indices:
        return out
    return out, Tensor._make(_argmax_indices(x.data, sizes).reshape(out.shape), None)


def _argmax_indices(x, sizes: tuple):
    """The flat spatial index (h·W + w) of each window's first maximum (an array on x's device)."""
    spatial = x.shape[2:]
    windows = [_windows(n, o) for n, o in zip(spatial, sizes)]
    out = array_module(x).zeros(x.shape[:2] + sizes, dtype=numpy.int64)
    for cell in numpy.ndindex(*sizes):
        region = tuple(slice(int(w[0][i]), int(w[1][i])) for w, i in zip(windows, cell))
        block = x[(slice(None), slice(None)) + region].reshape(x.shape[:2] + (-1,))
        local = numpy.unravel_index(block.argmax(-1), tuple(r.stop - r.start for r in region))
        flat = 0
        for r, pos, n in zip(region, local, spatial):
            flat = flat * n + (pos + r.start)
        out[(slice(None), slice(None)) + cell] = flat
    return out


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):  # noqa: A002
    """Max over (N, C, L) down to a given length with windows of nearly equal size."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):  # noqa: A002
    """Max over (N, C, H, W) down to (N, C, *output_size) with windows of nearly equal size (None keeps a dim)."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):  # noqa: A002
    """Max over (N, C, D, H, W) down to (N, C, *output_size) with windows of nearly equal size (None keeps a dim);
    the indices are flat (d·H·W + h·W + w)."""
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, return_indices)


def _max_unpool(name: str, nd: int, input: Tensor, indices: Tensor, kernel_size, stride, padding, output_size):  # noqa: A002
    kernel = (kernel_size,) * nd if isinstance(kernel_size, int) else tuple(kernel_size)
    stride = kernel if stride is None else ((stride,) * nd if isinstance(stride, int) else tuple(stride))
    padding = (padding,) * nd if isinstance(padding, int) else tuple(padding)
    if not isinstance(input, Tensor) or input.ndim not in (nd + 1, nd + 2):
        raise ShapeError(
            f"{name}: expected a {nd + 2}-D or {nd + 1}-D (unbatched) input, got "
            f"{getattr(input, 'shape', type(input).__name__)}"
        )
    if input.shape != indices.shape:
        raise ShapeError(f"{name}: indices of shape {indices.shape} do not match input of shape {input.shape}")
    spatial_in = input.shape[-nd:]
    if output_size is None:
        size = tuple((n - 1) * s - 2 * p + k for n, s, p, k in zip(spatial_in, stride, padding, kernel))
    else:
        size = tuple(output_size)[-nd:]
    lead = input.shape[:-nd]
    total = int(numpy.prod(size))
    idx = indices.data.reshape(lead + (-1,))
    if idx.size and (idx.min() < 0 or idx.max() >= total):
        raise ShapeError(f"{name}: an index is out of range for the output size {size}")
    # a write, not a sum: overlapping windows (stride < kernel) record one maximum several times, and PyTorch puts
    # it there once; the gradient of each recorded value is the output's gradient at its index, as PyTorch's
    zeros = Tensor._make(array_module(input.data).zeros(lead + (total,), dtype=input.dtype), None)
    flat = ix.Scatter.apply(zeros, input.reshape(*lead, -1), index=idx, axis=len(lead))
    return flat.reshape(*lead, *size)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:  # noqa: A002
    """The inverse of max_pool1d: each value at the position its index records, zeros elsewhere."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:  # noqa: A002
    """The inverse of max_pool2d: each value at the position (h·W + w) its index records, zeros elsewhere."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:  # noqa: A002
    """The inverse of max_pool3d: each value at the position (d·H·W + h·W + w) its index records, zeros elsewhere."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)


def _lp_pool(nd: int, input: Tensor, norm_type, kernel_size, stride, ceil_mode: bool):  # noqa: A002
    """PyTorch's composition: p = ±inf is a max pool of |x| (a min for −inf); otherwise
    y = (sign(a)·relu(|a|) · k)^(1/p) with a = avg_pool(x^p) and k the window size (no padding)."""
    fc._batched(f"lp_pool{nd}d", fc._as_tensor(input), nd, allow_unbatched=True)  # the rank check, naming this op
    max_pool = {1: fc.max_pool1d, 2: fc.max_pool2d, 3: fc.max_pool3d}[nd]
    avg_pool = {1: fc.avg_pool1d, 2: fc.avg_pool2d, 3: fc.avg_pool3d}[nd]
    if norm_type == float("inf"):
        return max_pool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -float("inf"):
        return -max_pool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    out = avg_pool(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    window = math.prod(fc._ints(kernel_size, nd, "kernel_size", f"lp_pool{nd}d", minimum=1))
    return (out.sign() * out.abs().relu() * window).pow(1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:  # noqa: A002
    """Power-average pooling of (N, C, L) or (C, L): (Σ_window x^p)^(1/p), like torch.nn.functional.lp_pool1d."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: Tensor, norm_type, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:  # noqa: A002
    """Power-average pooling of (N, C, H, W) or (C, H, W): (Σ_window x^p)^(1/p) (p = 1: sum pooling; p = ∞: max)."""
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: Tensor, norm_type, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:  # noqa: A002
    """Power-average pooling of (N, C, D, H, W) or (C, D, H, W): (Σ_window x^p)^(1/p)."""
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)
