"""More adaptive optimisers, each PyTorch's formulation step for step: Adadelta, Adamax, NAdam, RAdam and ASGD.

Where PyTorch keeps a schedule value as a float32 scalar tensor (NAdam's μ product, ASGD's η and μ), it is rounded
to float32 here too, so that both libraries take the same steps.
"""

from __future__ import annotations

import math
from typing import Any

from glassnet.backend import np
from glassnet.optim.adam import adam_moments
from glassnet.optim.optimizer import Optimizer
from glassnet.tensor import Tensor


def _f32(value: float) -> float:
    """A float rounded to float32 (PyTorch's scalar state tensors hold float32 under the default dtype)."""
    return float(np.float32(value))


def _check(name: str, **values) -> None:
    for key, value in values.items():
        if not value >= 0.0:
            raise ValueError(f"{name}: invalid {key} {value}; expected {key} >= 0")


def _check_betas(name: str, betas) -> None:
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"{name}: invalid beta parameter at index {i}: {b}; expected 0 <= beta < 1")


def _zeros(param: Tensor) -> Tensor:
    return Tensor._make(np.zeros_like(param.data), None)


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012)::

    g ← ∇θ + λθ
    s ← ρs + (1 − ρ)g²                       (running mean of squared gradients)
    Δ ← √(a + ε) / √(s + ε) · g              (a: running mean of squared updates)
    a ← ρa + (1 − ρ)Δ²
    θ ← θ − lr·Δ
    """

    def __init__(
        self,
        params,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ):
        _check("Adadelta", lr=lr, eps=eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: invalid rho {rho}; expected 0 <= rho <= 1")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        if not state:
            state["step"] = 0
            state["square_avg"], state["acc_delta"] = _zeros(param), _zeros(param)
        rho, eps = group["rho"], group["eps"]
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param.data
        s, a = state["square_avg"].data, state["acc_delta"].data
        s *= rho
        s += (1 - rho) * grad * grad
        delta = np.sqrt(a + eps) / np.sqrt(s + eps) * grad
        a *= rho
        a += (1 - rho) * delta * delta
        param.data -= group["lr"] * delta


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, 2015), Adam with an infinity norm::

    g ← ∇θ + λθ
    m ← β₁m + (1 − β₁)g
    u ← max(β₂u, |g| + ε)
    θ ← θ − lr / (1 − β₁ᵗ) · m / u
    """

    def __init__(
        self,
        params,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ):
        _check("Adamax", lr=lr, eps=eps, weight_decay=weight_decay)
        _check_betas("Adamax", betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize))

    def update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        if not state:
            state["step"] = 0
            state["exp_avg"], state["exp_inf"] = _zeros(param), _zeros(param)
        beta1, beta2 = group["betas"]
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param.data
        m, u = state["exp_avg"].data, state["exp_inf"].data
        m += (1 - beta1) * (grad - m)
        np.maximum(u * beta2, np.abs(grad) + group["eps"], out=u)
        param.data -= group["lr"] / (1 - beta1 ** state["step"]) * m / u


class NAdam(Optimizer):
    """NAdam (Dozat, 2016), Adam with Nesterov momentum and a momentum schedule::

    μₜ = β₁(1 − ½·0.96^{t·ψ})                (ψ: momentum_decay)
    m ← β₁m + (1 − β₁)g,   v ← β₂v + (1 − β₂)g²,   d = √(v / (1 − β₂ᵗ)) + ε
    θ ← θ − lr(1 − μₜ)/(1 − Πμ₁..ₜ) · g/d − lr·μₜ₊₁/(1 − Πμ₁..ₜ₊₁) · m/d
    decoupled_weight_decay=True shrinks θ by (1 − lr·λ) instead of adding λθ to g.
    """

    def __init__(
        self,
        params,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ):
        _check("NAdam", lr=lr, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay)
        _check_betas("NAdam", betas)
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=tuple(betas),
                eps=eps,
                weight_decay=weight_decay,
                momentum_decay=momentum_decay,
                decoupled_weight_decay=decoupled_weight_decay,
                maximize=maximize,
            ),
        )

    def update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        if not state:
            state["step"], state["mu_product"] = 0, 1.0
            state["exp_avg"], state["exp_avg_sq"] = _zeros(param), _zeros(param)
        lr, (beta1, beta2), psi = group["lr"], group["betas"], group["momentum_decay"]
        grad, t, m, v = adam_moments(param, grad, state, group, decoupled=group["decoupled_weight_decay"])
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] = mu_product = _f32(state["mu_product"] * mu)
        denom = np.sqrt(v / (1 - beta2**t)) + group["eps"]
        param.data -= lr * (1.0 - mu) / (1.0 - mu_product) * grad / denom
        param.data -= lr * mu_next / (1.0 - mu_product * mu_next) * m / denom


class RAdam(Optimizer):
    """RAdam (Liu et al., 2020), Adam with the variance of its adaptive step rectified::

    m ← β₁m + (1 − β₁)g,   v ← β₂v + (1 − β₂)g²,   m̂ = m / (1 − β₁ᵗ)
    ρ∞ = 2/(1 − β₂) − 1,   ρₜ = ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ)
    ρₜ > 5:  θ ← θ − lr · m̂ · r · √(1 − β₂ᵗ)/(√v + ε),   r = √((ρₜ−4)(ρₜ−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρₜ))
    else:    θ ← θ − lr · m̂                  (plain momentum while the variance estimate is unreliable)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ):
        _check("RAdam", lr=lr, eps=eps, weight_decay=weight_decay)
        _check_betas("RAdam", betas)
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=tuple(betas),
                eps=eps,
                weight_decay=weight_decay,
                decoupled_weight_decay=decoupled_weight_decay,
                maximize=maximize,
            ),
        )

    def update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        if not state:
            state["step"] = 0
            state["exp_avg"], state["exp_avg_sq"] = _zeros(param), _zeros(param)
        lr, (beta1, beta2) = group["lr"], group["betas"]
        _, t, m, v = adam_moments(param, grad, state, group, decoupled=group["decoupled_weight_decay"])
        bias_correction2 = 1 - beta2**t
        m_hat = m / (1 - beta1**t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            param.data -= m_hat * lr * (bias_correction2**0.5 / (np.sqrt(v) + group["eps"])) * rect
        else:
            param.data -= m_hat * lr


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky, 1992)::

    θ ← θ(1 − λη) − η·g                      (η starts at lr)
    a ← θ while μ = 1, else a ← a + μ(θ − a) (the running average PyTorch keeps as state "ax")
    η ← lr / (1 + λ·lr·t)^α,   μ ← 1 / max(1, t − t₀)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ):
        _check("ASGD", lr=lr, weight_decay=weight_decay)
        super().__init__(
            params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, maximize=maximize)
        )

    def update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr = group["lr"]
        if not state:
            state["step"], state["eta"], state["mu"] = 0, _f32(lr), 1.0
            state["ax"] = _zeros(param)
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param.data
        eta = state["eta"]
        param.data *= 1 - group["lambd"] * eta
        param.data -= eta * grad
        ax = state["ax"].data
        if state["mu"] != 1:
            ax += (param.data - ax) * state["mu"]
        else:
            ax[...] = param.data
        t = state["step"]
        state["eta"] = _f32(lr / (1 + group["lambd"] * lr * t) ** group["alpha"])
        state["mu"] = _f32(1 / max(1, t - group["t0"]))
