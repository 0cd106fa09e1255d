"""Adam (with the AMSGrad variant and L2 weight decay) and AdamW (weight decay decoupled from the gradient)."""

from __future__ import annotations

from typing import Any

from glassnet.backend import np
from glassnet.optim.optimizer import Optimizer
from glassnet.tensor import Tensor


def adam_moments(
    param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any], decoupled: bool
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """The part of a step that the Adam family shares (Adam, AdamW, NAdam, RAdam), in PyTorch's order:
    g ← −g if maximize;  t ← t + 1;  weight decay λ: g ← g + λθ, or (decoupled) θ ← θ(1 − lr·λ);
    m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²  (m and v in place, in state["exp_avg"], state["exp_avg_sq"]).
    Returns the gradient after decay, t, m and v."""
    lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
    if group["maximize"]:
        grad = -grad
    state["step"] += 1
    if wd != 0:
        if decoupled:
            param.data *= 1 - lr * wd  # AdamW: shrink the weights, leave the gradient alone
        else:
            grad = grad + wd * param.data
    m, v = state["exp_avg"].data, state["exp_avg_sq"].data
    m += (1 - beta1) * (grad - m)  # m ← β₁m + (1 − β₁)g, written as PyTorch's lerp
    v *= beta2
    v += (1 - beta2) * grad * grad
    return grad, state["step"], m, v


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), PyTorch's formulation::

    g ← ∇θ + λθ                          (weight_decay λ: L2 in the gradient; AdamW decays θ instead)
    m ← β₁m + (1 − β₁)g                  first moment
    v ← β₂v + (1 − β₂)g²                 second moment
    v̂ ← max(v̂, v)  if amsgrad  else v
    θ ← θ − lr/(1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + ε)
    """

    _decoupled = False

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ):
        name = type(self).__name__
        if not lr >= 0.0:
            raise ValueError(f"{name}: invalid learning rate {lr}; expected lr >= 0")
        if not eps >= 0.0:
            raise ValueError(f"{name}: invalid eps {eps}; expected eps >= 0")
        for i in (0, 1):
            if not 0.0 <= betas[i] < 1.0:
                raise ValueError(f"{name}: invalid betas[{i}] = {betas[i]}; expected 0 <= beta < 1")
        if not weight_decay >= 0.0:
            raise ValueError(f"{name}: invalid weight_decay {weight_decay}; expected weight_decay >= 0")
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize
        )
        super().__init__(params, defaults)

    def update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = Tensor._make(np.zeros_like(param.data), None)
            state["exp_avg_sq"] = Tensor._make(np.zeros_like(param.data), None)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = Tensor._make(np.zeros_like(param.data), None)
        _, t, m, v = adam_moments(param, grad, state, group, decoupled=self._decoupled)
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"].data
            np.maximum(v_max, v, out=v_max)
            v = v_max
        step_size = lr / (1 - beta1**t)
        denom = np.sqrt(v) / (1 - beta2**t) ** 0.5 + eps
        param.data -= step_size * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): θ ← θ(1 − lr·λ) before the Adam step.

    Unlike L2 in the gradient, the decay is not rescaled by Adam's per-coordinate step size.
    """

    _decoupled = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
