"""Dropout layers: Dropout (elements) and Dropout2d (whole channels); active only in training mode."""

from __future__ import annotations

from glassnet.nn import functional as F
from glassnet.nn._layer_utils import check_tensor, shape_str
from glassnet.nn.module import Module
from glassnet.tensor import Tensor

__all__ = ["Dropout", "Dropout2d"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """In training, zero each element with probability p and scale the rest by 1/(1 − p); identity in eval."""

    def forward(self, input: Tensor) -> Tensor:
        """x · mask / (1 − p), mask ~ Bernoulli(1 − p) (seeded by gn.manual_seed)"""
        check_tensor(input, f"Dropout(p={self.p})")
        return F.dropout(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """In training, zero whole channels of (N, C, H, W) with probability p and scale the rest by 1/(1 − p)."""

    def forward(self, input: Tensor) -> Tensor:
        """x · mask[n, c] / (1 − p), one Bernoulli draw per channel"""
        check_tensor(input, f"Dropout2d(p={self.p})")
        if input.ndim not in (3, 4):
            raise ValueError(
                f"Dropout2d(p={self.p}) got input of shape {shape_str(input.shape)}; expected (N, C, H, W) or (C, H, W)"
            )
        return F.dropout2d(input, self.p, self.training)
