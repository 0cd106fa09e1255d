"""Attention maps: record what every attention layer of a model attends to, without changing the model's code.

    with capture_attention(model) as attention:
        model(x)
    attention["encoder.layers.0.self_attn"][0]    # (N, heads, L, S) weights of the first forward call

`nn.MultiheadAttention` keeps its weights when its `keep_attn_weights` flag is set; a forward hook collects them
after each call. GPT's `CausalSelfAttention` (which calls scaled_dot_product_attention directly) has no such flag,
so its hook recomputes softmax(q kᵀ/√d + causal mask) from the block's input and its own c_attn weights.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np

from glassnet.autograd import no_grad
from glassnet.nn import functional as F
from glassnet.nn.attention import MultiheadAttention
from glassnet.nn.module import Module
from glassnet.tensor import Tensor

__all__ = ["AttentionMaps", "capture_attention"]


class AttentionMaps(dict):
    """Maps each attention module's dotted name to a list of (N, heads, L, S) weight arrays, one per forward call."""

    def last(self, name: str) -> np.ndarray:
        """The weights of the latest forward call of the named module."""
        if not self.get(name):
            known = ", ".join(repr(k) for k in self) or "none"
            raise KeyError(f"AttentionMaps: no weights recorded for {name!r}; recorded: {known}")
        return self[name][-1]


def _causal_self_attention_class():
    """GPT's attention class, if the models package imports (it is part of glassnet, but keep lens independent)."""
    try:
        from glassnet.models.gpt import CausalSelfAttention
    except ImportError:  # pragma: no cover - models is part of the package
        return None
    return CausalSelfAttention


def _gpt_weights(module: Module, x: Tensor) -> np.ndarray:
    """softmax(q kᵀ / √d + causal mask) per head, recomputed from a CausalSelfAttention's input (b, t, d)."""
    b, t, d = x.shape
    hd = d // module.n_head
    with no_grad():
        qkv = F.linear(x.detach(), module.c_attn.weight, module.c_attn.bias).cpu().numpy()
    q, k = (qkv[..., i * d : (i + 1) * d].reshape(b, t, module.n_head, hd).transpose(0, 2, 1, 3) for i in range(2))
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)
    scores = np.where(np.tril(np.ones((t, t), dtype=bool)), scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    return weights / weights.sum(axis=-1, keepdims=True)


@contextlib.contextmanager
def capture_attention(model: Module) -> Iterator[AttentionMaps]:
    """Record the attention weights (N, heads, L, S) of every MultiheadAttention (and GPT attention) in model.

    Yields an AttentionMaps dict {dotted name: [weights per forward call]}; on exit the hooks are removed and each
    module's keep_attn_weights flag and last_attn_weights are put back as they were.
    """
    if not isinstance(model, Module):
        raise TypeError(f"capture_attention: model must be a glassnet nn.Module, got {type(model).__name__}")
    gpt_attention = _causal_self_attention_class()
    maps = AttentionMaps()
    handles, saved = [], []

    def record_mha(name: str):
        def hook(module, args, output):
            weights = module.last_attn_weights
            if weights is not None:
                array = np.array(weights.cpu().numpy(), copy=True)  # (from a device: one explicit copy)
                maps[name].append(array if array.ndim == 4 else array[None])  # unbatched input: N = 1
        return hook

    def record_gpt(name: str):
        def hook(module, args, output):
            maps[name].append(_gpt_weights(module, args[0]))
        return hook

    for name, module in model.named_modules():
        if isinstance(module, MultiheadAttention):
            saved.append((module, module.keep_attn_weights, module.last_attn_weights))
            module.keep_attn_weights = True
            handles.append(module.register_forward_hook(record_mha(name)))
        elif gpt_attention is not None and isinstance(module, gpt_attention):
            handles.append(module.register_forward_hook(record_gpt(name)))
        else:
            continue
        maps[name] = []
    if not handles:
        raise ValueError(
            f"capture_attention: model {type(model).__name__} has no nn.MultiheadAttention (or GPT attention) layer"
        )
    try:
        yield maps
    finally:
        for handle in handles:
            handle.remove()
        for module, keep, last in saved:
            module.keep_attn_weights = keep
            module.last_attn_weights = last
