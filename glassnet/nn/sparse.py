"""Embedding: a lookup table from integer ids to learned vectors."""

from __future__ import annotations

import numpy

from glassnet import backend
from glassnet.nn import functional as F
from glassnet.nn import init
from glassnet.nn._layer_utils import check_tensor, empty_parameter, factory_dtype, shape_str
from glassnet.nn.module import Module
from glassnet.nn.parameter import Parameter
from glassnet.tensor import Tensor

__all__ = ["Embedding", "EmbeddingBag"]


class Embedding(Module):
    """Row i of weight (num_embeddings, embedding_dim) is the vector for id i; weight starts as N(0, 1).

    The row at padding_idx starts at zero and receives no gradient, so it stays a "nothing here" vector.
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, max_norm: float | None = None,
        norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False, _weight=None,
        _freeze: bool = False, device=None, dtype=None,
    ) -> None:
        super().__init__()
        dtype = factory_dtype(dtype, device)
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding({num_embeddings}, {embedding_dim}): padding_idx {padding_idx} must be within "
                    f"[{-num_embeddings}, {num_embeddings})"
                )
            padding_idx = padding_idx % num_embeddings
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = empty_parameter(num_embeddings, embedding_dim, dtype=dtype)
            self.reset_parameters()
        else:
            values = _weight.data if isinstance(_weight, Tensor) else numpy.asarray(_weight)
            if tuple(values.shape) != (num_embeddings, embedding_dim):
                raise ValueError(
                    f"Embedding: _weight of shape {shape_str(values.shape)} does not match "
                    f"({num_embeddings}, {embedding_dim})"
                )
            self.weight = Parameter(values, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """weight ~ N(0, 1), with the padding row set to zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(
        cls, embeddings, freeze: bool = True, padding_idx: int | None = None, max_norm: float | None = None,
        norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False,
    ) -> Embedding:
        """An Embedding whose weight is `embeddings` (2-D), frozen unless freeze=False."""
        values = embeddings.data if isinstance(embeddings, Tensor) else numpy.asarray(embeddings)
        if values.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {shape_str(values.shape)}")
        return cls(
            values.shape[0], values.shape[1], padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
            scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=values, _freeze=freeze,
            dtype=values.dtype if values.dtype.kind == "f" else None,
        )

    def forward(self, input: Tensor) -> Tensor:
        """weight[input]: each id becomes its row, (*) → (*, embedding_dim)"""
        name = f"Embedding({self.num_embeddings}, {self.embedding_dim})"
        check_tensor(input, name)
        if input.dtype.kind not in "iu":
            raise TypeError(f"{name} expects integer ids (int64), got a tensor of dtype {input.dtype}; use .long()")
        if input.numel() and backend.on_host(input.data):  # (on a device the check would read back every step)
            lo, hi = int(input.data.min()), int(input.data.max())
            if lo < 0 or hi >= self.num_embeddings:
                bad = lo if lo < 0 else hi
                raise IndexError(
                    f"{name} got id {bad} in input of shape {shape_str(input.shape)}; ids must be in "
                    f"[0, {self.num_embeddings})"
                )
        options = {}
        if self.max_norm is not None:
            options.update(max_norm=self.max_norm, norm_type=self.norm_type)
        if self.scale_grad_by_freq:
            options["scale_grad_by_freq"] = True
        return F.embedding(input, self.weight, self.padding_idx, **options)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        if self.sparse:
            s += ", sparse=True"
        return s


class EmbeddingBag(Module):
    """The sum, mean or max of the embeddings of each bag of ids (F.embedding_bag), without building the
    (bag, ids, embedding_dim) tensor in between: a bag is a row of 2-D input, or a stretch of 1-D input between offsets.
    weight (num_embeddings, embedding_dim) starts as N(0, 1), its padding row at zero."""

    def __init__(
        self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None, norm_type: float = 2.0,
        scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False, _weight=None,
        include_last_offset: bool = False, padding_idx: int | None = None, device=None, dtype=None,
    ) -> None:
        super().__init__()
        name = f"EmbeddingBag({num_embeddings}, {embedding_dim})"
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"{name}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"{name}: padding_idx {padding_idx} must be within [{-num_embeddings}, "
                                 f"{num_embeddings})")
            padding_idx = padding_idx % num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, scale_grad_by_freq
        self.mode, self.sparse, self.padding_idx = mode, sparse, padding_idx
        self.include_last_offset = include_last_offset
        if _weight is None:
            self.weight = empty_parameter(num_embeddings, embedding_dim, dtype=factory_dtype(dtype, device))
            self.reset_parameters()
        else:
            values = _weight.data if isinstance(_weight, Tensor) else numpy.asarray(_weight)
            if tuple(values.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"{name}: _weight of shape {shape_str(values.shape)} does not match "
                                 f"({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(values)

    def reset_parameters(self) -> None:
        """weight ~ N(0, 1), with the padding row set to zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                        include_last_offset: bool = False, padding_idx: int | None = None) -> EmbeddingBag:
        """An EmbeddingBag whose weight is `embeddings` (2-D), frozen unless freeze=False."""
        values = embeddings.data if isinstance(embeddings, Tensor) else numpy.asarray(embeddings)
        if values.ndim != 2:
            raise ValueError(
                f"EmbeddingBag.from_pretrained: embeddings must be 2-D, got shape {shape_str(values.shape)}")
        bag = cls(values.shape[0], values.shape[1], max_norm, norm_type, scale_grad_by_freq, mode, sparse, values,
                  include_last_offset, padding_idx)
        bag.weight.requires_grad = not freeze
        return bag

    def forward(self, input: Tensor, offsets=None, per_sample_weights=None) -> Tensor:
        """(bags, embedding_dim): one combined vector per bag."""
        check_tensor(input, f"EmbeddingBag({self.num_embeddings}, {self.embedding_dim})")
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                               self.mode, self.sparse, per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}, mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.include_last_offset:
            s += ", include_last_offset=True"
        return s
