"""MultiheadAttention, as in PyTorch (F.scaled_dot_product_attention lives in nn/_functional_attention.py)."""

from __future__ import annotations

from glassnet.nn import functional as F
from glassnet.nn import init
from glassnet.nn._functional_attention import _additive, _causal, _mask_values, scaled_dot_product_attention
from glassnet.nn._layer_utils import check_tensor, empty_parameter, factory_dtype, shape_str
from glassnet.nn.linear import Linear
from glassnet.nn.module import Module
from glassnet.tensor import Tensor

__all__ = ["scaled_dot_product_attention", "MultiheadAttention"]  # (the first re-exported)


class MultiheadAttention(Module):
    """Attention run by num_heads heads in parallel on embed_dim/num_heads slices, then mixed by out_proj.

    Parameters follow PyTorch exactly: in_proj_weight (3E, E) and in_proj_bias (3E,) when kdim == vdim == E, else
    q_proj_weight (E, E), k_proj_weight (E, kdim), v_proj_weight (E, vdim); out_proj is a Linear(E, E). Inputs are
    (L, N, E) (or (N, L, E) with batch_first, or unbatched (L, E)). Masks follow nn.MultiheadAttention: in a boolean
    attn_mask or key_padding_mask, True means "do not attend"; float masks are added to the scores.

    Set `keep_attn_weights = True` to have each forward store the per-head weights (N, H, L, S), detached, in
    `last_attn_weights` so instruments can read attention without changing model code.
    """

    def __init__(
        self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True, add_bias_kv: bool = False,
        add_zero_attn: bool = False, kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
        device=None, dtype=None,
    ) -> None:
        super().__init__()
        dtype = factory_dtype(dtype, device)
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be a positive multiple of num_heads ({num_heads})"
            )
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported yet")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty_parameter(3 * embed_dim, embed_dim, dtype=dtype)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = empty_parameter(embed_dim, embed_dim, dtype=dtype)
            self.k_proj_weight = empty_parameter(embed_dim, self.kdim, dtype=dtype)
            self.v_proj_weight = empty_parameter(embed_dim, self.vdim, dtype=dtype)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = empty_parameter(3 * embed_dim, dtype=dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        self.keep_attn_weights = False
        self.last_attn_weights: Tensor | None = None
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Xavier-uniform projections, zero biases (PyTorch's scheme)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _name(self) -> str:
        return f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"

    def _projections(self):
        """(W_q, W_k, W_v) and (b_q, b_k, b_v) (the biases None when bias=False)."""
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            weights = (w[:e], w[e : 2 * e], w[2 * e :])
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        biases = (None, None, None) if b is None else (b[:e], b[e : 2 * e], b[2 * e :])
        return weights, biases

    def _check_inputs(self, query: Tensor, key: Tensor, value: Tensor) -> bool:
        """Validate shapes; return True when the inputs are batched (3-D)."""
        name = self._name()
        for t in (query, key, value):
            check_tensor(t, name)
        batched = query.ndim == 3
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        shapes = f"query {shape_str(query.shape)}, key {shape_str(key.shape)}, value {shape_str(value.shape)}"
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{name} got {shapes}; expected 3-D {layout} or unbatched 2-D (L, E) inputs")
        if query.shape[-1] != self.embed_dim or key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise ValueError(
                f"{name} got {shapes}; expected last dims (embed_dim={self.embed_dim}, kdim={self.kdim}, "
                f"vdim={self.vdim})"
            )
        batch_dim = 0 if self.batch_first else 1
        if key.shape[:-1] != value.shape[:-1] or (batched and query.shape[batch_dim] != key.shape[batch_dim]):
            raise ValueError(f"{name} got {shapes}; key and value must share (batch, source length) with query's batch")
        return batched

    def _mask(self, mask, kind: str, target: tuple, allowed: list, dtype, device=None) -> Tensor:
        """Reshape a mask to broadcast against (N, H, L, S) and make it additive; refuse shapes that do not fit."""
        shape = tuple(_mask_values(mask).shape)
        for expected, view in allowed:
            if shape == expected:
                return _additive(mask, dtype, take_part=False, device=device).reshape(*view)
        options = " or ".join(shape_str(e) for e, _ in allowed)
        raise ValueError(
            f"{self._name()}: {kind} of shape {shape_str(shape)} cannot broadcast to (batch, heads, query, key) = "
            f"{shape_str(target)}; expected {options}"
        )

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask=None, need_weights: bool = True,
        attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False,
    ):
        """Return (output, weights): output like query; weights (N, L, S) averaged over heads, (N, H, L, S) if not
        average_attn_weights, or None when need_weights=False. is_causal without attn_mask applies a causal mask."""
        batched = self._check_inputs(query, key, value)
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        elif self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        # From here on: (L, N, E) and (S, N, kdim/vdim).
        length, n, _ = query.shape
        source = key.shape[0]
        h, d = self.num_heads, self.head_dim
        (wq, wk, wv), (bq, bk, bv) = self._projections()

        def heads(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
            # (T, N, ·) → project → (T, N, H, d) → (N, H, T, d)
            return F.linear(x, w, b).reshape(x.shape[0], n, h, d).permute(1, 2, 0, 3)

        q, k, v = heads(query, wq, bq), heads(key, wk, bk), heads(value, wv, bv)
        target = (n, h, length, source)
        mask = None
        if attn_mask is not None:
            allowed = [((length, source), (1, 1, length, source)), ((n * h, length, source), (n, h, length, source))]
            if not batched:
                allowed.append(((h, length, source), (1, h, length, source)))
            mask = self._mask(attn_mask, "attn_mask", target, allowed, q.dtype, q.device)
        elif is_causal:
            mask = _causal(length, source, q.dtype, q.device)
        if key_padding_mask is not None:
            expected = (n, source) if batched else (source,)
            padding = self._mask(
                key_padding_mask, "key_padding_mask", target, [(expected, (n, 1, 1, source))], q.dtype, q.device
            )
            mask = padding if mask is None else mask + padding
        p = self.dropout if self.training else 0.0
        # The mask is additive by now (SDPA's boolean convention is the opposite of MultiheadAttention's).
        out, weights = scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, return_weights=True)
        if self.keep_attn_weights:
            self.last_attn_weights = weights.detach()
        out = out.permute(2, 0, 1, 3).reshape(length, n, self.embed_dim)  # (L, N, E): heads side by side
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not batched:
            weights = weights.squeeze(0)
        return out, weights
