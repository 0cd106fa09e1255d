"""F.scaled_dot_product_attention (softmax(QKᵀ/√d + mask) V) and the attention masks, as in PyTorch.

Its own module so that `nn.functional` (which re-exports it) and `nn.attention` (MultiheadAttention, built on it)
both import it from here, and neither imports the other.
"""

from __future__ import annotations

import math

import numpy

from glassnet.errors import OpValueError
from glassnet.nn._functional_layers import dropout
from glassnet.nn._layer_utils import check_tensor, shape_str
from glassnet.tensor import Tensor

__all__ = ["scaled_dot_product_attention"]


def _mask_values(mask):
    """The mask as an array (bool or float, on its device) or, for a float Tensor, the Tensor itself (it may carry
    grad)."""
    if isinstance(mask, Tensor):
        return mask.detach().data if mask.dtype.kind == "b" else mask
    return numpy.asarray(mask)


def _additive(mask, dtype, take_part: bool = True, device=None):
    """A bool mask becomes 0 where attention is allowed and −∞ elsewhere; a float mask is returned as is (cast).

    take_part=True reads True as "attend" (the SDPA convention); False reads True as "masked out" (the
    MultiheadAttention / key_padding_mask convention).
    """
    mask = _mask_values(mask)
    if isinstance(mask, Tensor):
        return mask.to(dtype) if mask.dtype != dtype else mask
    if mask.dtype.kind == "b":
        allowed = mask if take_part else ~mask
        return Tensor(numpy.where(allowed, 0.0, -numpy.inf).astype(dtype), device=device)
    if mask.dtype.kind not in "fiu":
        raise TypeError(f"attention mask must be bool or floating point, got dtype {mask.dtype}")
    return Tensor(mask.astype(dtype), device=device)


def _causal(length: int, source: int, dtype, device=None) -> Tensor:
    """0 on and below the diagonal, −∞ above: query i sees keys 0..i."""
    allowed = numpy.tril(numpy.ones((length, source), dtype=bool))
    return Tensor(numpy.where(allowed, 0.0, -numpy.inf).astype(dtype), device=device)


def _broadcasts(shape: tuple, target: tuple) -> bool:
    """True when an array of `shape` broadcasts to exactly `target`."""
    if len(shape) > len(target):
        return False
    return all(s in (1, t) for s, t in zip(shape[::-1], target[::-1]))


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask=None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    return_weights: bool = False,
    enable_gqa: bool = False,
):
    """softmax(Q Kᵀ · scale + mask) V over (..., L, E), (..., S, E), (..., S, Ev) → (..., L, Ev).

    attn_mask broadcasts to (..., L, S): boolean (True = take part, as in PyTorch) or an additive float mask.
    is_causal lets query i see keys 0..i only (not together with attn_mask, as in PyTorch). scale defaults to
    1/√E. dropout_p > 0 drops attention weights (always, as in PyTorch's functional form). With
    return_weights=True, returns (output, weights) where weights (..., L, S) are the (dropped-out) probabilities.
    enable_gqa=True (grouped-query attention): key and value may have fewer heads (dim −3) than query, each shared
    by a group of query heads.
    """
    name = "scaled_dot_product_attention"
    for t in (query, key, value):
        check_tensor(t, name)
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        heads, kv_heads = query.shape[-3], key.shape[-3]
        if heads % kv_heads or value.shape[-3] != kv_heads:
            raise ValueError(
                f"{name}: with enable_gqa, query's {heads} heads must be a multiple of key's and "
                f"value's heads, got key {shape_str(key.shape)}, value {shape_str(value.shape)}"
            )
        key = key.repeat_interleave(heads // kv_heads, dim=-3)
        value = value.repeat_interleave(heads // kv_heads, dim=-3)
    if is_causal and attn_mask is not None:
        raise OpValueError(f"{name}: pass either attn_mask or is_causal=True, not both (as in PyTorch)")
    if (
        query.ndim < 2
        or key.ndim < 2
        or value.ndim < 2
        or query.shape[-1] != key.shape[-1]
        or key.shape[-2] != value.shape[-2]
    ):
        raise ValueError(
            f"{name} got query {shape_str(query.shape)}, key {shape_str(key.shape)}, value {shape_str(value.shape)}; "
            "expected (..., L, E), (..., S, E), (..., S, Ev)"
        )
    try:
        batch = numpy.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise ValueError(
            f"{name}: batch dims of query {shape_str(query.shape)}, key {shape_str(key.shape)} and value "
            f"{shape_str(value.shape)} cannot be broadcast together"
        ) from None
    length, source = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.transpose(-2, -1)) * scale  # (..., L, S): how well each query matches each key
    if attn_mask is not None:
        target = tuple(batch) + (length, source)
        mask_shape = tuple(_mask_values(attn_mask).shape)
        if not _broadcasts(mask_shape, target):
            raise ValueError(
                f"{name}: attn_mask of shape {shape_str(mask_shape)} cannot broadcast to (..., query, key) = "
                f"{shape_str(target)}"
            )
        scores = scores + _additive(attn_mask, scores.dtype, take_part=True, device=scores.device)
    if is_causal:
        scores = scores + _causal(length, source, scores.dtype, scores.device)
    weights = scores.softmax(-1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, training=True)
    output = weights @ value
    return (output, weights) if return_weights else output
