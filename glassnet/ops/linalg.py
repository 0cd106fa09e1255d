"""Linear algebra: matrix products (batched, broadcast) and einsum."""

from __future__ import annotations

import string

from glassnet.autograd import Function, unbroadcast
from glassnet.backend import array_module, is_array, np
from glassnet.errors import OpValueError, ShapeError


class MatMul(Function):
    """Y = A @ B;   dL/dA = dL/dY @ Bᵀ,   dL/dB = Aᵀ @ dL/dY   (vectors are treated as 1-row/1-column matrices)"""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, gy):
        a, b = self.saved_tensors
        if a.ndim == 2 and b.ndim == 2:
            return gy @ b.T, a.T @ gy
        if a.ndim == 1 and b.ndim == 1:
            return gy * b, gy * a
        a2 = a.reshape((1,) + a.shape) if a.ndim == 1 else a
        b2 = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
        g2 = gy
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        ga = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        gb = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
        return ga, gb


class Linear(Function):
    """y = x Wᵀ + b  (x: (..., in), W: (out, in), b: (out,)) — one node for a whole dense layer;
    dL/dx = dL/dy W,   dL/dW = (dL/dy)ᵀ x,   dL/db = Σ over rows of dL/dy   (leading dims flattened into rows)

    Fast path (glassnet/fast_paths.py): exact_gradients. Reference: match_gradient in run_backward.
    """

    exact_gradients = True  # forward refuses mismatched shapes and dtypes; each gradient is built in its input's shape

    def forward(self, x, weight, bias=None):
        if x.dtype is not weight.dtype or weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1] or (
            bias is not None and bias.shape != weight.shape[:1]
        ):
            check_linear_shapes(x, weight, bias)  # explains the problem
        self.save_for_backward(x, weight)
        self.has_bias = bias is not None
        # Leading dims flattened into rows: one (rows, in) @ (in, out) GEMM. A 3-D x @ Wᵀ would be a stack of
        # small GEMMs, measured 2× slower (and far worse when the BLAS threads compete for the cores).
        # np.dot rather than @: the same BLAS call, with 0.2-0.3 µs less overhead on small matrices.
        y = np.dot(x if x.ndim == 2 else x.reshape((-1, x.shape[-1])), weight.T)
        if bias is not None:
            y += bias  # y is a fresh array: adding in place saves one temporary
        return y if x.ndim == 2 else y.reshape(x.shape[:-1] + (weight.shape[0],))

    def backward(self, gy):
        x, weight = self.saved_tensors
        gy2 = gy if gy.ndim == 2 else gy.reshape((-1, gy.shape[-1]))
        gx = None
        if self.input_requires_grad(0):  # not for the first layer's input
            gx = np.dot(gy2, weight)
            if x.ndim != 2:
                gx = gx.reshape(x.shape)
        g_weight = np.dot(gy2.T, x if x.ndim == 2 else x.reshape((-1, x.shape[-1])))
        return gx, g_weight, sum_rows(gy2) if self.has_bias else None


def check_linear_shapes(x, weight, bias) -> None:
    """x (..., in), W (out, in), b (out,) of one dtype, or a ValueError/TypeError naming the shapes."""
    if x.ndim == 0 or weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {tuple(x.shape)} does not fit weight of shape {tuple(weight.shape)}; "
            f"expected (..., {weight.shape[-1] if weight.ndim else '?'})"
        )
    if bias is not None and bias.shape != weight.shape[:1]:
        raise ValueError(
            f"linear: bias of shape {tuple(bias.shape)} does not fit weight of shape {tuple(weight.shape)}"
        )
    if x.dtype != weight.dtype:
        raise TypeError(f"linear: input is {x.dtype} but weight is {weight.dtype}")


_ones_cache: dict = {}


def sum_rows(a):
    """Σ over the rows of a 2-D array, as a (1, rows) @ (rows, n) product.

    The same sum as a.sum(axis=0), but NumPy's axis-0 reduction walks the rows one by one and takes 2.4 µs
    on a (100, 16) batch where the product takes 0.6 µs. On Tensors (create_graph) it is the plain sum.
    Fast path (glassnet/fast_paths.py). Reference: a.sum(axis=0).
    """
    if type(a) is not np.ndarray:
        return a.sum(axis=0)
    return np.dot(_ones(a.shape[0], a.dtype), a)


def sum_last(a):
    """Σ along the last axis, kept as a size-1 axis, as a product with ones (BLAS's matrix-vector product).

    NumPy's last-axis reduction walks short rows slowly: on W4's attention scores, (16, 4, 64, 64) float32, it
    takes 0.14 ms where the product takes 0.025 ms. For float32/float64 arrays on any device (so that a device
    rounds as the host does); anything else (Tensors under create_graph, integers, float16) takes the plain sum.
    Fast path (glassnet/fast_paths.py). Reference: a.sum(axis=-1, keepdims=True).
    """
    if not is_array(a) or a.dtype.char not in "fd" or a.ndim == 0:
        return a.sum(axis=-1, keepdims=True)
    if type(a) is np.ndarray:
        ones = _ones(a.shape[-1], a.dtype)
    else:
        ones = array_module(a).ones(a.shape[-1], a.dtype)
    return np.matmul(a, ones)[..., None]


