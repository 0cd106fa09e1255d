"""Ready-made parametrizations, as torch.nn.utils.parametrizations: weight_norm, spectral_norm, orthogonal, registered
through `nn.utils.parametrize.register_parametrization`, so their tensors live under `parametrizations.<name>` and
their state_dict keys are PyTorch's:

    weight_norm(layer)    → parametrizations.weight.original0 (g, the norms), parametrizations.weight.original1 (v)
    spectral_norm(layer)  → parametrizations.weight.original, parametrizations.weight.0._u, parametrizations.weight.0._v
    orthogonal(layer)     → parametrizations.weight.original, parametrizations.weight.0.base (the trivialization)

The maths (w = g·v/‖v‖; σ by power iteration) is the one of the older hook-based `nn.utils.weight_norm` and
`nn.utils.spectral_norm` (glassnet/nn/reparametrize.py), shared, not copied.
"""

from __future__ import annotations

import math

import numpy

from glassnet import linalg
from glassnet.autograd import _state as _capture_state
from glassnet.autograd import no_grad
from glassnet.creation import eye, randn
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
from glassnet.tensor import Tensor, cat

__all__ = ["weight_norm", "spectral_norm", "orthogonal"]


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
    `parametrizations.<name>.original0` (g, the norms, size 1 except along `dim`) and `.original1` (v). A
    state_dict of the older `nn.utils.weight_norm` (`<name>_g`, `<name>_v`) loads too: a load_state_dict pre-hook
    renames its keys, as PyTorch's."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def _weight_norm_compat_hook(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                 error_msgs) -> None:
        # a checkpoint of the older nn.utils.weight_norm (keys <name>_g, <name>_v) loads too, as in PyTorch
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module.register_load_state_dict_pre_hook(_weight_norm_compat_hook)
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


# ----- orthogonal ----------------------------------------------------------------------------------------------------
_ORTHOGONAL_MAPS = ("matrix_exp", "cayley", "householder")


def _matrix_exp(a: Tensor) -> Tensor:
    """exp(A) by scaling and squaring: a degree-18 Taylor polynomial (Horner) of A/2ˢ, ‖A/2ˢ‖₁ ≤ 1/2, squared s
    times. Composed of matmuls, so its gradient comes from the autograd (the exact derivative of the polynomial).
    s depends on A's values: gn.compile leaves a step that computes it uncaptured."""
    if _capture_state.capture is not None:
        _capture_state.capture.read("orthogonal's matrix exponential, its scaling chosen from ‖A‖")
    norm = float(numpy.abs(a.data).sum(-2).max()) if a.numel() else 0.0
    s = max(0, math.ceil(math.log2(norm / 0.5))) if norm > 0.5 else 0
    b = a / 2.0**s
    identity = eye(a.shape[-1], dtype=a.dtype)
    e = identity
    for k in range(18, 0, -1):
        e = identity + (b @ e) / k
    for _ in range(s):
        e = e @ e
    return e


def _householder_product(a: Tensor, tau: Tensor) -> Tensor:
    """The first k columns of H₁H₂…H_k, H_i = I - τ_i v_i v_iᵀ, v_i the i-th column of a below the diagonal with a 1
    on it (LAPACK's orgqr, torch.linalg.householder_product), a of shape (…, n, k)."""
    n, k = a.shape[-2], a.shape[-1]
    v = a.tril(-1) + eye(n, k, dtype=a.dtype)
    q = eye(n, dtype=a.dtype)
    for i in range(k):
        vi = v[..., :, i : i + 1]
        q = q - (q @ vi) @ (vi.mT * tau[..., i : i + 1].unsqueeze(-1))
    return q[..., :, :k]


