"""Explicit penalties to add to a loss: built from Tensor ops, so their gradients flow through backward()."""

from __future__ import annotations

from collections.abc import Iterable

from glassnet.optim.optimizer import _params_list
from glassnet.tensor import Tensor


def l1_penalty(params: Iterable[Tensor] | Tensor) -> Tensor:
    """Σ |θ| over all parameters: add `λ · l1_penalty(model.parameters())` to the loss to push weights to zero."""
    return _total([p.abs().sum() for p in _params_list(params)])


def l2_penalty(params: Iterable[Tensor] | Tensor) -> Tensor:
    """Σ θ² over all parameters. Its gradient is 2θ, so `λ/2 · l2_penalty(...)` equals SGD's `weight_decay=λ`."""
    return _total([p.square().sum() for p in _params_list(params)])


def _total(terms: list[Tensor]) -> Tensor:
    if not terms:
        return Tensor(0.0)
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total