def _ones(n: int, dtype):
    """A cached vector of n ones of `dtype` (read-only: shared by every caller)."""
    ones = _ones_cache.get((n, dtype))
    if ones is None:
        if len(_ones_cache) > 64:  # a bounded cache: batch sizes and widths vary little in practice
            _ones_cache.clear()
        ones = _ones_cache[(n, dtype)] = np.ones(n, dtype)
        ones.flags.writeable = False
    return ones


def parse_einsum(equation: str, shapes: list) -> tuple[list[str], str]:
    """Split 'ij,jk->ik' into input and output subscripts, expanding '...' and the implicit output."""
    equation = equation.replace(" ", "")
    lhs, _, rhs = equation.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(shapes):
        raise OpValueError(f"einsum: '{equation}' names {len(inputs)} operands but {len(shapes)} were given")
    used = set(equation) - set(",.->")
    spare = [c for c in string.ascii_letters if c not in used]
    n_ellipsis = max(
        (len(s) - len(sub.replace("...", "")) for sub, s in zip(inputs, shapes) if "..." in sub), default=0
    )
    ell = "".join(spare[:n_ellipsis])
    expanded = []
    for sub, shape in zip(inputs, shapes):
        if "..." in sub:
            k = len(shape) - len(sub.replace("...", ""))
            sub = sub.replace("...", ell[n_ellipsis - k:])
        if len(sub) != len(shape):
            raise ShapeError(f"einsum: subscripts '{sub}' do not fit an operand of shape {tuple(shape)}")
        if len(set(sub)) != len(sub):
            raise OpValueError(f"einsum: repeated subscript in '{sub}' (diagonals are taken by gn.einsum first)")
        expanded.append(sub)
    sizes: dict = {}
    for k, (sub, shape) in enumerate(zip(expanded, shapes)):
        for c, n in zip(sub, shape):
            seen = sizes.setdefault(c, (n, k))
            if seen[0] != n and 1 not in (seen[0], n):
                raise ShapeError(f"einsum: subscript '{c}' of '{equation}' has size {seen[0]} in operand {seen[1]} "
                                 f"but {n} in operand {k} (shapes {[tuple(s) for s in shapes]})")
    if "->" in equation:
        out = rhs.replace("...", ell)
    else:
        counts = {c: "".join(expanded).count(c) for c in set("".join(expanded))}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return expanded, out


class Einsum(Function):
    """y = einsum(eq, x₁, …, xₙ);   dL/dxₖ = einsum of dL/dy with the other operands into xₖ's subscripts
    (indices that xₖ alone carries were summed, so their gradient is broadcast back along them)"""

    def forward(self, *xs, equation=""):
        self.subs, self.out = parse_einsum(equation, [x.shape for x in xs])
        self.save_for_backward(*xs)
        return np.einsum(",".join(self.subs) + "->" + self.out, *xs)

    def backward(self, gy):
        xs = self.saved_tensors
        grads = []
        for k, (sub, x) in enumerate(zip(self.subs, xs)):
            others = [(s, o) for j, (s, o) in enumerate(zip(self.subs, xs)) if j != k]
            have = set(self.out).union(*[set(s) for s, _ in others])
            kept = "".join(c for c in sub if c in have)
            eq = ",".join([self.out] + [s for s, _ in others]) + "->" + kept
            g = np.einsum(eq, gy, *[o for _, o in others])
            if kept != sub:  # broadcast along the indices only this operand had
                g = g.reshape(_insert_axes(g, kept, sub))
                g = np.broadcast_to(g, x.shape)
            grads.append(g)
        return tuple(grads)


def _insert_axes(g, kept: str, full: str) -> tuple:
    """Shape of `g` (subscripts `kept`) with size-1 axes where `full` has indices that `kept` lacks."""
    sizes = dict(zip(kept, g.shape))
    return tuple(sizes.get(c, 1) for c in full)


# ----- inverse, solve, determinant, singular values -----------------------------------------------------------------
def _mT(a):  # noqa: N802 - the matrix transpose of the last two dims (arrays and Tensors alike)
    return np.swapaxes(a, -1, -2)


class Inv(Function):
    """Y = A⁻¹ (batched);   dL/dA = −Yᵀ · dL/dY · Yᵀ"""

    def forward(self, a):
        y = np.linalg.inv(a)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return -(_mT(y) @ gy @ _mT(y))


class Solve(Function):
    """X = A⁻¹B for square A (batched; B of shape (…, n, k));   dL/dB = A⁻ᵀ · dL/dX,   dL/dA = −dL/dB · Xᵀ"""

    def forward(self, a, b):
        x = np.linalg.solve(a, b)
        self.save_for_backward(a, x)
        return x

    def backward(self, gx):
        a, x = self.saved_tensors
        gb = Solve.call(_mT(a), gx)
        return -(gb @ _mT(x)), gb


