"""Stochastic gradient descent, with momentum (heavy-ball or Nesterov), dampening and L2 weight decay."""

from __future__ import annotations

from typing import Any

from glassnet.backend import np
from glassnet.optim.optimizer import Optimizer, scalar_array
from glassnet.tensor import Tensor


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's formulation::

        g ← ∇θ + λθ                        (weight_decay λ)
        b ← g                 on the first step,
        b ← μb + (1 − τ)g     afterwards    (momentum μ, dampening τ)
        g ← g + μb  if nesterov  else  b
        θ ← θ − lr·g

    `maximize=True` ascends instead (the gradient's sign is flipped first).
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ):
        if lr < 0.0:
            raise ValueError(f"SGD: invalid learning rate {lr}; expected lr >= 0")
        if momentum < 0.0:
            raise ValueError(f"SGD: invalid momentum {momentum}; expected momentum >= 0")
        if weight_decay < 0.0:
            raise ValueError(f"SGD: invalid weight_decay {weight_decay}; expected weight_decay >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def update_group(self, group: dict[str, Any]) -> None:
        """Fast path (glassnet/fast_paths.py): plain SGD in one loop.
        Reference: Optimizer.update_group with SGD.update."""
        if group["momentum"] or group["weight_decay"] or group["maximize"]:
            super().update_group(group)
            return
        # Plain SGD keeps no state (as in PyTorch): θ ← θ − lr·g, with the group's settings read once.
        lr, lr_array, made_for = group["lr"], None, None
        for p in group["params"]:
            grad = p.grad
            if grad is not None:
                g = grad.data
                if made_for is not g.dtype:  # (dtype objects are interned; a device array gets a plain float)
                    lr_array, made_for = scalar_array(lr, g.dtype, g), g.dtype
                p.data -= lr_array * g

    def update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        momentum, wd = group["momentum"], group["weight_decay"]
        if group["maximize"]:
            grad = -grad
        if wd != 0:
            grad = grad + wd * param.data
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = Tensor._make(grad.copy(), None)
            else:
                buf.data *= momentum
                buf.data += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf.data if group["nesterov"] else buf.data
        param.data -= scalar_array(group["lr"], grad.dtype, grad) * grad
