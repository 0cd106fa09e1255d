"""Transformers (Vaswani et al., 2017) as in PyTorch: encoder/decoder layers and stacks, the full Transformer, and
positional encodings (sinusoidal and learned)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy

from glassnet.nn import functional as F
from glassnet.nn import init
from glassnet.nn._layer_utils import check_tensor, empty_parameter, factory_dtype, shape_str
from glassnet.nn.attention import MultiheadAttention
from glassnet.nn.containers import ModuleList
from glassnet.nn.dropout import Dropout
from glassnet.nn.linear import Linear
from glassnet.nn.module import Module
from glassnet.nn.normalization import LayerNorm
from glassnet.tensor import Tensor

__all__ = [
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerDecoder",
    "Transformer",
    "SinusoidalPositionalEncoding",
    "LearnedPositionalEmbedding",
]


def _activation(activation) -> Callable:
    """'relu' → F.relu, 'gelu' → F.gelu, or the callable (a Module or function) itself."""
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if callable(activation):
        return activation
    raise ValueError(f"activation should be 'relu', 'gelu' or a callable, not {activation!r}")


def _check_width(x: Tensor, d_model: int, name: str, what: str) -> None:
    check_tensor(x, name)
    if x.ndim not in (2, 3) or x.shape[-1] != d_model:
        raise ValueError(
            f"{name} got {what} of shape {shape_str(x.shape)}; expected (S, N, {d_model}), (N, S, {d_model}) "
            f"with batch_first, or unbatched (S, {d_model})"
        )


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each wrapped in a residual connection and LayerNorm.

    Post-norm (default): x = norm1(x + SA(x)); x = norm2(x + FF(x)).
    Pre-norm (norm_first=True): x = x + SA(norm1(x)); x = x + FF(norm2(x)).
    FF(x) = linear2(dropout(activation(linear1(x)))). Parameter names match torch.nn.TransformerEncoderLayer.
    """

    def __init__(
        self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
        activation: str | Callable = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
        norm_first: bool = False, bias: bool = True, device=None, dtype=None,
    ) -> None:
        super().__init__()
        dtype = factory_dtype(dtype, device)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)
        self.d_model = d_model
        self.batch_first = batch_first

    def forward(self, src: Tensor, src_mask=None, src_key_padding_mask=None, is_causal: bool = False) -> Tensor:
        """One encoder block over src (S, N, E) (or (N, S, E) with batch_first); masks as in MultiheadAttention."""
        _check_width(src, self.d_model, f"TransformerEncoderLayer(d_model={self.d_model})", "src")
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Tensor, attn_mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerDecoderLayer(Module):
    """Masked self-attention, cross-attention over the encoder's memory, then feed-forward; each residual + norm.

    Post-norm: x = norm1(x + SA(x)); x = norm2(x + MHA(x, memory)); x = norm3(x + FF(x)); pre-norm moves each
    norm inside its residual branch. Parameter names match torch.nn.TransformerDecoderLayer.
    """

    def __init__(
        self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
        activation: str | Callable = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
        norm_first: bool = False, bias: bool = True, device=None, dtype=None,
    ) -> None:
        super().__init__()
        dtype = factory_dtype(dtype, device)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)
        self.d_model = d_model
        self.batch_first = batch_first

    def forward(
        self, tgt: Tensor, memory: Tensor, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
        memory_key_padding_mask=None, tgt_is_causal: bool = False, memory_is_causal: bool = False,
    ) -> Tensor:
        """One decoder block over tgt (T, N, E) attending to memory (S, N, E) (batch first if batch_first)."""
        name = f"TransformerDecoderLayer(d_model={self.d_model})"
        _check_width(tgt, self.d_model, name, "tgt")
        _check_width(memory, self.d_model, name, "memory")
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Tensor, attn_mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=is_causal)[0]
        return self.dropout2(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


def _clones(module: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


class TransformerEncoder(Module):
    """num_layers deep copies of encoder_layer applied in turn, then the optional final norm."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src: Tensor, mask=None, src_key_padding_mask=None, is_causal: bool | None = None) -> Tensor:
        """Run src through every layer with the same masks."""
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                           is_causal=bool(is_causal))
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoder(Module):
    """num_layers deep copies of decoder_layer applied in turn (each attending to memory), then the optional norm."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self, tgt: Tensor, memory: Tensor, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
        memory_key_padding_mask=None, tgt_is_causal: bool | None = None, memory_is_causal: bool = False,
    ) -> Tensor:
        """Run tgt through every layer against the same memory and masks."""
        output = tgt
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=bool(tgt_is_causal),
                           memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """Encoder–decoder Transformer: memory = encoder(src); output = decoder(tgt, memory). Names match PyTorch's.

    Both stacks end in a LayerNorm; every parameter with more than one dimension starts Xavier-uniform.
    """

    def __init__(
        self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
        dim_feedforward: int = 2048, dropout: float = 0.1, activation: str | Callable = "relu",
        custom_encoder: Module | None = None, custom_decoder: Module | None = None, layer_norm_eps: float = 1e-5,
        batch_first: bool = False, norm_first: bool = False, bias: bool = True, device=None, dtype=None,
    ) -> None:
        super().__init__()
        dtype = factory_dtype(dtype, device)
        common = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                      layer_norm_eps=layer_norm_eps, batch_first=batch_first, norm_first=norm_first, bias=bias,
                      dtype=dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, **common)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, **common)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(
        self, src: Tensor, tgt: Tensor, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
        tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None, memory_is_causal: bool = False,
    ) -> Tensor:
        """Encode src (S, N, E), decode tgt (T, N, E) against it (batch first if batch_first) → (T, N, E)."""
        name = f"Transformer(d_model={self.d_model}, nhead={self.nhead})"
        _check_width(src, self.d_model, name, "src")
        _check_width(tgt, self.d_model, name, "tgt")
        batch_dim = 0 if self.batch_first else 1
        if src.ndim != tgt.ndim or (src.ndim == 3 and src.shape[batch_dim] != tgt.shape[batch_dim]):
            raise ValueError(
                f"{name} got src {shape_str(src.shape)} and tgt {shape_str(tgt.shape)}; the batch sizes must match"
            )
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """(sz, sz) float mask: 0 on and below the diagonal, −∞ above (position i sees positions 0..i)."""
        dtype = factory_dtype(dtype, device)
        return Tensor(numpy.triu(numpy.full((sz, sz), -numpy.inf, dtype=dtype), k=1))


