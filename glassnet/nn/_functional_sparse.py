"""The functional forms of bags and sequences of ids: `embedding_bag` (a sum, mean or max of looked-up rows per bag)
and `ctc_loss` (connectionist temporal classification, over every alignment of a label sequence)."""

from __future__ import annotations

import numpy

from glassnet import backend
from glassnet.errors import OpValueError, ShapeError
from glassnet.nn._functional_layers import _as_tensor, _check_reduction, _floating, embedding
from glassnet.ops import ctc as _loss_ctc
from glassnet.ops import embedding as _embedding
from glassnet.tensor import Tensor, cat, where

__all__ = ["embedding_bag", "ctc_loss"]


def _host_ints(value, name: str, what: str) -> numpy.ndarray:
    """Integer ids or lengths as a host array (a list, a tuple or an integer tensor)."""
    array = backend.to_host(value.data) if isinstance(value, Tensor) else numpy.asarray(value)
    if array.size and array.dtype.kind not in "iu":
        raise TypeError(f"{name}: {what} must be integers (int64 or int32), got {array.dtype}")
    return array.astype(numpy.int64)


def _bags(name: str, ids: numpy.ndarray, offsets, include_last_offset: bool) -> tuple:
    """(flat ids, the bag of each id, number of bags) from 2-D input or 1-D input with offsets."""
    if ids.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{name}: offsets must be None when input is 2-D (shape {ids.shape}): each row is a bag")
        n_bags, size = ids.shape
        return ids.reshape(-1), numpy.repeat(numpy.arange(n_bags), size), n_bags
    if ids.ndim != 1:
        raise ShapeError(f"{name}: input must be 1-D (with offsets) or 2-D (one bag per row), got shape {ids.shape}")
    if offsets is None:
        raise ValueError(f"{name}: 1-D input of shape {ids.shape} needs offsets (where each bag starts)")
    starts = _host_ints(offsets, name, "offsets")
    if starts.ndim != 1:
        raise ShapeError(f"{name}: offsets must be 1-D, got shape {starts.shape}")
    if include_last_offset:
        if starts.size == 0:
            raise ValueError(f"{name}: include_last_offset=True needs at least one offset")
        starts = starts[:-1]
    n_bags = starts.size
    if n_bags and (starts[0] != 0 or numpy.any(numpy.diff(starts) < 0) or starts[-1] > ids.size):
        raise ValueError(f"{name}: offsets {starts.tolist()} must start at 0, not decrease and stay within the "
                         f"{ids.size} ids of input")
    # bag b holds ids[starts[b] : starts[b + 1]] (the last bag runs to the end; include_last_offset drops the rest)
    ends = numpy.append(starts[1:], ids.size)
    bag = numpy.repeat(numpy.arange(n_bags), ends - starts)
    return ids[: bag.size], bag, n_bags


