"""Functional normalization, dropout, embedding and losses (`F.batch_norm`, `F.dropout`, `F.cross_entropy`, …).

Each function checks its arguments and, when they are wrong, says so in the terms of the call (the
function, the shapes, the offending value); then it calls one fused op from `glassnet.ops` or, for the
simple losses, a few Tensor operations. Signatures and results follow `torch.nn.functional`.
"""

from __future__ import annotations

import numbers
import warnings

import numpy

from glassnet import backend
from glassnet.autograd import no_grad
from glassnet.errors import OpIndexError, ShapeError
from glassnet.ops import dropout as _dropout
from glassnet.ops import embedding as _embedding
from glassnet.ops import loss as _loss
from glassnet.ops import normalization as _norm
from glassnet.random import Generator
from glassnet.tensor import Tensor, where

_mse = _loss.MeanSquaredError.apply

__all__ = [
    "batch_norm",
    "layer_norm",
    "group_norm",
    "dropout",
    "dropout1d",
    "dropout2d",
    "embedding",
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "cosine_similarity",
]

_REDUCTIONS = ("none", "mean", "sum")


# ----- argument checks ------------------------------------------------------------------------------------
def _as_tensor(value, name: str, what: str) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (numpy.ndarray, list, tuple, numbers.Number)):
        return Tensor(value)
    raise TypeError(f"{name}: {what} must be a Tensor, got {type(value).__name__}")


def _floating(value, name: str, what: str = "input") -> Tensor:
    x = _as_tensor(value, name, what)
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: {what} must be floating point, got {x.dtype} (convert with .float())")
    return x


def _array(value):
    return value.data if isinstance(value, Tensor) else numpy.asarray(value)


def _affine_param(value, name: str, what: str, x: Tensor, shape: tuple):
    """A weight or bias: None, or a tensor of `shape` and of x's dtype (a Tensor stays on the graph)."""
    if value is None:
        return None
    if not isinstance(value, Tensor):
        value = Tensor(numpy.asarray(value, dtype=x.dtype), device=x.device)
    if tuple(value.shape) != tuple(shape):
        raise ShapeError(f"{name}: {what} of shape {tuple(value.shape)} does not match; expected shape {tuple(shape)} "
                         f"for input of shape {x.shape}")
    if value.dtype != x.dtype:
        raise TypeError(f"{name}: {what} is {value.dtype} but the input is {x.dtype}; convert one of them")
    return value


