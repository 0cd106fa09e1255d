"""`gn.linalg`: norms, inverse, solve, determinant and singular values, as `torch.linalg` (batched over leading dims).

Norms are compositions (a sum of squares under a square root whose gradient is 0 at 0, a max of absolute values, …);
inv, solve, det, slogdet and svdvals are ops of `glassnet/ops/linalg.py` with their derivatives.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy

from glassnet.errors import OpValueError, ShapeError
from glassnet.ops import linalg as la
from glassnet.ops import reduction as rd
from glassnet.tensor import Tensor, _floating, cat

__all__ = ["vector_norm", "matrix_norm", "norm", "inv", "solve", "det", "slogdet", "svdvals", "svd"]


def _square(name: str, a: Tensor) -> Tensor:
    if not isinstance(a, Tensor):
        raise TypeError(f"linalg.{name}: expected a Tensor, got {type(a).__name__}")
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"linalg.{name}: expected square matrices (..., n, n), got shape {a.shape}")
    return _floating(a)


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    """(Σ|xᵢ|^ord)^(1/ord) over `dim` (all elements if None); ord inf/−inf: max/min |xᵢ|, 0: the count of nonzeros."""
    x = _floating(x if dtype is None else x.to(dtype))
    if isinstance(dim, list):
        dim = tuple(dim)
    if ord == 2:
        return rd.StdFromVar.apply((x * x).sum(dim, keepdim=keepdim))  # √ with a 0 gradient at 0, as torch
    if ord == float("inf"):
        return x.abs().amax(dim, keepdim)
    if ord == -float("inf"):
        return x.abs().amin(dim, keepdim)
    if ord == 0:
        return (x != 0).to(x.dtype).sum(dim, keepdim=keepdim)
    if ord == 1:
        return x.abs().sum(dim, keepdim=keepdim)
    if not isinstance(ord, (int, float)):
        raise OpValueError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    return (x.abs() ** ord).sum(dim, keepdim=keepdim) ** (1.0 / ord)


def matrix_norm(a: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False) -> Tensor:
    """The Frobenius ('fro'), nuclear ('nuc'), spectral (2, −2) or max row/column sum (inf, 1, …) norm of matrices."""
    if a.ndim < 2:
        raise ShapeError(f"linalg.matrix_norm: expected at least 2 dims, got shape {a.shape}")
    a = _floating(a)
    d0, d1 = (d % a.ndim for d in dim)
    if ord == "fro":
        return vector_norm(a, 2, (d0, d1), keepdim)
    moved = a.movedim((d0, d1), (-2, -1))
    if ord in ("nuc", 2, -2):
        s = svdvals(moved)
        out = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
    elif ord in (1, -1):
        sums = moved.abs().sum(-2)
        out = sums.amax(-1) if ord == 1 else sums.amin(-1)
    elif ord in (float("inf"), -float("inf")):
        sums = moved.abs().sum(-1)
        out = sums.amax(-1) if ord > 0 else sums.amin(-1)
    else:
        raise OpValueError(f"linalg.matrix_norm: ord must be 'fro', 'nuc', 2, -2, 1, -1, inf or -inf, got {ord!r}")
    if keepdim:
        for d in sorted((d0, d1)):
            out = out.unsqueeze(d)
    return out


def norm(x: Tensor, ord=None, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """torch.linalg.norm: a vector norm for 1-D input or an int dim, a matrix norm for 2-D input or a pair of dims."""
    if isinstance(ord, str) or (dim is not None and not isinstance(dim, int) and len(dim) == 2) or (
            dim is None and ord is not None and x.ndim == 2):
        return matrix_norm(x, "fro" if ord is None else ord, (-2, -1) if dim is None else dim, keepdim)
    return vector_norm(x, 2 if ord is None else ord, dim, keepdim)


def inv(a: Tensor) -> Tensor:
    """The inverse of square matrices."""
    a = _square("inv", a)
    if numpy.any(numpy.linalg.matrix_rank(a.data) < a.shape[-1]) if a.data.size else False:
        raise OpValueError(f"linalg.inv: a matrix of shape {a.shape} is singular (not invertible)")
    return la.Inv.apply(a)


def solve(a: Tensor, b: Tensor) -> Tensor:
    """X with A·X = B (B: (…, n, k) matrices, or (…, n) vectors)."""
    a = _square("solve", a)
    b = _floating(b)
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
    if (b.shape[-1] if vector else b.shape[-2]) != a.shape[-1]:
        raise ShapeError(f"linalg.solve: A of shape {a.shape} and B of shape {b.shape} do not fit")
    if numpy.any(numpy.linalg.matrix_rank(a.data) < a.shape[-1]) if a.data.size else False:
        raise OpValueError(f"linalg.solve: A of shape {a.shape} is singular")
    if vector:
        return la.Solve.apply(a, b.unsqueeze(-1)).squeeze(-1)
    return la.Solve.apply(a, b)


def det(a: Tensor) -> Tensor:
    """The determinant of square matrices."""
    return la.Det.apply(_square("det", a))


class SignLogAbsDet(NamedTuple):
    """What `slogdet` returns, as `torch.linalg.slogdet`."""

    sign: Tensor
    logabsdet: Tensor


def slogdet(a: Tensor) -> SignLogAbsDet:
    """(sign, logabsdet) with det A = sign · exp(logabsdet): −1 or 1 (0 for a singular matrix, whose logabsdet is
    −inf); only logabsdet has a gradient, A⁻ᵀ (`ops/linalg.py` Slogdet)."""
    packed = la.Slogdet.apply(_square("slogdet", a))
    return SignLogAbsDet(packed[..., 0], packed[..., 1])


def svdvals(a: Tensor) -> Tensor:
    """The singular values of (…, m, n) matrices, in descending order."""
    if a.ndim < 2:
        raise ShapeError(f"linalg.svdvals: expected at least 2 dims, got shape {a.shape}")
    return la.SvdVals.apply(_floating(a))


def svd(a: Tensor, full_matrices: bool = True) -> tuple:
    """(U, S, Vh) with A = U·diag(S)·Vh, all three differentiable (PyTorch's formula, `ops/linalg.py` Svd).

    The gradient through U or Vh exists only for losses that do not depend on the sign of each singular-vector
    pair, and is infinite for repeated singular values (as in PyTorch). With full_matrices=True the columns of U
    (rows of Vh) beyond min(m, n) are returned as constants, as PyTorch's backward ignores them.
    """
    if not isinstance(a, Tensor):
        raise TypeError(f"linalg.svd: expected a Tensor, got {type(a).__name__}")
    if a.ndim < 2:
        raise ShapeError(f"linalg.svd: expected at least 2 dims, got shape {a.shape}")
    a = _floating(a)
    m, n = a.shape[-2], a.shape[-1]
    packed = la.Svd.apply(a)
    u, s, vh = packed[..., :m, :], packed[..., m, :], packed[..., m + 1:, :].mT
    if full_matrices and m != n:
        u_full, _, vh_full = numpy.linalg.svd(a.data, full_matrices=True)
        k = min(m, n)
        if m > n:
            u = cat([u, Tensor._make(u_full[..., :, k:], None)], -1)  # the complement: constants
        else:
            vh = cat([vh, Tensor._make(vh_full[..., k:, :], None)], -2)
    return u, s, vh
