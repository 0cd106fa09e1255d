"""Weight reparametrisations and parameter vectors, as torch.nn.utils: weight_norm, spectral_norm (each recomputes
`module.weight` from its own parameters before every forward, through a forward pre-hook, so gradients reach them by
the ordinary ops), parameters_to_vector and vector_to_parameters."""

from __future__ import annotations

from collections.abc import Iterable

import numpy

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


class _WeightNorm:
    def __init__(self, name: str, dim: int | None):
        self.name, self.dim = name, dim

    def compute(self, module: Module) -> Tensor:
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return v * (g / _norm_except(v, self.dim))

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
class _SpectralNorm:
    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float):
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def matrix(self, weight: Tensor) -> Tensor:
        w = weight
        if self.dim != 0:
            w = w.movedim(self.dim, 0)
        return w.reshape(w.shape[0], -1)

    def compute(self, module: Module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        w = self.matrix(weight)
        if do_power_iteration:
            with no_grad():  # σ's estimate: u and v follow the top singular vectors, updated in place as buffers
                for _ in range(self.n_power_iterations):
                    v.data[...] = _normalize(w.data.T @ u.data, self.eps)
                    u.data[...] = _normalize(w.data @ v.data, self.eps)
        sigma = (u * (w @ v)).sum()
        return weight / sigma

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
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
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
