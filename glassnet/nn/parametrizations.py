"""Ready-made parametrizations, as torch.nn.utils.parametrizations: weight_norm and spectral_norm, registered
through `nn.utils.parametrize.register_parametrization`, so their tensors live under `parametrizations.<name>` and
their state_dict keys are PyTorch's:

    weight_norm(layer)    → parametrizations.weight.original0 (g, the norms), parametrizations.weight.original1 (v)
    spectral_norm(layer)  → parametrizations.weight.original, parametrizations.weight.0._u, parametrizations.weight.0._v

The maths (w = g·v/‖v‖; σ by power iteration) is the one of the older hook-based `nn.utils.weight_norm` and
`nn.utils.spectral_norm` (glassnet/nn/reparametrize.py), shared, not copied.
"""

from __future__ import annotations

from glassnet.creation import randn
from glassnet.nn import parametrize
from glassnet.nn._functional_more import normalize
from glassnet.nn.module import Module
from glassnet.nn.reparametrize import (
    _default_spectral_dim,
    _norm_except,
    _power_iteration,
    _sigma,
    _weight_matrix,
    _weight_norm,
)
from glassnet.tensor import Tensor

__all__ = ["weight_norm", "spectral_norm"]


class _WeightNorm(Module):
    """(g, v) → g · v / ‖v‖, the norm per slice of `dim` (over everything for dim=None, written -1 as PyTorch)."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def _norm_dim(self) -> int | None:
        return None if self.dim == -1 else self.dim  # PyTorch's norm_except_dim: -1 means every dim, not the last

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return _weight_norm(weight_g, weight_v, self._norm_dim())

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        """weight → (g, v) = (‖weight‖ per slice, weight): the pair whose forward is weight again."""
        return _norm_except(weight, self._norm_dim()), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """w = g · v / ‖v‖ (Salimans & Kingma, 2016) as a parametrization: `module.<name>` is computed from
    `parametrizations.<name>.original0` (g, the norms, size 1 except along `dim`) and `.original1` (v)."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    """weight → weight / σ(weight), σ the largest singular value of the weight seen as a matrix (`dim` as rows),
    estimated by power iteration: `n_power_iterations` steps per forward in training mode, updating the buffers
    `_u` and `_v` in place; none in evaluation mode. A 1-D weight is simply divided by its norm."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"spectral_norm: dim {dim} is out of range for a weight of shape {tuple(weight.shape)} "
                             f"(expected to be in range of [-{ndim}, {ndim - 1}])")
        if n_power_iterations <= 0:
            raise ValueError(
                f"spectral_norm: expected n_power_iterations to be positive, but got {n_power_iterations}"
            )
        self.dim = dim % ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            h, w = _weight_matrix(weight.detach(), self.dim).shape
            self.register_buffer("_u", normalize(randn(h, dtype=weight.dtype), dim=0, eps=eps))
            self.register_buffer("_v", normalize(randn(w, dtype=weight.dtype), dim=0, eps=eps))
            # start from reasonable vectors, as PyTorch: 15 steps of the power method
            _power_iteration(_weight_matrix(weight.detach(), self.dim), self._u, self._v, 15, eps, u_first=True)

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        w = _weight_matrix(weight, self.dim)
        if self.training:
            _power_iteration(w, self._u, self._v, self.n_power_iterations, self.eps, u_first=True)
        return weight / _sigma(w, self._u, self._v)

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(
    module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12, dim: int | None = None
) -> Module:
    """w / σ(w) (Miyato et al., 2018) as a parametrization: `module.<name>` is computed from
    `parametrizations.<name>.original`; the power iteration's vectors are the buffers `parametrizations.<name>.0._u`
    and `._v`. dim=None: 0, or 1 for transposed convolutions (their output channels)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter or buffer with name {name!r}")
    if dim is None:
        dim = _default_spectral_dim(module)
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
