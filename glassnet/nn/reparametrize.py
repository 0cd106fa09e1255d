"""Weight reparametrisations and parameter vectors, as torch.nn.utils: weight_norm, spectral_norm (each recomputes
`module.weight` from its own parameters before every forward, through a forward pre-hook, so gradients reach them by
the ordinary ops), parameters_to_vector and vector_to_parameters."""

from __future__ import annotations

from collections.abc import Iterable

import numpy

from glassnet.autograd import _state as _capture_state
from glassnet.autograd import no_grad
from glassnet.nn.module import Module
from glassnet.nn.parameter import Parameter
from glassnet.tensor import Tensor, cat

__all__ = [
    "weight_norm",
    "remove_weight_norm",
    "spectral_norm",
    "remove_spectral_norm",
    "parameters_to_vector",
    "vector_to_parameters",
]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined into one vector (on the graph)."""
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of `vec` into the parameters (in place, without recording the graph)."""
    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise TypeError(f"vector_to_parameters: expected a 1-D Tensor, got {getattr(vec, 'shape', type(vec))}")
    parameters = list(parameters)
    total = sum(p.data.size for p in parameters)
    if vec.shape[0] != total:
        raise ValueError(f"vector_to_parameters: the vector has {vec.shape[0]} elements, the parameters {total}")
    offset = 0
    with no_grad():
        for p in parameters:
            n = p.data.size
            p.data[...] = vec.data[offset : offset + n].reshape(p.shape)
            offset += n


# ----- weight normalisation ------------------------------------------------------------------------------------------
def _norm_except(v: Tensor, dim: int | None) -> Tensor:
    """‖v‖ over every dim except `dim` (all of them for None), kept as size-1 dims."""
    if dim is None:
        return (v * v).sum().sqrt()
    dims = tuple(d for d in range(v.ndim) if d != dim % v.ndim)
    return (v * v).sum(dims, keepdim=True).sqrt()


def _weight_norm(g: Tensor, v: Tensor, dim: int | None) -> Tensor:
    """w = g · v / ‖v‖, the norm taken per slice of `dim` (over everything for None). Shared by the hook-based
    weight_norm here and the parametrization `nn.utils.parametrizations.weight_norm`."""
    return v * (g / _norm_except(v, dim))


class _WeightNorm:
    def __init__(self, name: str, dim: int | None):
        self.name, self.dim = name, dim

    def compute(self, module: Module) -> Tensor:
        return _weight_norm(getattr(module, self.name + "_g"), getattr(module, self.name + "_v"), self.dim)

    def __call__(self, module: Module, inputs) -> None:
        object.__setattr__(module, self.name, self.compute(module))


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """w = g · v / ‖v‖ (Salimans & Kingma, 2016): the parameter `name` is replaced by `name_g` (the norm, per slice of
    `dim`) and `name_v` (the direction)."""
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"weight_norm: {type(module).__name__} has no parameter {name!r}")
    if dim == -1:
        dim = None
    fn = _WeightNorm(name, dim)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(_norm_except(weight.detach(), dim).data.copy()))
    module.register_parameter(name + "_v", Parameter(weight.data.copy()))
    object.__setattr__(module, name, fn.compute(module))
    fn.handle = module.register_forward_pre_hook(fn)
    module.__dict__.setdefault("_reparametrizations", {})[name] = fn
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """Undo weight_norm: `name` becomes an ordinary parameter holding the current g · v / ‖v‖."""
    fn = module.__dict__.get("_reparametrizations", {}).pop(name, None)
    if not isinstance(fn, _WeightNorm):
        raise ValueError(f"remove_weight_norm: weight_norm of {name!r} not found in {type(module).__name__}")
    weight = fn.compute(module).detach()
    fn.handle.remove()
    del module._parameters[name + "_g"], module._parameters[name + "_v"]
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(weight.data.copy()))
    return module


