"""RMSprop: divide each gradient by a running root-mean-square of recent gradients (optionally centred)."""

from __future__ import annotations

from typing import Any

from glassnet.backend import np
from glassnet.optim.optimizer import Optimizer
from glassnet.tensor import Tensor


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012), PyTorch's formulation::

    g ← ∇θ + λθ                          (weight_decay λ)
    s ← αs + (1 − α)g²                   running mean of squares
    a ← αa + (1 − α)g;  d ← √(s − a²) + ε   if centered   else   d ← √s + ε
    b ← μb + g/d;  θ ← θ − lr·b            if momentum μ > 0   else   θ ← θ − lr·g/d
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ):
        for name, value in (("lr", lr), ("eps", eps), ("momentum", momentum), ("weight_decay", weight_decay)):
            if not value >= 0.0:
                raise ValueError(f"RMSprop: invalid {name} {value}; expected {name} >= 0")
        if not alpha >= 0.0:
            raise ValueError(f"RMSprop: invalid alpha {alpha}; expected alpha >= 0")
        defaults = dict(
            lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered,
            maximize=maximize,
        )  # fmt: skip
        super().__init__(params, defaults)

    def update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        alpha, momentum, wd = group["alpha"], group["momentum"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["square_avg"] = Tensor._make(np.zeros_like(param.data), None)
            if momentum > 0:
                state["momentum_buffer"] = Tensor._make(np.zeros_like(param.data), None)
            if group["centered"]:
                state["grad_avg"] = Tensor._make(np.zeros_like(param.data), None)
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        if wd != 0:
            grad = grad + wd * param.data
        s = state["square_avg"].data
        s *= alpha
        s += (1 - alpha) * grad * grad
        if group["centered"]:
            a = state["grad_avg"].data
            a += (1 - alpha) * (grad - a)  # a ← αa + (1 − α)g, as PyTorch's lerp
            denom = np.sqrt(s - a * a) + group["eps"]
        else:
            denom = np.sqrt(s) + group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"].data
            buf *= momentum
            buf += grad / denom
            param.data -= group["lr"] * buf
        else:
            param.data -= group["lr"] * grad / denom
