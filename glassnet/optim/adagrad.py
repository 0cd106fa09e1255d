"""Adagrad: per-coordinate learning rates that shrink with the sum of all past squared gradients."""

from __future__ import annotations

from typing import Any

from glassnet.backend import np
from glassnet.optim.optimizer import Optimizer
from glassnet.tensor import Tensor


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), PyTorch's formulation::

    g ← ∇θ + λθ                          (weight_decay λ)
    lr_t ← lr / (1 + (t − 1)·lr_decay)
    s ← s + g²                           (s starts at initial_accumulator_value)
    θ ← θ − lr_t · g / (√s + ε)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ):
        checks = (
            ("lr", lr), ("lr_decay", lr_decay), ("weight_decay", weight_decay),
            ("initial_accumulator_value", initial_accumulator_value), ("eps", eps),
        )  # fmt: skip
        for name, value in checks:
            if not value >= 0.0:
                raise ValueError(f"Adagrad: invalid {name} {value}; expected {name} >= 0")
        defaults = dict(
            lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, initial_accumulator_value=initial_accumulator_value,
            eps=eps, maximize=maximize,
        )  # fmt: skip
        super().__init__(params, defaults)

    def update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        if not state:
            state["step"] = 0
            state["sum"] = Tensor._make(np.full_like(param.data, group["initial_accumulator_value"]), None)
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param.data
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"].data
        s += grad * grad
        param.data -= clr * grad / (np.sqrt(s) + group["eps"])