def embedding_bag(input, weight: Tensor, offsets=None, max_norm: float | None = None, norm_type: float = 2,  # noqa: A002
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """The sum, mean or max of the rows of `weight` picked by each bag of ids, (bags, embedding_dim).

    A composition: the rows are looked up (`embedding`, whose gradient adds into the weight), weighted by
    per_sample_weights (mode "sum" only), and combined per bag: summed by a scatter-add (mean: then divided by the
    bag's size), or laid side by side and reduced by `amax` (max: the gradient goes to the largest entry). Ids equal
    to padding_idx are left out of their bag; an empty bag gives zeros.
    """
    name = "embedding_bag"
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{name}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    weight = _floating(weight, name, "weight")
    if weight.ndim != 2:
        raise ShapeError(f"{name}: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    ids = _host_ints(input, name, "input")
    flat, bag, n_bags = _bags(name, ids, offsets, include_last_offset)
    keep = numpy.ones(flat.size, dtype=bool)
    if padding_idx is not None:
        rows = weight.shape[0]
        if not -rows <= padding_idx < rows:
            raise ValueError(f"{name}: padding_idx={padding_idx} must be within num_embeddings={rows}")
        keep = flat != padding_idx % rows
    dim = weight.shape[1]
    vectors = embedding(Tensor(flat[keep]).to(weight.device), weight, max_norm=max_norm, norm_type=norm_type,
                        scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)
    if per_sample_weights is not None:
        if mode != "sum":
            raise ValueError(f"{name}: per_sample_weights is only supported for mode='sum' (got mode={mode!r})")
        psw = _as_tensor(per_sample_weights, name, "per_sample_weights")
        if tuple(psw.shape) != ids.shape:
            raise ShapeError(f"{name}: per_sample_weights of shape {psw.shape} must have input's shape {ids.shape}")
        psw = psw.reshape(-1)[: flat.size][Tensor(numpy.flatnonzero(keep)).to(weight.device)]
        vectors = vectors * psw.to(weight.dtype).unsqueeze(-1)
    kept_bag = bag[keep]
    counts = numpy.bincount(kept_bag, minlength=n_bags)
    if mode == "max":
        # the bags side by side, (bags, longest bag, dim), shorter bags filled with a row of −∞; then amax per bag
        starts = numpy.cumsum(counts) - counts
        slots = numpy.full((n_bags, max(int(counts.max(initial=0)), 1)), kept_bag.size)  # → the −∞ row
        slots[kept_bag, numpy.arange(kept_bag.size) - starts[kept_bag]] = numpy.arange(kept_bag.size)
        table = cat([vectors, Tensor(numpy.full((1, dim), -numpy.inf, weight.dtype)).to(weight.device)])
        largest = table[Tensor(slots).to(weight.device)].amax(1)
        return where(Tensor(counts[:, None] > 0).to(weight.device), largest, 0.0)  # an empty bag gives zeros
    # Σ of each bag's vectors: the scatter-add that is an embedding's gradient (ops/embedding.py), run forward
    total = _embedding.EmbeddingGrad.apply(vectors, index=backend.array_like(kept_bag, weight.data), rows=n_bags)
    if mode == "mean":
        total = total / Tensor(numpy.maximum(counts, 1).astype(weight.dtype)[:, None]).to(weight.device)
    return total


def ctc_loss(log_probs: Tensor, targets, input_lengths, target_lengths, blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False) -> Tensor:
    """The CTC loss: −log of the probability of each target sequence summed over all its alignments to the frames.

    log_probs (T, N, C) (or (T, C) for one sample) from log_softmax; targets padded (N, S) or concatenated (Σ
    target_lengths,); input_lengths, target_lengths (N,). reduction "mean" divides each loss by its target length
    and averages over the batch (as PyTorch). The recursions and the gradient: `glassnet/ops/ctc.py`.
    """
    name = "ctc_loss"
    _check_reduction(name, reduction)
    lp = _floating(log_probs, name, "log_probs")
    unbatched = lp.ndim == 2
    if unbatched:
        lp = lp.unsqueeze(1)
    if lp.ndim != 3:
        raise ShapeError(f"{name}: log_probs must be (T, N, C) or (T, C), got shape {tuple(log_probs.shape)}")
    frames, batch, classes = lp.shape
    if not 0 <= blank < classes:
        raise OpValueError(f"{name}: blank={blank} must be a class index in [0, {classes})")
    in_len = _host_ints(input_lengths, name, "input_lengths").reshape(-1)
    tg_len = _host_ints(target_lengths, name, "target_lengths").reshape(-1)
    labels = _host_ints(targets, name, "targets")
    if unbatched and labels.ndim == 1:
        labels = labels.reshape(1, -1)
    for what, lengths in (("input_lengths", in_len), ("target_lengths", tg_len)):
        if lengths.shape != (batch,):
            raise ShapeError(f"{name}: {what} must hold one length per sample ({batch}), got shape {lengths.shape}")
    if numpy.any(in_len < 1) or numpy.any(in_len > frames):
        raise OpValueError(f"{name}: input_lengths {in_len.tolist()} must be in [1, {frames}] (log_probs of shape "
                           f"{tuple(log_probs.shape)})")
    if numpy.any(tg_len < 0):
        raise OpValueError(f"{name}: target_lengths {tg_len.tolist()} must not be negative")
    if labels.ndim == 1:  # concatenated: sample n's labels follow sample n − 1's
        if labels.size != tg_len.sum():
            raise ShapeError(f"{name}: concatenated targets hold {labels.size} labels but target_lengths "
                             f"{tg_len.tolist()} add up to {tg_len.sum()}")
        padded = numpy.full((batch, int(tg_len.max(initial=0))), blank, dtype=numpy.int64)
        starts = numpy.concatenate([[0], numpy.cumsum(tg_len)[:-1]])
        for n, (s, k) in enumerate(zip(starts, tg_len)):
            padded[n, :k] = labels[s: s + k]
        labels = padded
    elif labels.ndim == 2:
        if labels.shape[0] != batch or numpy.any(tg_len > labels.shape[1]):
            raise ShapeError(f"{name}: padded targets of shape {labels.shape} do not fit {batch} samples with "
                             f"target_lengths {tg_len.tolist()}")
        labels = numpy.where(numpy.arange(labels.shape[1])[None, :] < tg_len[:, None], labels, blank)
    else:
        raise ShapeError(f"{name}: targets must be 1-D (concatenated) or 2-D (padded), got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise OpValueError(f"{name}: target labels must be in [0, {classes}), got values in "
                           f"[{labels.min()}, {labels.max()}]")
    on = lp.data
    losses = _loss_ctc.CtcLoss.apply(
        lp, targets=backend.array_like(labels, on), input_lengths=backend.array_like(in_len, on),
        target_lengths=backend.array_like(tg_len, on), blank=int(blank), zero_infinity=bool(zero_infinity))
    if reduction == "none":
        return losses[0] if unbatched else losses
    if reduction == "sum":
        return losses.sum()
    divisor = Tensor(numpy.maximum(tg_len, 1).astype(lp.dtype)).to(lp.device)
    return (losses / divisor).mean()
