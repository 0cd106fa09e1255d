"""More of torch.nn.functional, as compositions of existing ops: margin and ranking losses, Poisson and Gaussian
negative log-likelihoods, multi-label soft margin, pairwise distance, normalize, pixel_shuffle/unshuffle."""

from __future__ import annotations

import math

from glassnet.errors import ShapeError
from glassnet.nn._functional_layers import _check_reduction, _reduce
from glassnet.tensor import Tensor, _floating, where

__all__ = [
    "margin_ranking_loss",
    "hinge_embedding_loss",
    "soft_margin_loss",
    "pairwise_distance",
    "triplet_margin_loss",
    "poisson_nll_loss",
    "gaussian_nll_loss",
    "multilabel_soft_margin_loss",
    "normalize",
    "pixel_shuffle",
    "pixel_unshuffle",
]


def _softplus(x: Tensor) -> Tensor:
    from glassnet.nn.functional import softplus

    return softplus(x)


def margin_ranking_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """max(0, −y·(x₁ − x₂) + margin): y = 1 asks for x₁ > x₂, y = −1 for x₂ > x₁."""
    _check_reduction("margin_ranking_loss", reduction)
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0.0), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, reduction: str = "mean") -> Tensor:  # noqa: A002
    """x where y = 1, max(0, margin − x) where y = −1."""
    _check_reduction("hinge_embedding_loss", reduction)
    x = _floating(input)
    loss = where(target != 1, (margin - x).clamp(min=0.0), 0.0) + where(target != -1, x, 0.0)
    return _reduce(loss, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """log(1 + e^{−y·x}) for labels y = ±1."""
    _check_reduction("soft_margin_loss", reduction)
    return _reduce(_softplus(-target * _floating(input)), reduction)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """‖x₁ − x₂ + ε‖ₚ along the last dim."""
    from glassnet.linalg import vector_norm

    return vector_norm(x1 - x2 + eps, p, -1, keepdim)


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """max(0, d(a, p) − d(a, n) + margin) with d the pairwise p-norm distance (swap: use min(d(a, n), d(p, n)))."""
    _check_reduction("triplet_margin_loss", reduction)
    d_ap = pairwise_distance(anchor, positive, p, eps)
    d_an = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_an = d_an.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_ap - d_an).clamp(min=0.0), reduction)


def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average=None,  # noqa: A002
    eps: float = 1e-8,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """eˣ − y·x (log_input) or x − y·log(x + ε); full adds Stirling's y·log y − y + ½log(2πy) where y > 1."""
    _check_reduction("poisson_nll_loss", reduction)
    x = _floating(input)
    loss = x.exp() - target * x if log_input else x - target * (x + eps).log()
    if full:
        y = _floating(target)
        stirling = y * y.log() - y + 0.5 * (2 * math.pi * y).log()
        loss = loss + where(y > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var: Tensor,
    full: bool = False,
    eps: float = 1e-6,  # noqa: A002
    reduction: str = "mean",
) -> Tensor:
    """½(log v + (x − y)²/v) (+ ½log 2π if full), with v clamped below at ε (the gradient still reaches v)."""
    _check_reduction("gaussian_nll_loss", reduction)
    if var.ndim == input.ndim - 1 and var.shape == input.shape[:-1]:
        var = var.unsqueeze(-1)  # one variance per sample, as PyTorch allows
    elif var.shape != input.shape and not (
        var.ndim == input.ndim and var.shape[-1] == 1 and var.shape[:-1] == input.shape[:-1]
    ):
        raise ShapeError(f"gaussian_nll_loss: var of shape {var.shape} does not fit input of shape {input.shape}")
    if (var.data < 0).any():
        raise ValueError("gaussian_nll_loss: var has negative entries")
    v = var + (var.detach().clamp(min=eps) - var.detach())  # clamped values, identity gradient (as PyTorch's clamp_)
    loss = 0.5 * (v.log() + (input - target) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(
    input: Tensor,
    target: Tensor,
    weight=None,
    size_average=None,
    reduce=None,  # noqa: A002
    reduction: str = "mean",
) -> Tensor:
    """−mean over classes of y·log σ(x) + (1 − y)·log σ(−x) (optionally weighted per class)."""
    _check_reduction("multilabel_soft_margin_loss", reduction)
    x = _floating(input)
    loss = target * _softplus(-x) + (1 - target) * _softplus(x)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.mean(-1), reduction)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:  # noqa: A002
    """x / max(‖x‖ₚ, ε) along `dim`."""
    from glassnet.linalg import vector_norm

    x = _floating(input)
    return x / vector_norm(x, p, dim, keepdim=True).clamp(min=eps)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:  # noqa: A002
    """(…, C·r², H, W) → (…, C, H·r, W·r): sub-pixel rearrangement (Shi et al., 2016)."""
    r = upscale_factor
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise ShapeError(f"pixel_shuffle: input of shape {input.shape} needs (…, C·{r * r}, H, W)")
    *lead, c, h, w = input.shape
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:  # noqa: A002
    """(…, C, H·r, W·r) → (…, C·r², H, W): the inverse of pixel_shuffle."""
    r = downscale_factor
    if input.ndim < 3 or input.shape[-2] % r or input.shape[-1] % r:
        raise ShapeError(f"pixel_unshuffle: input of shape {input.shape} needs H and W divisible by {r}")
    *lead, c, h, w = input.shape
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)
