"""Padding modes, resizing and one-hot codes, as compositions of indexing and arithmetic (so every gradient comes
from GetItem, Mul and Add): pad(mode="reflect"/"replicate"/"circular") and cropping, interpolate (nearest,
nearest-exact, linear, bilinear, bicubic, trilinear, with align_corners and scale_factor) and one_hot.

Resizing is separable: each spatial dim is resampled in turn, output[..., j, ...] = Σₖ wₖ(j) · x[..., iₖ(j), ...],
with the source positions iₖ and weights wₖ of PyTorch's formulas (nearest: one tap; linear: two; cubic: four).
"""

from __future__ import annotations

import math

import numpy

from glassnet import backend
from glassnet.errors import OpValueError, ShapeError
from glassnet.tensor import Tensor

__all__ = ["one_hot", "interpolate"]  # (pad_indexed is F.pad's helper, reached as _resample.pad_indexed)


def _along(x: Tensor, axis: int, index) -> Tensor:
    return x[(slice(None),) * axis + (index,)]


def pad_indexed(x: Tensor, widths: list, mode: str) -> Tensor:
    """Pad each dim by (before, after) with values read from x itself: "reflect" (mirror without the edge),
    "replicate" (repeat the edge) or "circular" (wrap around)."""
    for axis, (lo, hi) in enumerate(widths):
        if lo == 0 and hi == 0:
            continue
        n = x.shape[axis]
        pos = numpy.arange(-lo, n + hi)
        if mode == "reflect":
            if lo >= n or hi >= n:
                raise ShapeError(f"pad: reflect padding ({lo}, {hi}) must be smaller than dim {axis} of size {n}")
            period = 2 * (n - 1) if n > 1 else 1
            pos = numpy.abs(pos) % period
            pos = numpy.where(pos >= n, period - pos, pos)
        elif mode == "replicate":
            if n == 0:
                raise ShapeError(f"pad: cannot replicate an empty dim {axis}")
            pos = numpy.clip(pos, 0, n - 1)
        else:  # circular
            if lo > n or hi > n:
                raise ShapeError(f"pad: circular padding ({lo}, {hi}) must be at most dim {axis} of size {n}")
            pos = pos % n
        x = _along(x, axis, pos)
    return x


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 codes with a trailing dim of num_classes: out[..., k] = 1 where tensor == k (num_classes −1: max + 1)."""
    if not isinstance(tensor, Tensor) or tensor.dtype.kind not in "iu":
        kind = tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__
        raise TypeError(f"one_hot: expected an integer tensor of class indices, got {kind}")
    values = tensor.data
    if num_classes == -1:
        if values.size == 0:
            raise OpValueError("one_hot: cannot infer num_classes from an empty tensor; pass num_classes")
        num_classes = int(values.max()) + 1
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        raise OpValueError(f"one_hot: class values must be in [0, {num_classes}), got {values.min()}..{values.max()}")
    classes = backend.array_module(values).arange(num_classes)  # where the values are
    return Tensor._make((values[..., None] == classes).astype(numpy.int64), None)


_MODES = {"nearest": 0, "nearest-exact": 0, "linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3, "area": 0}


def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners=None,  # noqa: A002
    recompute_scale_factor=None,
    antialias: bool = False,
) -> Tensor:
    """Resize the spatial dims of (N, C, *spatial) like torch.nn.functional.interpolate."""
    if mode not in _MODES:
        raise OpValueError(
            f"interpolate: mode must be one of nearest, nearest-exact, linear, bilinear, bicubic, "
            f"trilinear, area; got {mode!r}"
        )
    if antialias:
        raise OpValueError("interpolate: antialias=True is not supported")
    nd = input.ndim - 2
    if nd < 1 or nd > 3 or (_MODES[mode] and _MODES[mode] != nd):
        raise ShapeError(
            f"interpolate: mode {mode!r} got input of shape {input.shape}; expected (N, C, ...) with "
            f"{_MODES[mode] or '1 to 3'} spatial dims"
        )
    if (mode.startswith("nearest") or mode == "area") and align_corners is not None:
        raise OpValueError("interpolate: align_corners only applies to linear, bilinear, bicubic and trilinear")
    align = bool(align_corners)
    if (size is None) == (scale_factor is None):
        raise OpValueError("interpolate: give exactly one of size and scale_factor")
    in_sizes = input.shape[2:]
    if size is not None:
        out_sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * nd
        scales = [None] * nd
    else:
        factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * nd
        out_sizes = tuple(int(math.floor(n * f)) for n, f in zip(in_sizes, factors))
        scales = [None] * nd if recompute_scale_factor else list(factors)
    if len(out_sizes) != nd or any(n <= 0 for n in out_sizes):
        raise ShapeError(f"interpolate: output size {out_sizes} does not fit input of shape {input.shape}")
    if mode == "area":  # the mean over each output cell's share of the input: adaptive average pooling, as torch
        from glassnet.nn import _functional_conv as fc

        return getattr(fc, f"adaptive_avg_pool{nd}d")(input, out_sizes)
    x = input
    for d in range(nd):
        x = _resample(x, 2 + d, in_sizes[d], out_sizes[d], scales[d], mode, align)
    return x


def _source(n_in: int, n_out: int, given_scale, align: bool, cubic: bool) -> numpy.ndarray:
    """The (fractional) source coordinate of each output position, as PyTorch's area_pixel_compute_source_index."""
    dst = numpy.arange(n_out, dtype=numpy.float64)
    if align:
        return dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    scale = 1.0 / given_scale if given_scale else n_in / n_out
    src = scale * (dst + 0.5) - 0.5
    return src if cubic else numpy.maximum(src, 0.0)


def _cubic_weights(t: numpy.ndarray) -> list:
    """Keys' cubic convolution weights (A = −0.75, as PyTorch) for taps at −1, 0, 1, 2 around the floor."""
    a = -0.75

    def near(z):  # |z| ≤ 1
        return ((a + 2) * z - (a + 3)) * z * z + 1

    def far(z):  # 1 < |z| < 2
        return ((a * z - 5 * a) * z + 8 * a) * z - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _resample(x: Tensor, axis: int, n_in: int, n_out: int, given_scale, mode: str, align: bool) -> Tensor:
    if mode.startswith("nearest"):
        scale = 1.0 / given_scale if given_scale else n_in / n_out
        dst = numpy.arange(n_out, dtype=numpy.float64)
        pos = numpy.floor((dst + 0.5) * scale) if mode == "nearest-exact" else numpy.floor(dst * scale)
        return _along(x, axis, numpy.minimum(pos.astype(numpy.int64), n_in - 1))
    cubic = mode == "bicubic"
    src = _source(n_in, n_out, given_scale, align, cubic)
    base = numpy.floor(src).astype(numpy.int64)
    t = src - base
    if cubic:
        offsets, weights = (-1, 0, 1, 2), _cubic_weights(t)
    else:
        offsets, weights = (0, 1), [1.0 - t, t]
    view = [1] * x.ndim
    view[axis] = n_out
    out = None
    for off, w in zip(offsets, weights):
        taps = _along(x, axis, numpy.clip(base + off, 0, n_in - 1))
        term = taps * Tensor._make(backend.array_like(w.astype(x.dtype).reshape(view), x.data), None)  # on x's device
        out = term if out is None else out + term
    return out
