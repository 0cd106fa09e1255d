"""Training utilities used beside a model: gradient clipping and explicit regularisation penalties.

`gn.nn.utils` is where PyTorch users look for them; `glassnet.optim` re-exports them (optim sits above nn).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from glassnet.backend import array_module, np
from glassnet.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "l1_penalty", "l2_penalty"]


def _params_list(params: Iterable[Tensor] | Tensor) -> list[Tensor]:
    """A list of tensors from a single Tensor or any iterable of them (generators included)."""
    if isinstance(params, Tensor):
        return [params]
    return list(params)


# ----- gradient clipping: rescale all gradients together so their norm stays below a bound, or clamp each value -----
def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale the gradients in place so that their joint norm is at most `max_norm`; return the norm before clipping.

    The joint norm is the `norm_type`-norm of all gradients stacked into one vector (`inf` for the largest
    magnitude). Gradients are multiplied by min(1, max_norm / (norm + 1e-6)), as PyTorch does.
    """
    grads = [p.grad for p in _params_list(parameters) if p.grad is not None]
    norm_type = float(norm_type)
    if not grads:
        return Tensor(0.0)
    dtype = np.result_type(*[g.dtype for g in grads])
    xp = array_module(grads[0].data)  # computed where the gradients are: no value leaves the device
    if norm_type == math.inf:
        norms = [xp.max(xp.abs(g.data)).astype(np.float64) if g.data.size else xp.zeros((), np.float64) for g in grads]
        total = xp.max(xp.stack(norms))
    else:
        norms = xp.stack([xp.linalg.norm(g.data.ravel(), ord=norm_type).astype(np.float64) for g in grads])
        total = xp.linalg.norm(norms, ord=norm_type)
    if error_if_nonfinite and not math.isfinite(float(total)):  # (reading the total back is what this asks for)
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {float(total)}, so they "
            "cannot be clipped; pass error_if_nonfinite=False to clip anyway"
        )
    coef = xp.minimum(float(max_norm) / (total + 1e-6), 1.0)
    for g in grads:
        g.data *= coef.astype(g.dtype) if g.dtype != coef.dtype else coef
    return Tensor._make(total.astype(dtype), None)


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for p in _params_list(parameters):
        if p.grad is not None:
            np.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)


# ----- explicit penalties to add to a loss: built from Tensor ops, so their gradients flow through backward() -----
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


from glassnet.nn.reparametrize import (  # noqa: E402 - weight reparametrisations and parameter vectors
    parameters_to_vector,
    remove_spectral_norm,
    remove_weight_norm,
    spectral_norm,
    vector_to_parameters,
    weight_norm,
)

__all__ += ["parameters_to_vector", "vector_to_parameters", "weight_norm", "remove_weight_norm", "spectral_norm",
            "remove_spectral_norm"]

# torch.nn.utils.parametrize and torch.nn.utils.parametrizations: submodules there, attributes here (utils is one
# file), also importable by their dotted names (`import glassnet.nn.utils.parametrize as P`) through sys.modules.
import sys as _sys  # noqa: E402

from glassnet.nn import parametrizations, parametrize  # noqa: E402

_sys.modules[__name__ + ".parametrize"] = parametrize
_sys.modules[__name__ + ".parametrizations"] = parametrizations
__all__ += ["parametrize", "parametrizations"]