class _PositionalBase(Module):
    def _positions(self, x: Tensor, name: str, offset: int) -> tuple[int, int]:
        check_tensor(x, name)
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        if x.ndim not in (2, 3) or x.shape[-1] != self.d_model:
            raise ValueError(f"{name} got input of shape {shape_str(x.shape)}; expected {layout} or (L, E)")
        length = x.shape[1] if (x.ndim == 3 and self.batch_first) else x.shape[0]
        if offset < 0 or offset + length > self.max_len:
            raise ValueError(
                f"{name} got input of shape {shape_str(x.shape)} at offset {offset}: positions "
                f"{offset}..{offset + length - 1} do not fit max_len={self.max_len}"
            )
        return length, x.ndim

    def _add(self, x: Tensor, table: Tensor) -> Tensor:
        """x + table (L, E), lined up with x's sequence dim."""
        if x.ndim == 3 and not self.batch_first:
            table = table.unsqueeze(1)
        return self.dropout(x + table.to(x.dtype))


class SinusoidalPositionalEncoding(_PositionalBase):
    """x + PE with PE[pos, 2i] = sin(pos / 10000^{2i/d}), PE[pos, 2i+1] = cos(pos / 10000^{2i/d}), then dropout.

    The table (max_len, d_model) is a non-persistent buffer `pe` (recomputed, never saved). Input (L, N, E), or
    (N, L, E) with batch_first, or (L, E); `offset` shifts the positions (for incremental decoding).
    """

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0, batch_first: bool = False,
                 dtype=None) -> None:
        super().__init__()
        dtype = factory_dtype(dtype)
        self.d_model = d_model
        self.max_len = max_len
        self.batch_first = batch_first
        self.dropout = Dropout(dropout)
        position = numpy.arange(max_len, dtype=numpy.float64)[:, None]
        div_term = numpy.exp(numpy.arange(0, d_model, 2, dtype=numpy.float64) * (-math.log(10000.0) / d_model))
        pe = numpy.zeros((max_len, d_model), dtype=numpy.float64)
        pe[:, 0::2] = numpy.sin(position * div_term)
        pe[:, 1::2] = numpy.cos(position * div_term[: d_model // 2])
        self.register_buffer("pe", Tensor(pe.astype(dtype)), persistent=False)

    def forward(self, input: Tensor, offset: int = 0) -> Tensor:
        """x + PE[offset : offset + L]"""
        length, _ = self._positions(input, f"SinusoidalPositionalEncoding(d_model={self.d_model})", offset)
        return self._add(input, self.pe[offset : offset + length])

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"


class LearnedPositionalEmbedding(_PositionalBase):
    """x + weight[offset : offset + L], a learned vector per position (as in BERT and GPT-2), then dropout.

    weight has shape (max_len, d_model) and starts as N(0, 0.02²). Layouts as in SinusoidalPositionalEncoding.
    """

    def __init__(self, max_len: int, d_model: int, dropout: float = 0.0, batch_first: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__()
        dtype = factory_dtype(dtype, device)
        self.d_model = d_model
        self.max_len = max_len
        self.batch_first = batch_first
        self.weight = empty_parameter(max_len, d_model, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight ~ N(0, 0.02²)."""
        init.normal_(self.weight, 0.0, 0.02)

    def forward(self, input: Tensor, offset: int = 0) -> Tensor:
        """x + weight[offset : offset + L]"""
        length, _ = self._positions(input, f"LearnedPositionalEmbedding({self.max_len}, {self.d_model})", offset)
        return self._add(input, self.weight[offset : offset + length])

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.d_model}, batch_first={self.batch_first}"