class Det(Function):
    """d = det A (batched);   dL/dA = dL/dd · d · A⁻ᵀ"""

    def forward(self, a):
        d = np.linalg.det(a)
        self.save_for_backward(a, d)
        return d

    def backward(self, gd):
        a, d = self.saved_tensors
        return (gd * d)[..., None, None] * _mT(Inv.call(a))


class Slogdet(Function):
    """(sign, log|det A|) of square matrices (batched), packed as one array (…, 2) that `gn.linalg.slogdet` splits;
    d log|det A| / dA = A⁻ᵀ, so dL/dA = dL/dlogabsdet · A⁻ᵀ, and the sign (piecewise constant) passes no gradient.

    A singular matrix has sign 0 and log|det A| = −inf, where the derivative does not exist: its gradient is NaN
    (PyTorch's there is a mix of ±inf and NaN that its LU solve happens to produce)."""

    def forward(self, a):
        sign, logabsdet = np.linalg.slogdet(a)
        out = np.stack([sign, logabsdet], axis=-1)
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, out = self.saved_tensors
        raw = a.data if hasattr(a, "grad_fn") else a
        singular = (out[..., 0] == 0)[..., None, None]
        eye = array_module(raw).eye(raw.shape[-1], dtype=raw.dtype)
        a_inv_t = _mT(Inv.call(np.where(singular, eye, a)))  # (the identity stands in where A has no inverse)
        return np.where(singular, np.nan, g[..., 1][..., None, None] * a_inv_t)


class SvdVals(Function):
    """s = the singular values of A (descending, batched);   dL/dA = U · diag(dL/ds) · Vᴴ
    (U, Vᴴ: the singular vectors of A; the singular values must be distinct for the derivative to exist)"""

    def forward(self, a):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        self.u, self.vh = u, vh
        self.save_for_backward(a)
        return s

    def backward(self, gs):
        return (self.u * gs[..., None, :]) @ self.vh


def _skew(x):
    """X − Xᵀ (of the last two dims)."""
    return x - _mT(x)


class Svd(Function):
    """A = U · diag(S) · Vᵀ, the thin SVD (U: (…, m, k), S: (…, k) descending, V: (…, n, k), k = min(m, n)), returned
    packed as one array [U; S; V] of shape (…, m + 1 + n, k) that `gn.linalg.svd` slices into U, S and Vh = Vᵀ.

    With gU, gS, gV the gradients of the three parts, Eᵢⱼ = sⱼ² − sᵢ² off the diagonal and skew(X) = X − Xᵀ:
        C = (skew(Uᵀ gU) · diag(S) + diag(S) · skew(Vᵀ gV)) / E + diag(gS)      (C's own diagonal is diag(gS))
        m = n:  dL/dA = U C Vᵀ
        m > n:  dL/dA = (U C + (I − U Uᵀ) gU S⁻¹) Vᵀ          (the part of gU outside U's columns)
        m < n:  dL/dA = U (C Vᵀ + S⁻¹ gVᵀ (I − V Vᵀ))
    This is PyTorch's formula (linalg_svd_backward). U and V are defined up to the sign of each column pair (uₖ, vₖ),
    so only losses that do not depend on those signs have a gradient; and the division by sⱼ² − sᵢ² makes the
    gradient through U or V infinite (or NaN) for repeated singular values, as in PyTorch. When no gradient reaches
    U or V (both parts are zero: they were not used) the quotient is skipped, as PyTorch does for unused outputs,
    so a loss of S alone has a finite gradient even for repeated singular values.
    """

    def forward(self, a):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        self.m = a.shape[-2]
        out = np.concatenate([u, s[..., None, :], _mT(vh)], axis=-2)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved_tensors
        m = self.m
        u, s, v = out[..., :m, :], out[..., m, :], out[..., m + 1:, :]
        gu, gs, gv = g[..., :m, :], g[..., m, :], g[..., m + 1:, :]
        n, k = v.shape[-2], s.shape[-1]
        s_row, s_col = s[..., None, :], s[..., :, None]
        s2 = s * s
        raw = s2.data if hasattr(s2, "grad_fn") else s2
        eye = array_module(raw).eye(k, dtype=raw.dtype)
        e = s2[..., None, :] - s2[..., :, None] + eye  # sⱼ² − sᵢ², with 1 on the diagonal (where the numerator is 0)
        numerator = _skew(_mT(u) @ gu) * s_row + s_col * _skew(_mT(v) @ gv)
        with np.errstate(divide="ignore", invalid="ignore"):
            used = np.any(gu != 0) | np.any(gv != 0)  # PyTorch skips the quotient when U and V get no gradient
            c = np.where(used, numerator / e, 0 * numerator) + gs[..., :, None] * eye
            if m > n:
                gu_sinv = gu / s_row
                return (u @ c + gu_sinv - u @ (_mT(u) @ gu_sinv)) @ _mT(v)
            if m < n:
                gv_sinv = gv / s_row
                return u @ (c @ _mT(v) + _mT(gv_sinv) - (_mT(gv_sinv) @ v) @ _mT(v))
            return u @ c @ _mT(v)