def _check_reduction(name: str, reduction: str, allowed: tuple = _REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{name}: reduction must be one of {', '.join(map(repr, allowed))}, got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _pair(name: str, input, target, same_shape: bool = False, floating_target: bool = False):
    """(input, target) for an elementwise loss: shapes that match (or broadcast, with PyTorch's warning), and a
    target of the input's dtype."""
    x = _floating(input, name)
    t = _as_tensor(target, name, "target")
    if floating_target and t.dtype.kind != "f":
        raise TypeError(f"{name}: target must be floating point like the input ({x.dtype}), got {t.dtype} "
                        "(convert with .float())")
    if t.shape != x.shape:
        if same_shape:
            raise ShapeError(f"{name}: target of shape {t.shape} must have the same shape as input of shape {x.shape}")
        try:
            numpy.broadcast_shapes(x.shape, t.shape)
        except ValueError:
            raise ShapeError(f"{name}: input of shape {x.shape} and target of shape {t.shape} cannot be broadcast "
                             "together; expected the same shape") from None
        warnings.warn(f"{name}: using a target of shape {t.shape} that differs from the input's shape {x.shape}; "
                      "they will be broadcast, which is likely not intended", UserWarning, stacklevel=3)
    if t.dtype != x.dtype:
        t = t.to(x.dtype)
    return x, t


def _check_probability(name: str, p) -> float:
    if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


# ----- normalization --------------------------------------------------------------------------------------
def batch_norm(input: Tensor, running_mean, running_var, weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel of (N, C) / (N, C, L) / (N, C, H, W) input by batch statistics (training,
    updating the running buffers in place) or by the running statistics (evaluation)."""
    name = "batch_norm"
    x = _floating(input, name)
    if x.ndim < 2:
        raise ValueError(f"{name}: expected input of shape (N, C) or (N, C, *), got shape {x.shape}")
    channels = x.shape[1]
    buffers = []
    for what, buf in (("running_mean", running_mean), ("running_var", running_var)):
        if buf is not None:
            buf = buf.data if isinstance(buf, Tensor) else buf
            if not backend.is_array(buf) or buf.shape != (channels,):
                shape = getattr(buf, "shape", type(buf).__name__)
                raise ValueError(f"{name}: {what} must be an array or Tensor of shape ({channels},) for input of "
                                 f"shape {x.shape}, got {shape}")
        buffers.append(buf)
    if training:
        if x.data.size // max(channels, 1) <= 1:
            raise ValueError(f"{name}: expected more than 1 value per channel when training, got input of shape "
                             f"{x.shape}")
    elif buffers[0] is None or buffers[1] is None:
        raise ValueError(f"{name}: running_mean and running_var must be given in evaluation mode (training=False)")
    w = _affine_param(weight, name, "weight", x, (channels,))
    b = _affine_param(bias, name, "bias", x, (channels,))
    return _norm.BatchNorm.apply(x, w, b, running_mean=buffers[0], running_var=buffers[1], training=bool(training),
                                 momentum=float(momentum), eps=float(eps))


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise each sample over its trailing `normalized_shape` dims, then scale by weight and shift by bias."""
    name = "layer_norm"
    x = _floating(input, name)
    shape = (int(normalized_shape),) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or k > x.ndim or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(f"{name}: normalized_shape={shape} does not match input of shape {x.shape}; "
                         f"expected input of shape (*, {', '.join(map(str, shape))})")
    w = _affine_param(weight, name, "weight", x, shape)
    b = _affine_param(bias, name, "bias", x, shape)
    return _norm.LayerNorm.apply(x, w, b, ndim=k, eps=float(eps))


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise each group of channels of each sample of (N, C, *) input, then scale and shift per channel."""
    name = "group_norm"
    x = _floating(input, name)
    if x.ndim < 2:
        raise ValueError(f"{name}: expected input of shape (N, C, *), got shape {x.shape}")
    channels = x.shape[1]
    if not isinstance(num_groups, numbers.Integral) or num_groups <= 0 or channels % num_groups:
        raise ValueError(f"{name}: the {channels} channels of input of shape {x.shape} cannot be split into "
                         f"num_groups={num_groups} equal groups")
    w = _affine_param(weight, name, "weight", x, (channels,))
    b = _affine_param(bias, name, "bias", x, (channels,))
    return _norm.GroupNorm.apply(x, w, b, num_groups=int(num_groups), eps=float(eps))


# ----- dropout --------------------------------------------------------------------------------------------
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False,
            generator: Generator | None = None) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1 − p) (identity when not training).

    `inplace` is accepted for PyTorch compatibility; the result is always a new tensor.
    """
    p = _check_probability("dropout", p)
    x = _floating(input, "dropout")
    if not training or p == 0:
        return x
    return _dropout.Dropout.apply(x, p=p, generator=generator)


def _channel_dropout(name: str, x: Tensor, p: float, generator) -> Tensor:
    if x.ndim < 2:
        raise ValueError(f"{name}: expected input with a channel dimension, got shape {x.shape}")
    return _dropout.Dropout.apply(x, p=p, generator=generator, mask_shape=x.shape[:2] + (1,) * (x.ndim - 2))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False,
              generator: Generator | None = None) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input with probability p; scale the rest by 1/(1 − p)."""
    name = "dropout1d"
    p = _check_probability(name, p)
    x = _floating(input, name)
    if x.ndim not in (2, 3):
        raise ValueError(f"{name}: expected input of shape (N, C, L) or (C, L), got shape {x.shape}")
    if not training or p == 0:
        return x
    if x.ndim == 2:
        return _channel_dropout(name, x.unsqueeze(0), p, generator).squeeze(0)
    return _channel_dropout(name, x, p, generator)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False,
              generator: Generator | None = None) -> Tensor:
    """Zero whole channels of (N, C, H, W) input with probability p; scale the rest by 1/(1 − p).

    As in PyTorch, 3-D input is taken as (N, C, L) (with a warning: use dropout1d for that).
    """
    name = "dropout2d"
    p = _check_probability(name, p)
    x = _floating(input, name)
    if x.ndim == 3:
        warnings.warn("dropout2d: received a 3-D input and treats it as (N, C, L), dropping whole channels "
                      "(as PyTorch does for now); use dropout1d for that", UserWarning, stacklevel=2)
    elif x.ndim != 4:
        raise ValueError(f"{name}: expected input of shape (N, C, H, W), got shape {x.shape}")
    if not training or p == 0:
        return x
    return _channel_dropout(name, x, p, generator)


# ----- embedding ------------------------------------------------------------------------------------------
def embedding(input, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of `weight` (num_embeddings, embedding_dim) by the integer indices in `input`."""
    name = "embedding"
    index = _array(input)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be an integer tensor (int64 or int32), got {index.dtype}")
    if not isinstance(weight, Tensor):
        weight = Tensor(numpy.asarray(weight))
    if weight.ndim != 2:
        raise ValueError(f"{name}: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    if sparse:
        raise NotImplementedError(f"{name}: sparse gradients are not supported; use sparse=False")
    rows = weight.shape[0]
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise ValueError(f"{name}: padding_idx={padding_idx} must be within num_embeddings={rows}")
        padding_idx = int(padding_idx) % rows
    if index.size and backend.on_host(index):  # (on a device, reading the values back would cost a transfer)
        lo, hi = int(index.min()), int(index.max())
        if lo < 0 or hi >= rows:
            bad = hi if hi >= rows else lo
            raise IndexError(f"{name}: index {bad} is out of range for a weight of {rows} rows "
                             f"(expected 0 <= index < {rows}; indices of shape {index.shape})")
    index = backend.array_like(index, weight.data, backend.int64)
    if max_norm is not None:
        _renorm_rows(weight, index, float(max_norm), float(norm_type))
    scale = None
    if scale_grad_by_freq:
        counts = numpy.bincount(index.reshape(-1), minlength=rows)
        scale = (1.0 / counts[index]).astype(weight.dtype)
    return _embedding.Embedding.apply(weight, index=index, padding_idx=padding_idx, scale=scale)


def _renorm_rows(weight: Tensor, index, max_norm: float, norm_type: float) -> None:
    """Rescale, in place and outside the graph, the looked-up rows whose norm exceeds max_norm (as PyTorch)."""
    with no_grad():
        rows = numpy.unique(index)
        w = weight.data
        norms = numpy.linalg.norm(w[rows], ord=norm_type, axis=1)
        big = norms > max_norm
        w[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(w.dtype)


# ----- classification losses -------------------------------------------------------------------------------
def _class_weight(name: str, weight, x: Tensor, classes: int):
    if weight is None:
        return None
    w = _array(weight)
    if w.shape != (classes,):
        raise ValueError(f"{name}: weight must hold one value per class, shape ({classes},), got shape {w.shape} "
                         f"(input of shape {x.shape})")
    return backend.array_like(w, x.data, x.dtype)


def _class_indices(name: str, x: Tensor, t: Tensor, classes: int, ignore_index: int):
    """The integer targets as an int64 array of shape (N, *), checked against the input of shape (N, C, *)."""
    expected = () if x.ndim == 1 else (x.shape[0],) + tuple(x.shape[2:])
    also = f" or class probabilities of shape {x.shape}" if name == "cross_entropy" else ""
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices (int64), got {t.dtype}; expected class "
                        f"indices of shape {expected}{also}")
    if t.shape != expected:
        raise ShapeError(f"{name}: target of shape {t.shape} does not match input of shape {x.shape}; expected "
                         f"class indices of shape {expected}{also}")
    target = backend.array_like(t.data, x.data)
    # The values are checked on the host only: on a device the check would read them back on every step.
    bad = (target != ignore_index) & ((target < 0) | (target >= classes)) if backend.on_host(target) else None
    if bad is not None and bad.any():
        raise OpIndexError(f"{name}: target {int(target[bad].flat[0])} is out of range for {classes} classes (input of "
                         f"shape {x.shape}); expected 0 <= target < {classes} or ignore_index={ignore_index}")
    return target.astype(backend.int64, copy=False).reshape(expected or (1,))


def _class_setup(name: str, input, target, weight):
    x = _floating(input, name)
    if x.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension: (C,), (N, C) or (N, C, d1, ...); "
                         "got a 0-d tensor")
    t = _as_tensor(target, name, "target")
    classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    return x, t, classes, _class_weight(name, weight, x, classes)


def cross_entropy(input: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits (N, C, *) against class indices (N, *) or class probabilities (N, C, *)."""
    name = "cross_entropy"
    _check_reduction(name, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    x, t, classes, w = _class_setup(name, input, target, weight)
    if t.shape == x.shape:
        if t.dtype.kind != "f":
            raise TypeError(f"{name}: a target of the input's shape {x.shape} holds class probabilities and must be "
                            f"floating point, got {t.dtype}; class indices have shape {x.shape[:1] + x.shape[2:]}")
        return _cross_entropy_probabilities(x, t if t.dtype == x.dtype else t.to(x.dtype), w, reduction,
                                            float(label_smoothing), classes)
    index = _class_indices(name, x, t, classes, ignore_index)
    logits = x.reshape(1, classes) if x.ndim == 1 else x
    out = _loss.CrossEntropy.apply(logits, target=index, weight=w, ignore_index=ignore_index, reduction=reduction,
                                   label_smoothing=float(label_smoothing))
    return out.reshape(()) if x.ndim == 1 and reduction == "none" else out


def _cross_entropy_probabilities(x: Tensor, t: Tensor, w, reduction: str, smoothing: float, classes: int) -> Tensor:
    """−Σ_c w_c·t_c·log softmax(x)_c per position; 'mean' divides by the number of positions (as PyTorch)."""
    dim = 0 if x.ndim == 1 else 1
    if smoothing > 0:
        t = t * (1.0 - smoothing) + smoothing / classes
    terms = x.log_softmax(dim) * t
    if w is not None:
        terms = terms * w.reshape((classes,) + (1,) * (x.ndim - 1 - dim))
    loss = -terms.sum(dim)
    if reduction == "mean":
        return loss.sum() / (x.data.size // classes) if x.data.size else loss.sum() * float("nan")
    return _reduce(loss, reduction)


def nll_loss(input: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities (N, C, *) at the class indices (N, *)."""
    name = "nll_loss"
    _check_reduction(name, reduction)
    x, t, classes, w = _class_setup(name, input, target, weight)
    index = _class_indices(name, x, t, classes, ignore_index)
    logp = x.reshape(1, classes) if x.ndim == 1 else x
    out = _loss.NllLoss.apply(logp, target=index, weight=w, ignore_index=ignore_index, reduction=reduction)
    return out.reshape(()) if x.ndim == 1 and reduction == "none" else out


def binary_cross_entropy(input: Tensor, target: Tensor, weight=None, reduction: str = "mean") -> Tensor:
    """−(t·log x + (1 − t)·log(1 − x)) for probabilities x in [0, 1] (each log clamped at −100)."""
    name = "binary_cross_entropy"
    _check_reduction(name, reduction)
    x, t = _pair(name, input, target, same_shape=True, floating_target=True)
    if x.data.size and backend.on_host(x.data):  # (on a device the check would read back every step)
        lo, hi = float(x.data.min()), float(x.data.max())
        if not (0.0 <= lo and hi <= 1.0):  # also catches NaN
            raise ValueError(f"{name}: input values must be probabilities in [0, 1], got values in [{lo:g}, {hi:g}]; "
                             "for logits use binary_cross_entropy_with_logits")
    loss = _loss.BinaryCrossEntropy.apply(x, t)
    if weight is not None:
        loss = loss * _weight_like(name, "weight", weight, x)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Binary cross-entropy of sigmoid(x), computed stably from the logits x:
    ℓ = (1 − t)·x − (1 + (pos_weight − 1)·t)·log σ(x)."""
    name = "binary_cross_entropy_with_logits"
    _check_reduction(name, reduction)
    x, t = _pair(name, input, target, same_shape=True, floating_target=True)
    pw = None if pos_weight is None else _weight_like(name, "pos_weight", pos_weight, x).data
    loss = _loss.BinaryCrossEntropyWithLogits.apply(x, t, pos_weight=pw)
    if weight is not None:
        loss = loss * _weight_like(name, "weight", weight, x)
    return _reduce(loss, reduction)


def _weight_like(name: str, what: str, weight, x: Tensor) -> Tensor:
    """A weight broadcastable to x, in x's dtype (a constant: PyTorch gives these no gradient)."""
    w = _array(weight)
    try:
        if numpy.broadcast_shapes(w.shape, x.shape) != x.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"{name}: {what} of shape {w.shape} cannot be broadcast to input of shape {x.shape}") from None
    return Tensor(backend.array_like(w, x.data, x.dtype))


# ----- regression and distribution losses -------------------------------------------------------------------
def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error (x − t)²."""
    if isinstance(input, Tensor) and isinstance(target, Tensor) and reduction in ("mean", "sum"):
        x, t = input.data, target.data  # the common case, checked on the arrays (the hot path of every step)
        if x.shape == t.shape and x.dtype is t.dtype and x.dtype.kind == "f":
            return _mse(input, target, reduction == "mean")  # fused: one node (mean passed by position: cheaper)
    _check_reduction("mse_loss", reduction)
    x, t = _pair("mse_loss", input, target)
    if reduction != "none" and x.shape == t.shape and x.dtype == t.dtype and x.dtype.kind == "f":
        return _loss.MeanSquaredError.apply(x, t, mean=reduction == "mean")  # fused: one node
    diff = x - t
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error |x − t|."""
    _check_reduction("l1_loss", reduction)
    x, t = _pair("l1_loss", input, target)
    return _reduce((x - t).abs(), reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """½d²/β where |d| < β, else |d| − ½β  (d = x − t): quadratic near zero, linear beyond β."""
    name = "smooth_l1_loss"
    _check_reduction(name, reduction)
    if beta < 0:
        raise ValueError(f"{name}: beta must be non-negative, got {beta}")
    x, t = _pair(name, input, target)
    diff = x - t
    if beta == 0:
        return _reduce(diff.abs(), reduction)
    size = diff.abs()
    return _reduce(where((size < beta).data, diff * diff * (0.5 / beta), size - 0.5 * beta), reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """½d² where |d| < δ, else δ(|d| − ½δ)  (d = x − t): smooth_l1_loss scaled by δ."""
    name = "huber_loss"
    _check_reduction(name, reduction)
    if delta <= 0:
        raise ValueError(f"{name}: delta must be positive, got {delta}")
    x, t = _pair(name, input, target)
    diff = x - t
    size = diff.abs()
    return _reduce(where((size < delta).data, diff * diff * 0.5, (size - 0.5 * delta) * delta), reduction)


def kl_div(input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL(target ‖ exp(input)) pointwise: t·(log t − x) for log-probabilities x; 'batchmean' divides the sum by N."""
    name = "kl_div"
    _check_reduction(name, reduction, _REDUCTIONS + ("batchmean",))
    x, t = _pair(name, input, target)
    if log_target:
        loss = t.exp() * (t - x)
    else:
        positive = (t > 0).data
        loss = t * where(positive, t, 1.0).log() - t * x  # t·log t, taken as 0 where t = 0
    if reduction == "batchmean":
        return loss.sum() / x.shape[0] if x.ndim else loss.sum()
    return _reduce(loss, reduction)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """x1·x2 / (max(‖x1‖, ε)·max(‖x2‖, ε)) along `dim` (the inputs broadcast together first)."""
    name = "cosine_similarity"
    a, b = _floating(x1, name, "x1"), _floating(x2, name, "x2")
    try:
        shape = numpy.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{name}: x1 of shape {a.shape} and x2 of shape {b.shape} cannot be broadcast "
                         "together") from None
    if not -max(len(shape), 1) <= dim < max(len(shape), 1):
        raise IndexError(f"{name}: dim {dim} is out of range for inputs of shape {shape}")
    if a.dtype != b.dtype:
        dtype = numpy.promote_types(a.dtype, b.dtype)
        a, b = a.to(dtype), b.to(dtype)
    if a.shape != shape:
        a = a.expand(shape)
    if b.shape != shape:
        b = b.expand(shape)
    floor = float(eps) ** 2  # max(‖x‖, ε) = √max(‖x‖², ε²): no infinite slope of √ at a zero vector
    norm_a = (a * a).sum(dim, keepdim=True).clamp(min=floor).sqrt()
    norm_b = (b * b).sum(dim, keepdim=True).clamp(min=floor).sqrt()
    return ((a / norm_a) * (b / norm_b)).sum(dim)