def _make_orthogonal(a: numpy.ndarray) -> numpy.ndarray:
    """Q of A = QR with R's diagonal non-negative (A tall), on arrays (no graph)."""
    q, r = numpy.linalg.qr(a)
    return q * numpy.sign(numpy.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def _is_orthogonal(q: numpy.ndarray) -> bool:
    n, k = q.shape[-2], q.shape[-1]
    eps = 10.0 * n * numpy.finfo(q.dtype).eps
    return bool(numpy.allclose(numpy.swapaxes(q, -1, -2) @ q, numpy.eye(k, dtype=q.dtype), rtol=1e-5, atol=eps))


class _Orthogonal(Module):
    """X → an orthogonal Q (orthonormal columns if tall, rows if wide): Q = exp(A) or the Cayley map of the
    skew-symmetric A = tril(X) - tril(X)ᵀ, or a product of Householder reflectors from X below its diagonal. With
    use_trivialization, Q is multiplied by the buffer `base`, which `right_inverse` sets (the dynamic trivialization of
    Lezcano-Casado, 2019), as torch.nn.utils.parametrizations.orthogonal."""

    def __init__(self, weight: Tensor, orthogonal_map: str, *, use_trivialization: bool = True) -> None:
        super().__init__()
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, x: Tensor) -> Tensor:
        n, k = x.shape[-2], x.shape[-1]
        transposed = n < k
        if transposed:
            x = x.mT
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            x = x.tril()
            if n != k:
                x = cat([x, x.new_zeros(*x.shape[:-2], n, n - k)], dim=-1)
            a = x - x.mT
            if self.orthogonal_map == "matrix_exp":
                q = _matrix_exp(a)
            else:
                identity = eye(n, dtype=a.dtype)
                q = linalg.solve(identity - a * 0.5, identity + a * 0.5)
            if n != k:
                q = q[..., :k]
        else:
            a = x.tril(-1)
            tau = 2.0 / (1.0 + (a * a).sum(-2))
            q = _householder_product(a, tau)
            q = q * x.diagonal(dim1=-2, dim2=-1).detach().trunc().unsqueeze(-2)  # torch's .int(): toward zero
        if "base" in self._buffers:
            q = self.base @ q
        return q.mT if transposed else q

    def right_inverse(self, q: Tensor) -> Tensor:
        """With the trivialization: base ← Q (made orthogonal by QR when it is not) and X ← -I, so that forward
        gives Q back. Without it (householder only): X ← the reflectors of Q's QR decomposition."""
        if tuple(q.shape) != self.shape:
            raise ValueError(
                f"orthogonal: expected a matrix or batch of matrices of shape {self.shape}. "
                f"Got a tensor of shape {tuple(q.shape)}."
            )
        with no_grad():
            qd = q.detach().data
            n, k = qd.shape[-2], qd.shape[-1]
            transpose = n < k
            if transpose:
                qd = numpy.swapaxes(qd, -1, -2)
                n, k = k, n
            if "base" not in self._buffers:
                if self.orthogonal_map != "householder":
                    raise NotImplementedError(
                        "It is not possible to assign to the matrix exponential or the Cayley parametrizations when "
                        "use_trivialization=False."
                    )
                raw, tau = _geqrf(qd)
                i = numpy.arange(k)
                sign = numpy.sign(raw[..., i, i])
                raw[..., i, i] = numpy.where(tau == 0.0, -sign, sign)
                return Tensor(numpy.swapaxes(raw, -1, -2).copy() if transpose else raw)
            if n == k:
                base = qd.copy() if _is_orthogonal(qd) else _make_orthogonal(qd)
            else:
                noise = randn(*qd.shape[:-2], n, n - k, dtype=q.dtype).data
                base = _make_orthogonal(numpy.concatenate([qd, noise], axis=-1))
            self.base = Tensor(numpy.ascontiguousarray(base.astype(qd.dtype)))
            neg_identity = numpy.zeros(q.shape, dtype=qd.dtype)
            i = numpy.arange(k)
            neg_identity[..., i, i] = -1.0
            return Tensor(neg_identity)


def _geqrf(a: numpy.ndarray) -> tuple[numpy.ndarray, numpy.ndarray]:
    """LAPACK's geqrf of a tall (…, n, k) array: R on and above the diagonal, the reflectors below, and τ."""
    if a.ndim == 2:
        h, tau = numpy.linalg.qr(a, mode="raw")
        return numpy.ascontiguousarray(h.T), tau
    pairs = [_geqrf(m) for m in a.reshape(-1, *a.shape[-2:])]
    return (numpy.stack([p[0] for p in pairs]).reshape(a.shape),
            numpy.stack([p[1] for p in pairs]).reshape(*a.shape[:-2], -1))


def orthogonal(
    module: Module, name: str = "weight", orthogonal_map: str | None = None, *, use_trivialization: bool = True
) -> Module:
    """Make `module.<name>` orthogonal (orthonormal columns when tall, rows when wide; a tensor of more than 2 dims is
    a batch of matrices). orthogonal_map: "matrix_exp" (default for square weights), "cayley", or "householder"
    (default otherwise). The initial Q is the weight itself when it is orthogonal, else its QR's Q."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"orthogonal: {type(module).__name__} has no parameter or buffer with name {name!r}")
    if weight.ndim < 2:
        raise ValueError(
            f"orthogonal: expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions "
            f"(shape {tuple(weight.shape)})."
        )
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in _ORTHOGONAL_MAPS:
        raise ValueError(
            f'orthogonal: orthogonal_map has to be one of "matrix_exp", "cayley", "householder". Got: {orthogonal_map}'
        )
    orth = _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module