# ----- spectral normalisation ----------------------------------------------------------------------------------------
# The maths below is shared by the hook-based spectral_norm here and the parametrization
# `nn.utils.parametrizations.spectral_norm`; they differ only in the order of the two half-steps of the power
# iteration (torch's older API updates v then u, the newer one u then v) and in where u and v are kept.
def _weight_matrix(weight: Tensor, dim: int) -> Tensor:
    """The weight as a matrix: `dim` first, the other dims (in order) flattened into columns."""
    w = weight.movedim(dim, 0) if dim != 0 else weight
    return w.reshape(w.shape[0], -1)


def _power_iteration(w: Tensor, u: Tensor, v: Tensor, n: int, eps: float, u_first: bool) -> None:
    """`n` steps of the power method on the matrix w, updating the buffers u ≈ w v/‖w v‖ and v ≈ wᵀu/‖wᵀu‖ in place
    (no graph: they only estimate the top singular vectors). gn.compile records no such array work: a step that runs
    it is left uncaptured (run eagerly), as one with module hooks is."""
    if _capture_state.capture is not None:
        _capture_state.capture.read("spectral norm's power iteration, u and v updated in place")
    with no_grad():
        a, ud, vd = w.data, u.data, v.data
        for _ in range(n):
            if u_first:
                ud[...] = _normalize(a @ vd, eps)
                vd[...] = _normalize(a.T @ ud, eps)
            else:
                vd[...] = _normalize(a.T @ ud, eps)
                ud[...] = _normalize(a @ vd, eps)


def _sigma(w: Tensor, u: Tensor, v: Tensor) -> Tensor:
    """σ ≈ uᵀ w v, the largest singular value, on the graph through w only. u and v are copied first, so that a
    later power iteration (another forward before this backward, as in a GAN's D(real) - D(fake)) cannot change
    what this backward uses."""
    return (u.detach().clone() * (w @ v.detach().clone())).sum()


def _default_spectral_dim(module: Module) -> int:
    """The output dim of the weight: 1 for transposed convolutions (weight (C_in, C_out/groups, …)), else 0."""
    from glassnet.nn.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d

    return 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0


class _SpectralNorm:
    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float):
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def matrix(self, weight: Tensor) -> Tensor:
        return _weight_matrix(weight, self.dim)

    def compute(self, module: Module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        w = self.matrix(weight)
        if do_power_iteration:
            _power_iteration(w, u, v, self.n_power_iterations, self.eps, u_first=False)
        return weight / _sigma(w, u, v)

    def __call__(self, module: Module, inputs) -> None:
        object.__setattr__(module, self.name, self.compute(module, module.training))


def _normalize(x, eps: float):
    return x / max(float(numpy.linalg.norm(x)), eps)


def spectral_norm(
    module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12, dim: int | None = None
) -> Module:
    """w / σ(w) (Miyato et al., 2018), σ the largest singular value estimated by power iteration (one step per
    forward while training). Adds `name_orig` (a parameter) and `name_u`, `name_v` (buffers)."""
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter {name!r}")
    if dim is None:
        dim = _default_spectral_dim(module)
    fn = _SpectralNorm(name, n_power_iterations, dim, eps)
    w = fn.matrix(weight.detach()).data
    rng = numpy.random.default_rng()
    u = _normalize(rng.standard_normal(w.shape[0]).astype(w.dtype), eps)
    v = _normalize(rng.standard_normal(w.shape[1]).astype(w.dtype), eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    module.register_buffer(name + "_u", Tensor(u))
    module.register_buffer(name + "_v", Tensor(v))
    object.__setattr__(module, name, weight.detach() * 1)
    fn.handle = module.register_forward_pre_hook(fn)
    module.__dict__.setdefault("_reparametrizations", {})[name] = fn
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo spectral_norm: `name` becomes an ordinary parameter holding the current normalised weight."""
    fn = module.__dict__.get("_reparametrizations", {}).pop(name, None)
    if not isinstance(fn, _SpectralNorm):
        raise ValueError(f"remove_spectral_norm: spectral_norm of {name!r} not found in {type(module).__name__}")
    weight = fn.compute(module, False).detach()
    fn.handle.remove()
    del module._parameters[name + "_orig"], module._buffers[name + "_u"], module._buffers[name + "_v"]
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(weight.data.copy()))
    return module
