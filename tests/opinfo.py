"""The op registry (in the spirit of PyTorch's OpInfo) and the checks generated from it.

Each `OpInfo` names one op of the engine, says how to call it on either library (`fn(L, *xs, **kw)` with
`L` the module `glassnet` or `torch`: both spell `L.cat`, `L.einsum`, `L.nn.functional.gelu`, `x.sum(dim=1)`
alike), where its inputs may be sampled (`domain`) and lists sample inputs of several shapes, including
broadcasting, zero-size and 0-d cases. `tests/ops/test_<module>.py` turns the ops of one `glassnet/ops/`
module into the generated tests with `generated_tests(OPS)`:

- forward against PyTorch (float64 to 1e-10 relative, float32 to 1e-5), values, shapes and dtypes;
- first gradients against finite differences (`gn.autograd.gradcheck`) and against PyTorch;
- second gradients against finite differences (`gn.autograd.gradgradcheck`) and against PyTorch
  (`torch.autograd.grad(..., create_graph=True)`, differentiating with respect to the inputs and to the
  upstream gradient).

Torch is only the reference here; glassnet never imports it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn.functional  # noqa: F401 - makes gn.nn.functional reachable as L.nn.functional

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6),
       np.int64: dict(rtol=0, atol=0), np.int32: dict(rtol=0, atol=0), np.bool_: dict(rtol=0, atol=0)}
FLOATS = (np.float64, np.float32)
ALL_DTYPES = (np.float64, np.float32, np.int64, np.int32, np.bool_)
TORCH_DTYPE = {
    np.dtype("float64"): torch.float64,
    np.dtype("float32"): torch.float32,
    np.dtype("int64"): torch.int64,
    np.dtype("int32"): torch.int32,
    np.dtype("bool"): torch.bool,
}


# ----- sampling domains ----------------------------------------------------------------------------------
def real(rng, shape):
    """Standard normal values."""
    return rng.standard_normal(shape)


def positive(rng, shape):
    """Values in [0.5, 2] (log, sqrt, division, powers with real exponents)."""
    return rng.uniform(0.5, 2.0, shape)


def avoiding(*points: float, gap: float = 0.15, scale: float = 1.5):
    """Normal values kept at least `gap` away from each kink in `points` (so finite differences are smooth)."""

    def sample(rng, shape):
        x = rng.standard_normal(shape) * scale
        for p in points:
            near = np.abs(x - p) < gap
            x = np.where(near, p + np.where(x >= p, gap, -gap) * 1.5, x)
        return x

    sample.__name__ = f"avoiding{points}"
    return sample


away_from_zero = avoiding(0.0)


def uniform(lo: float, hi: float):
    """Uniform values in [lo, hi]."""

    def sample(rng, shape):
        return rng.uniform(lo, hi, shape)

    return sample


@dataclass
class Sample:
    """One set of inputs: the shapes of the tensor arguments and constant keyword arguments."""

    shapes: tuple
    kwargs: dict = field(default_factory=dict)
    desc: str = ""

    def __str__(self) -> str:
        text = ",".join("x".join(map(str, s)) if s else "0d" for s in self.shapes)
        if self.kwargs:
            text += "-" + ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return self.desc or text


def S(*shapes, desc: str = "", **kwargs) -> Sample:
    """A sample with tensor arguments of the given shapes and constant `kwargs`."""
    return Sample(tuple(tuple(s) for s in shapes), kwargs, desc)


@dataclass
class OpInfo:
    """One op: how to call it on either library, where to sample its inputs, and its sample inputs."""

    name: str
    fn: Callable
    samples: list
    domain: Callable | tuple = real  # one sampler for all inputs, or one per input
    torch_fn: Callable | None = None  # when torch spells it differently
    grad: bool = True  # False: not differentiable (argmax); forward only
    gradgrad: bool = True
    tol: dict = field(default_factory=dict)  # dtype -> overriding tolerances
    dtypes: tuple = FLOATS  # the dtypes the forward check runs in (ints and bools: values sampled then cast)

    def call(self, lib, *xs, **kw):
        fn = self.torch_fn if (lib is torch and self.torch_fn is not None) else self.fn
        return fn(lib, *xs, **kw)

    def domain_for(self, i: int) -> Callable:
        return self.domain[i] if isinstance(self.domain, tuple) else self.domain


def cases(ops: list) -> list:
    """pytest params (op, sample) with readable ids."""
    return [pytest.param(op, s, id=f"{op.name}-{s}") for op in ops for s in op.samples]


DTYPE_IDS = {np.float64: "f64", np.float32: "f32", np.int64: "i64", np.int32: "i32", np.bool_: "bool"}


def dtype_cases(ops: list) -> list:
    """pytest params (op, sample, dtype) over each op's own dtypes."""
    return [pytest.param(op, s, d, id=f"{op.name}-{s}-{DTYPE_IDS[d]}") for op in ops for s in op.samples
            for d in op.dtypes]


def grad_cases(ops: list, second: bool = False) -> list:
    return [p for p in cases(ops) if p.values[0].grad and (not second or p.values[0].gradgrad)]


# ----- running an op on both libraries --------------------------------------------------------------------
def make_arrays(op: OpInfo, sample: Sample, dtype=np.float64) -> list:
    rng = np.random.default_rng(zlib.crc32(f"{op.name}/{sample}".encode()))
    return [op.domain_for(i)(rng, s).astype(dtype) for i, s in enumerate(sample.shapes)]


def as_list(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def floating(outs: list) -> list:
    return [o for o in outs if o.dtype in (np.float32, np.float64, torch.float32, torch.float64)]


def to_numpy(t) -> np.ndarray:
    """The values of a glassnet or torch tensor, checking that a glassnet tensor holds a real ndarray."""
    if isinstance(t, torch.Tensor):
        return t.detach().numpy(force=True)  # force: torch's lazily-zero gradients (ZeroTensor)
    assert type(t.data) is np.ndarray, f"Tensor.data is a {type(t.data).__name__}, not an ndarray"
    return t.data


def assert_close(actual, expected, dtype, what: str, tol: dict | None = None) -> None:
    """Values (and shapes) agree within the dtype's tolerance."""
    tol = tol or TOL[np.dtype(dtype).type]
    a = to_numpy(actual) if not isinstance(actual, np.ndarray) else actual
    e = to_numpy(expected) if not isinstance(expected, np.ndarray) else expected
    assert a.shape == e.shape, f"{what}: shape {a.shape} != torch's {e.shape}"
    np.testing.assert_allclose(a, e, err_msg=what, **tol)


def _gn_inputs(arrays, requires_grad=True):
    return [gn.tensor(a, requires_grad=requires_grad) for a in arrays]


def _torch_inputs(arrays, requires_grad=True):
    return [torch.tensor(a, requires_grad=requires_grad) for a in arrays]


def _tol(op: OpInfo, dtype) -> dict:
    return op.tol.get(np.dtype(dtype).type, TOL[np.dtype(dtype).type])


# ----- the generated checks -------------------------------------------------------------------------------
def check_forward(op: OpInfo, sample: Sample, dtype) -> None:
    arrays = make_arrays(op, sample, dtype)
    ours = as_list(op.call(gn, *_gn_inputs(arrays, False), **sample.kwargs))
    theirs = as_list(op.call(torch, *_torch_inputs(arrays, False), **sample.kwargs))
    assert len(ours) == len(theirs), f"{op.name}: {len(ours)} outputs, torch gives {len(theirs)}"
    for k, (o, t) in enumerate(zip(ours, theirs)):
        assert isinstance(o, gn.Tensor), f"{op.name}: output {k} is a {type(o).__name__}, not a Tensor"
        assert TORCH_DTYPE[o.dtype] == t.dtype, f"{op.name}: output {k} has dtype {o.dtype}, torch {t.dtype}"
        out_dtype = o.dtype.type if o.dtype.type in TOL else dtype
        assert_close(to_numpy(o), t, out_dtype, f"{op.name} output {k}", _tol(op, out_dtype))


def check_grad_vs_torch(op: OpInfo, sample: Sample, dtype) -> None:
    arrays = make_arrays(op, sample, dtype)
    xs, txs = _gn_inputs(arrays), _torch_inputs(arrays)
    outs = floating(as_list(op.call(gn, *xs, **sample.kwargs)))
    touts = floating(as_list(op.call(torch, *txs, **sample.kwargs)))
    rng = np.random.default_rng(1)
    vs = [rng.standard_normal(o.shape).astype(dtype) for o in outs]
    ours = gn.grad(outs, xs, [gn.tensor(v) for v in vs], allow_unused=True)
    theirs = torch.autograd.grad(touts, txs, [torch.tensor(v) for v in vs], allow_unused=True)
    for k, (g, tg) in enumerate(zip(ours, theirs)):
        g = np.zeros_like(arrays[k]) if g is None else to_numpy(g)
        tg = np.zeros_like(arrays[k]) if tg is None else tg.numpy()
        assert g.dtype == arrays[k].dtype, f"{op.name}: gradient of input {k} is {g.dtype}, not {arrays[k].dtype}"
        assert_close(g, tg, dtype, f"{op.name}: d/d(input {k})", _tol(op, dtype))


def check_gradcheck(op: OpInfo, sample: Sample) -> None:
    xs = _gn_inputs(make_arrays(op, sample))
    assert gn.autograd.gradcheck(lambda *a: floating(as_list(op.call(gn, *a, **sample.kwargs))), xs)


def check_gradgradcheck(op: OpInfo, sample: Sample) -> None:
    xs = _gn_inputs(make_arrays(op, sample))
    assert gn.autograd.gradgradcheck(lambda *a: floating(as_list(op.call(gn, *a, **sample.kwargs))), xs)


def _second_grads(lib, op, sample, arrays):
    """d/d(inputs, v) of Σ w · (vᵀ J), the quantity torch's gradgradcheck compares."""
    grad = gn.grad if lib is gn else torch.autograd.grad
    make = (lambda a: gn.tensor(a, requires_grad=True)) if lib is gn else (
        lambda a: torch.tensor(a, requires_grad=True))
    xs = [make(a) for a in arrays]
    outs = floating(as_list(op.call(lib, *xs, **sample.kwargs)))
    rng = np.random.default_rng(2)
    vs = [make(rng.standard_normal(tuple(o.shape))) for o in outs]
    gs = grad(outs, xs, vs, create_graph=True, allow_unused=True)
    ws = [rng.standard_normal(a.shape) for a in arrays]
    terms = [(g * (gn.tensor(w) if lib is gn else torch.tensor(w))).sum()
             for g, w in zip(gs, ws) if g is not None and g.requires_grad]
    if not terms:
        return [np.zeros(np.shape(t.data if lib is gn else t.detach())) for t in xs + vs]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    second = grad(total, xs + vs, allow_unused=True)
    return [np.zeros(tuple(t.shape)) if g is None else to_numpy(g) for g, t in zip(second, xs + vs)]


def check_gradgrad_vs_torch(op: OpInfo, sample: Sample) -> None:
    arrays = make_arrays(op, sample)
    ours = _second_grads(gn, op, sample, arrays)
    theirs = _second_grads(torch, op, sample, arrays)
    n = len(arrays)
    for k, (g, tg) in enumerate(zip(ours, theirs)):
        what = f"d/d(input {k})" if k < n else f"d/d(upstream gradient {k - n})"
        assert_close(g, tg, np.float64, f"{op.name}: second derivative {what}", _tol(op, np.float64))


def check_against_torch(fn: Callable, *arrays, second: bool = False, tol: dict | None = None) -> None:
    """`fn(L, *xs)` gives the same outputs, first (and optionally second) gradients in glassnet and torch.

    For hand-picked inputs: kinks, ties, zeros, unusual indices. NaN and Inf must match too.
    """
    op = OpInfo("check", fn, [])
    sample = Sample(tuple(np.shape(a) for a in arrays))
    tol = tol or dict(rtol=1e-10, atol=1e-12, equal_nan=True)
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    outs = floating(as_list(fn(gn, *_gn_inputs(arrays))))
    touts = floating(as_list(fn(torch, *_torch_inputs(arrays))))
    for o, t in zip(outs, touts):
        assert_close(to_numpy(o), t, np.float64, "output", tol)
    xs, txs = _gn_inputs(arrays), _torch_inputs(arrays)
    outs, touts = floating(as_list(fn(gn, *xs))), floating(as_list(fn(torch, *txs)))
    vs = [np.arange(1.0, o.data.size + 1).reshape(o.shape) for o in outs]
    ours = gn.grad(outs, xs, [gn.tensor(v) for v in vs], allow_unused=True)
    theirs = torch.autograd.grad(touts, txs, [torch.tensor(v) for v in vs], allow_unused=True)
    for k, (g, tg) in enumerate(zip(ours, theirs)):
        g = np.zeros_like(arrays[k]) if g is None else to_numpy(g)
        tg = np.zeros_like(arrays[k]) if tg is None else to_numpy(tg)  # (a ZeroTensor too)
        assert_close(g, tg, np.float64, f"d/d(input {k})", tol)
    if second:
        ours, theirs = _second_grads(gn, op, sample, arrays), _second_grads(torch, op, sample, arrays)
        for k, (g, tg) in enumerate(zip(ours, theirs)):
            assert_close(g, tg, np.float64, f"second derivative {k}", tol)


def generated_tests(ops: list) -> tuple:
    """The five generated tests for a list of ops (assign them to test_* names in a test module)."""

    @pytest.mark.parametrize("op,sample,dtype", dtype_cases(ops))
    def test_forward_matches_torch(op, sample, dtype):
        check_forward(op, sample, dtype)

    @pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
    @pytest.mark.parametrize("op,sample", grad_cases(ops))
    def test_grad_matches_torch(op, sample, dtype):
        check_grad_vs_torch(op, sample, dtype)

    @pytest.mark.parametrize("op,sample", grad_cases(ops))
    def test_gradcheck(op, sample):
        check_gradcheck(op, sample)

    @pytest.mark.parametrize("op,sample", grad_cases(ops, second=True))
    def test_gradgradcheck(op, sample):
        check_gradgradcheck(op, sample)

    @pytest.mark.parametrize("op,sample", grad_cases(ops, second=True))
    def test_gradgrad_matches_torch(op, sample):
        check_gradgrad_vs_torch(op, sample)

    return (test_forward_matches_torch, test_grad_matches_torch, test_gradcheck, test_gradgradcheck,
            test_gradgrad_matches_torch)


# ----- the registry ---------------------------------------------------------------------------------------
BINARY = [
    S((2, 3), (2, 3)),
    S((2, 3), (3,), desc="broadcast-row"),
    S((4, 1, 3), (2, 1), desc="broadcast-both"),
    S((), (2, 3), desc="0d-with-2d"),
    S((2, 3), (), desc="2d-with-0d"),
    S((), (), desc="0d-0d"),
    S((0, 3), (3,), desc="zero-size"),
]
UNARY = [S((2, 3)), S((5,)), S(()), S((0, 4)), S((2, 1, 3))]
SCALAR_SAMPLES = [S((2, 3)), S(()), S((0, 2))]

ARITHMETIC = [
    OpInfo("add", lambda L, a, b: a + b, BINARY),
    OpInfo("add_scalar", lambda L, a: a + 1.5, SCALAR_SAMPLES),
    OpInfo("radd_int", lambda L, a: 2 + a, SCALAR_SAMPLES),
    OpInfo("sub", lambda L, a, b: a - b, BINARY),
    OpInfo("rsub_scalar", lambda L, a: 1.5 - a, SCALAR_SAMPLES),
    OpInfo("mul", lambda L, a, b: a * b, BINARY),
    OpInfo("mul_self", lambda L, a: a * a, SCALAR_SAMPLES),
    OpInfo("rmul_scalar", lambda L, a: 0.5 * a, SCALAR_SAMPLES),
    OpInfo("div", lambda L, a, b: a / b, BINARY, domain=(real, positive)),
    OpInfo("div_scalar", lambda L, a: a / 3, SCALAR_SAMPLES),
    OpInfo("rdiv_scalar", lambda L, a: 2.0 / a, SCALAR_SAMPLES, domain=positive),
    OpInfo("pow", lambda L, a, b: a**b, BINARY, domain=(positive, real)),
    OpInfo("pow_int", lambda L, a: a**3, SCALAR_SAMPLES),
    OpInfo("pow_2", lambda L, a: a.pow(2), SCALAR_SAMPLES),
    OpInfo("pow_half", lambda L, a: a**0.5, SCALAR_SAMPLES, domain=positive),
    OpInfo("pow_neg", lambda L, a: a**-1.5, SCALAR_SAMPLES, domain=positive),
    OpInfo("pow_zero", lambda L, a: a**0, SCALAR_SAMPLES),
    OpInfo("rpow", lambda L, a: 2.0**a, SCALAR_SAMPLES),
    OpInfo("neg", lambda L, a: -a, UNARY),
    OpInfo("abs", lambda L, a: a.abs(), UNARY, domain=away_from_zero),
    OpInfo("exp", lambda L, a: a.exp(), UNARY),
    OpInfo("log", lambda L, a: a.log(), UNARY, domain=positive),
    OpInfo("log1p", lambda L, a: a.log1p(), UNARY, domain=positive),
    OpInfo("sqrt", lambda L, a: a.sqrt(), UNARY, domain=positive),
    OpInfo("rsqrt", lambda L, a: a.rsqrt(), UNARY, domain=positive),
    OpInfo("sin", lambda L, a: a.sin(), UNARY),
    OpInfo("cos", lambda L, a: a.cos(), UNARY),
    OpInfo("square", lambda L, a: a.square(), UNARY),
    OpInfo("reciprocal", lambda L, a: a.reciprocal(), UNARY, domain=positive),
    OpInfo("clamp", lambda L, a, **kw: a.clamp(**kw),
           [S((2, 3), min=-0.5, max=0.5), S((4,), min=0.0), S((), max=0.2), S((0, 2), min=-1.0, max=1.0)],
           domain=avoiding(-0.5, 0.0, 0.2, 0.5, gap=0.05)),
    OpInfo("clip", lambda L, a: a.clip(-0.5, 0.5), UNARY, domain=avoiding(-0.5, 0.5, gap=0.05)),
    OpInfo("clamp_tensor", lambda L, a, lo, hi: a.clamp(lo, hi),
           [S((2, 3), (3,), (2, 1)), S((), (), ())], domain=(real, uniform(-1.0, -0.2), uniform(0.2, 1.0))),
    OpInfo("maximum", lambda L, a, b: L.maximum(a, b), BINARY),
    OpInfo("minimum", lambda L, a, b: L.minimum(a, b), BINARY),
    OpInfo("max_binary", lambda L, a, b: a.max(b), BINARY[:3]),
    OpInfo("where", lambda L, a, b: L.where(L.tensor(np.array([True, False, True])), a, b),
           [S((2, 3), (2, 3)), S((3,), ()), S((2, 1), (3,)), S((0, 3), (3,))]),
    OpInfo("where_scalar", lambda L, a: L.where(a > 0, a, 0.0), [S((2, 3)), S(())], domain=away_from_zero),
]

REDUCE_SHAPES = [(2, 3, 4), (5,), ()]


def _reduce_samples(zero_size=True, tuple_dims=True):
    out = [S((2, 3, 4)), S((2, 3, 4), dim=1), S((2, 3, 4), dim=-1, keepdim=True), S((5,), dim=0), S(()),
           S((), dim=0), S((), dim=-1, keepdim=True)]
    if tuple_dims:
        out += [S((2, 3, 4), dim=(0, 2)), S((2, 3, 4), dim=(-1, 0), keepdim=True)]
    if zero_size:
        out += [S((0, 3), dim=1), S((0, 3), dim=0)]
    return out


REDUCTION = [
    OpInfo("sum", lambda L, a, **kw: a.sum(**kw), _reduce_samples()),
    OpInfo("mean", lambda L, a, **kw: a.mean(**kw), _reduce_samples(zero_size=False) + [S((0, 3), dim=1)]),
    OpInfo("amax", lambda L, a, **kw: a.amax(**kw), _reduce_samples(zero_size=False) + [S((0, 3), dim=1)]),
    OpInfo("amin", lambda L, a, **kw: a.amin(**kw), _reduce_samples(zero_size=False) + [S((0, 3), dim=1)]),
    OpInfo("max_all", lambda L, a: a.max(), [S((2, 3)), S(()), S((4,))]),
    OpInfo("min_all", lambda L, a: a.min(), [S((2, 3)), S(()), S((4,))]),
    OpInfo("max_dim", lambda L, a, **kw: a.max(**kw),
           [S((2, 3, 4), dim=1), S((2, 3), dim=-1, keepdim=True), S((5,), dim=0), S((), dim=0)]),
    OpInfo("min_dim", lambda L, a, **kw: a.min(**kw),
           [S((2, 3, 4), dim=1), S((2, 3), dim=-1, keepdim=True), S((5,), dim=0), S((), dim=0)]),
    OpInfo("var", lambda L, a, **kw: a.var(**kw),
           [S((2, 3, 4)), S((2, 3, 4), dim=1), S((2, 3), dim=-1, keepdim=True), S((2, 3, 4), dim=(0, 2)),
            S((5,), correction=0), S((3, 4), dim=0, unbiased=False), S((4, 3), dim=1, correction=2)]),
    OpInfo("std", lambda L, a, **kw: a.std(**kw),
           [S((2, 3, 4)), S((2, 3, 4), dim=1), S((2, 3), dim=-1, keepdim=True), S((5,), correction=0),
            S((3, 4), dim=(0, 1))]),
    OpInfo("prod", lambda L, a, **kw: a.prod(**kw),
           [S((2, 3)), S((2, 3, 4), dim=1), S((2, 3), dim=-1, keepdim=True), S((5,), dim=0), S(()), S((0, 3), dim=1),
            S((0, 3), dim=0)]),
    OpInfo("logsumexp", lambda L, a, **kw: a.logsumexp(**kw),
           [S((2, 3, 4), dim=1), S((2, 3), dim=-1, keepdim=True), S((5,), dim=0), S((), dim=0),
            S((2, 3, 4), dim=(0, 2)), S((0, 3), dim=1), S((0, 3), dim=0)]),
    OpInfo("argmax", lambda L, a, **kw: a.argmax(**kw),
           [S((2, 3, 4)), S((2, 3, 4), dim=1), S((2, 3), dim=-1, keepdim=True), S(()), S((5,), dim=0)], grad=False),
    OpInfo("argmin", lambda L, a, **kw: a.argmin(**kw),
           [S((2, 3, 4)), S((2, 3, 4), dim=1), S((2, 3), dim=-1, keepdim=True), S(()), S((5,), dim=0)], grad=False),
    OpInfo("gather", lambda L, a: a.gather(1, L.tensor(np.array([[0, 2, 2, 1], [1, 1, 0, 0]]))), [S((2, 3))]),
]

SHAPE = [
    OpInfo("reshape", lambda L, a, shape: a.reshape(shape),
           [S((2, 3), shape=(3, 2)), S((2, 3, 4), shape=(4, -1)), S((), shape=(1, 1)), S((0, 3), shape=(3, 0, 1)),
            S((6,), shape=(6,))]),
    OpInfo("view", lambda L, a: a.view(-1), [S((2, 3)), S(()), S((0, 2))]),
    OpInfo("transpose", lambda L, a, d0, d1: a.transpose(d0, d1),
           [S((2, 3), d0=0, d1=1), S((2, 3, 4), d0=-1, d1=0), S((0, 3), d0=0, d1=1)]),
    OpInfo("permute", lambda L, a, dims: a.permute(dims),
           [S((2, 3, 4), dims=(2, 0, 1)), S((2, 3), dims=(1, 0)), S((), dims=()), S((0, 2, 3), dims=(-1, 0, 1))]),
    OpInfo("T", lambda L, a: a.T, [S((2, 3)), S((1, 4)), S((0, 2))]),
    OpInfo("mT", lambda L, a: a.mT, [S((2, 3)), S((2, 3, 4)), S((0, 2, 3))]),
    OpInfo("expand", lambda L, a, shape: a.expand(*shape),
           [S((3, 1), shape=(3, 4)), S((3,), shape=(2, 3)), S((), shape=(2, 2)), S((1, 3), shape=(-1, 3)),
            S((1, 0), shape=(2, 0)), S((2, 1, 1), shape=(4, 2, 3, -1))]),
    OpInfo("expand_as", lambda L, a, b: a.expand_as(b.detach()), [S((3, 1), (2, 3, 4)), S((), (2,))]),
    OpInfo("squeeze", lambda L, a, **kw: a.squeeze(**kw),
           [S((1, 3, 1)), S((1, 3, 1), dim=0), S((1, 3, 1), dim=-1), S((2, 3), dim=1), S(()), S((1, 0, 1)),
            S((1, 3, 1), dim=(0, 2))]),
    OpInfo("unsqueeze", lambda L, a, dim: a.unsqueeze(dim),
           [S((2, 3), dim=0), S((2, 3), dim=-1), S((2, 3), dim=1), S((), dim=0), S((0,), dim=1)]),
    OpInfo("flatten", lambda L, a, **kw: a.flatten(**kw),
           [S((2, 3, 4)), S((2, 3, 4), start_dim=1), S((2, 3, 4, 1), start_dim=1, end_dim=2), S(()), S((0, 3))]),
    OpInfo("unflatten", lambda L, a, dim, sizes: a.unflatten(dim, sizes),
           [S((2, 6), dim=1, sizes=(2, 3)), S((6,), dim=0, sizes=(3, -1)), S((2, 0), dim=-1, sizes=(0, 5))]),
    OpInfo("repeat", lambda L, a, reps: a.repeat(*reps),
           [S((2, 3), reps=(2, 1)), S((3,), reps=(2, 2)), S((), reps=(3,)), S((2, 1), reps=(1, 2, 3)),
            S((0, 2), reps=(2, 2))]),
    OpInfo("tile", lambda L, a, reps: a.tile(reps),
           [S((2, 3), reps=(2,)), S((3,), reps=(2, 2)), S((2, 3), reps=(2, 1, 2)), S((), reps=(2,))]),
    OpInfo("getitem_int", lambda L, a: a[1], [S((3, 4)), S((3,)), S((2, 3, 4))]),
    OpInfo("getitem_neg_int", lambda L, a: a[-1, 0], [S((3, 4)), S((2, 3, 4))]),
    OpInfo("getitem_slice", lambda L, a: a[1:, ::2], [S((3, 4)), S((3, 5, 2)), S((3, 0))]),
    OpInfo("getitem_none_ellipsis", lambda L, a: a[None, ..., 0], [S((3, 4)), S((2, 3, 4)), S((3,))]),
    OpInfo("getitem_ellipsis_slice", lambda L, a: a[..., 1:3, None], [S((3, 4)), S((2, 3, 4))]),
    OpInfo("getitem_0d", lambda L, a: a[...], [S(())]),
    OpInfo("getitem_0d_none", lambda L, a: a[None], [S(())]),
    OpInfo("getitem_bool_mask", lambda L, a: a[L.tensor(np.array([[True, False, True], [False, False, True]]))],
           [S((2, 3)), S((2, 3, 2))]),
    OpInfo("getitem_bool_mask_row", lambda L, a: a[L.tensor(np.array([True, False, True]))], [S((3,)), S((3, 2))]),
    OpInfo("getitem_mask_from_values", lambda L, a: a[a > 0], [S((3, 4)), S(())], domain=away_from_zero),
    OpInfo("getitem_int_array_repeated", lambda L, a: a[L.tensor(np.array([0, 2, 0, 0]))], [S((3,)), S((3, 2))]),
    OpInfo("getitem_list_repeated", lambda L, a: a[[1, 1, 0]], [S((2, 3)), S((2,))]),
    OpInfo("getitem_two_arrays", lambda L, a: a[L.tensor(np.array([0, 1, 1])), L.tensor(np.array([2, 0, 2]))],
           [S((2, 3)), S((2, 3, 2))]),
    OpInfo("getitem_array_2d", lambda L, a: a[:, L.tensor(np.array([[0, 1], [1, 1]]))], [S((2, 3)), S((3, 2, 2))]),
    OpInfo("getitem_empty_array", lambda L, a: a[L.tensor(np.zeros(0, dtype=np.int64))], [S((3, 2))]),
    OpInfo("cat", lambda L, *xs, dim=0: L.cat(list(xs), dim),
           [S((2, 3), (1, 3)), S((2, 3), (2, 1), (2, 2), dim=1), S((3,), (0,)), S((2, 0), (2, 3), dim=-1),
            S((4,), desc="single")]),
    OpInfo("stack", lambda L, *xs, dim=0: L.stack(list(xs), dim),
           [S((2, 3), (2, 3)), S((2, 3), (2, 3), (2, 3), dim=2), S((), ()), S((0, 2), (0, 2), dim=-1)]),
    OpInfo("split", lambda L, a, size, dim=0: L.split(a, size, dim),
           [S((5, 2), size=2), S((2, 6), size=[1, 2, 3], dim=1), S((4,), size=4), S((3, 4), size=3, dim=-1)]),
    OpInfo("split_method", lambda L, a: a.split(2, -1), [S((3, 5))]),
    OpInfo("chunk", lambda L, a, n, dim=0: a.chunk(n, dim),
           [S((6, 2), n=3), S((5, 2), n=2), S((2, 7), n=3, dim=1), S((3,), n=1)]),
    OpInfo("pad", lambda L, a, pad, value=0.0: L.nn.functional.pad(a, pad, value=value),
           [S((2, 3), pad=(1, 2)), S((2, 3, 4), pad=(1, 0, 0, 2)), S((3,), pad=(2, 2), value=1.5),
            S((1, 2, 3), pad=(0, 0, 1, 1, 2, 0)), S((0, 2), pad=(1, 1))]),
]

MATMUL_SAMPLES = [
    S((3, 4), (4, 5), desc="2d@2d"),
    S((4,), (4,), desc="1d@1d"),
    S((4,), (4, 5), desc="1d@2d"),
    S((3, 4), (4,), desc="2d@1d"),
    S((2, 3, 4), (4, 5), desc="3d@2d"),
    S((3, 4), (2, 4, 5), desc="2d@3d"),
    S((2, 1, 3, 4), (3, 4, 2), desc="broadcast-batch"),
    S((4,), (2, 4, 3), desc="1d@3d"),
    S((2, 3, 4), (4,), desc="3d@1d"),
    S((0, 4), (4, 3), desc="zero-rows"),
    S((3, 0), (0, 2), desc="zero-inner"),
]

LINALG = [
    OpInfo("matmul", lambda L, a, b: a @ b, MATMUL_SAMPLES),
    OpInfo("matmul_fn", lambda L, a, b: L.matmul(a, b), MATMUL_SAMPLES[:4]),
    OpInfo("einsum", lambda L, *xs, eq: L.einsum(eq, *xs),
           [S((3, 4), (4, 5), eq="ij,jk->ik"), S((2, 3, 4), (2, 4, 5), eq="bij,bjk->bik"), S((4,), (4,), eq="i,i->"),
            S((3, 4), eq="ij->ji"), S((3, 4), eq="ij->"), S((2, 3, 4), (4, 5), eq="...ij,jk->...ik"),
            S((3,), (4,), eq="i,j->ij"), S((3, 4), (4, 5), eq="ij,jk"), S((2, 3), (3, 4), (4,), eq="ij,jk,k->i"),
            S((3, 4), eq="ij->i"), S((0, 3), (3, 2), eq="ij,jk->ik"), S((2, 3), (3,), eq="ij,j->ij"),
            S((3,), (), eq="i,->i"), S((), eq="->"), S((3, 3), eq="ii->i"), S((3, 3), eq="ii"),
            S((2, 3, 3), eq="bii->bi"), S((3, 2, 3), (2,), eq="iji,j->i"), S((2, 3, 3), eq="...ii->...i"),
            S((2, 4, 3, 3), eq="...ii"), S((3, 3, 2), (1, 2), eq="ii...,...->i...")]),
    OpInfo("F.linear", lambda L, x, w, b: L.nn.functional.linear(x, w, b),
           [S((4, 3), (2, 3), (2,)), S((2, 5, 3), (4, 3), (4,)), S((3,), (2, 3), (2,)), S((0, 3), (2, 3), (2,))]),
    OpInfo("F.linear_nobias", lambda L, x, w: L.nn.functional.linear(x, w), [S((4, 3), (2, 3))]),
]


def _F(name):
    return lambda L, a, **kw: getattr(L.nn.functional, name)(a, **kw)


ACT_SAMPLES = [S((2, 3)), S((7,)), S(()), S((0, 3))]

ACTIVATION = [
    OpInfo("tanh", lambda L, a: a.tanh(), ACT_SAMPLES),
    OpInfo("sigmoid", lambda L, a: a.sigmoid(), ACT_SAMPLES),
    OpInfo("relu", lambda L, a: a.relu(), ACT_SAMPLES, domain=away_from_zero),
    OpInfo("F.relu", _F("relu"), ACT_SAMPLES, domain=away_from_zero),
    OpInfo("F.leaky_relu", _F("leaky_relu"), ACT_SAMPLES + [S((2, 3), negative_slope=0.2)], domain=away_from_zero),
    OpInfo("F.elu", _F("elu"), ACT_SAMPLES + [S((2, 3), alpha=0.5)], domain=away_from_zero),
    OpInfo("F.selu", _F("selu"), ACT_SAMPLES, domain=away_from_zero),
    OpInfo("F.gelu", _F("gelu"), ACT_SAMPLES),
    OpInfo("F.gelu_tanh", lambda L, a: L.nn.functional.gelu(a, approximate="tanh"), ACT_SAMPLES),
    OpInfo("F.silu", _F("silu"), ACT_SAMPLES),
    OpInfo("F.softplus", _F("softplus"),
           ACT_SAMPLES + [S((2, 3), beta=2.0), S((2, 3), beta=0.5, threshold=1.0)], domain=avoiding(2.0)),
    OpInfo("F.sigmoid", _F("sigmoid"), ACT_SAMPLES),
    OpInfo("F.tanh", _F("tanh"), ACT_SAMPLES),
    OpInfo("F.softmax", _F("softmax"),
           [S((2, 3), dim=-1), S((2, 3, 4), dim=1), S((5,), dim=0), S((), dim=0), S((0, 3), dim=1)]),
    OpInfo("F.log_softmax", _F("log_softmax"),
           [S((2, 3), dim=-1), S((2, 3, 4), dim=1), S((5,), dim=0), S((), dim=0), S((0, 3), dim=1)]),
    OpInfo("softmax_method", lambda L, a: a.softmax(0), [S((3, 2))]),
    OpInfo("log_softmax_method", lambda L, a: a.log_softmax(-1), [S((3, 2))]),
    OpInfo("F.hardtanh", _F("hardtanh"), ACT_SAMPLES + [S((2, 3), min_val=-0.5, max_val=2.0)],
           domain=avoiding(-1.0, 1.0, -0.5, 2.0, gap=0.05)),
]

REGISTRY = {"arithmetic": ARITHMETIC, "reduction": REDUCTION, "shape": SHAPE, "linalg": LINALG,
            "activation": ACTIVATION}
ALL_OPS = [op for ops in REGISTRY.values() for op in ops]


# ----- the second round of PyTorch parity (glassnet/functions.py over ops/maths.py, scan.py, indexing.py) -----------
def integers(lo: int, hi: int):
    """Whole numbers in [lo, hi] (as floats; cast to each dtype of the op)."""

    def sample(rng, shape):
        return rng.integers(lo, hi + 1, shape).astype(np.float64)

    sample.__name__ = f"integers({lo},{hi})"
    return sample


def _distinct(rng, shape):
    """A random permutation of well-separated values (no ties, so orderings and their gradients are unique)."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.37 + rng.uniform(0, 0.1, n) - n * 0.15).reshape(shape)


def _ix(L, values):
    return L.tensor(np.array(values))


def away_from_integers(rng, shape):
    """Values at least 0.1 from every integer (so floor, round and % are smooth there)."""
    x = rng.standard_normal(shape) * 2.5
    return np.floor(x) + 0.1 + 0.8 * rng.uniform(0, 1, shape)


def _nonzero(lo, hi):
    def sample(rng, shape):
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(lo, hi, shape)

    return sample


ALL = ALL_DTYPES
INTS = (np.float64, np.float32, np.int64, np.int32)
MATHS = [
    OpInfo("floor", lambda L, a: L.floor(a), UNARY, domain=away_from_integers, dtypes=INTS),
    OpInfo("ceil", lambda L, a: a.ceil(), UNARY, domain=away_from_integers, dtypes=INTS),
    OpInfo("trunc", lambda L, a: a.trunc(), UNARY, domain=away_from_integers, dtypes=INTS),
    OpInfo("round", lambda L, a: a.round(), UNARY, domain=away_from_integers, dtypes=INTS),
    OpInfo("round_decimals", lambda L, a, **kw: L.round(a, **kw), [S((2, 3), decimals=1), S((4,), decimals=-1)],
           domain=avoiding(-0.15, -0.05, 0.05, 0.15, gap=0.01)),
    OpInfo("frac", lambda L, a: a.frac(), UNARY, domain=away_from_integers),
    OpInfo("sign", lambda L, a: L.sign(a), UNARY, domain=away_from_zero, dtypes=INTS),
    OpInfo("floor_divide", lambda L, a, b: a // b, BINARY[:4], domain=(real, _nonzero(0.5, 2.0)), grad=False,
           dtypes=FLOATS),
    OpInfo("floor_divide_int", lambda L, a, b: L.floor_divide(a, b), [S((2, 3), (2, 3)), S((3,), ())],
           domain=(integers(-9, 9), integers(1, 4)), grad=False, dtypes=(np.int64, np.int32)),
    OpInfo("div_trunc", lambda L, a, b: L.div(a, b, rounding_mode="trunc"), BINARY[:4],
           domain=(away_from_integers, _nonzero(1.0, 1.0)), dtypes=INTS),
    OpInfo("div_floor", lambda L, a, b: a.div(b, rounding_mode="floor"), BINARY[:4],
           domain=(away_from_integers, _nonzero(1.0, 1.0)), dtypes=INTS),
    OpInfo("remainder", lambda L, a, b: a % b, BINARY, domain=(away_from_integers, uniform(2.05, 2.95))),
    OpInfo("remainder_int", lambda L, a: a % 3, SCALAR_SAMPLES, domain=integers(-9, 9), dtypes=(np.int64, np.int32),
           grad=False),
    OpInfo("rmod_scalar", lambda L, a: 5.5 % a, SCALAR_SAMPLES, domain=uniform(1.1, 1.3), grad=False),  # torch: none
    OpInfo("div_trunc_int", lambda L, a, b: a.div(b, rounding_mode="trunc"), [S((2, 3), (2, 3)), S((3,), ())],
           domain=(integers(-9, 9), _nonzero(1.0, 4.0)), grad=False, dtypes=(np.int64, np.int32)),
    OpInfo("fmod", lambda L, a, b: L.fmod(a, b), BINARY, domain=(away_from_integers, uniform(2.05, 2.95))),
    OpInfo("erf", lambda L, a: L.erf(a), UNARY),
    OpInfo("erfc", lambda L, a: L.erfc(a), UNARY),
    OpInfo("erfinv", lambda L, a: L.erfinv(a), UNARY, domain=uniform(-0.9, 0.9)),
    OpInfo("log2", lambda L, a: a.log2(), UNARY, domain=positive),
    OpInfo("log10", lambda L, a: a.log10(), UNARY, domain=positive),
    OpInfo("exp2", lambda L, a: L.exp2(a), UNARY),
    OpInfo("expm1", lambda L, a: a.expm1(), UNARY),
    OpInfo("tan", lambda L, a: a.tan(), UNARY, domain=uniform(-1.2, 1.2)),
    OpInfo("asin", lambda L, a: a.asin(), UNARY, domain=uniform(-0.9, 0.9)),
    OpInfo("acos", lambda L, a: L.acos(a), UNARY, domain=uniform(-0.9, 0.9)),
    OpInfo("atan", lambda L, a: a.atan(), UNARY),
    OpInfo("atan2", lambda L, a, b: L.atan2(a, b), BINARY, domain=_nonzero(0.3, 2.0)),
    OpInfo("sinh", lambda L, a: a.sinh(), UNARY),
    OpInfo("cosh", lambda L, a: a.cosh(), UNARY),
    OpInfo("asinh", lambda L, a: a.asinh(), UNARY),
    OpInfo("acosh", lambda L, a: a.acosh(), UNARY, domain=uniform(1.2, 3.0)),
    OpInfo("atanh", lambda L, a: a.atanh(), UNARY, domain=uniform(-0.9, 0.9)),
    OpInfo("hypot", lambda L, a, b: L.hypot(a, b), BINARY),
    OpInfo("lerp", lambda L, a, b, w: L.lerp(a, b, w), [S((2, 3), (2, 3), (2, 3)), S((3,), (2, 3), ()),
                                                      S((), (), ())]),
    OpInfo("lerp_scalar", lambda L, a, b: a.lerp(b, 0.3), BINARY[:3]),
    OpInfo("logaddexp", lambda L, a, b: L.logaddexp(a, b), BINARY),
    OpInfo("copysign", lambda L, a, b: L.copysign(a, b), BINARY, domain=away_from_zero),
    OpInfo("xlogy", lambda L, a, b: L.xlogy(a, b), BINARY, domain=(real, positive)),
    OpInfo("var_mean", lambda L, a, **kw: L.var_mean(a, **kw),
           [S((2, 3, 4)), S((2, 3, 4), dim=1), S((3, 4), dim=-1, keepdim=True), S((5,), correction=0)]),
    OpInfo("std_mean", lambda L, a, **kw: L.std_mean(a, **kw), [S((2, 3, 4), dim=1), S((5,))]),
    OpInfo("prod_dtype", lambda L, a, **kw: a.prod(dtype=L.float64, **kw), [S((2, 3), dim=1), S((4,))],
           domain=integers(-3, 3), dtypes=(np.int64, np.int32, np.float32), grad=False),
]

SCAN = [
    OpInfo("cumsum", lambda L, a, dim: a.cumsum(dim),
           [S((2, 3), dim=1), S((2, 3, 4), dim=0), S((5,), dim=-1), S((), dim=0), S((0, 3), dim=1)], dtypes=ALL),
    OpInfo("cumprod", lambda L, a, dim: L.cumprod(a, dim),
           [S((2, 3), dim=1), S((2, 3, 4), dim=0), S((5,), dim=-1), S((), dim=0), S((0, 3), dim=1)],
           domain=_nonzero(0.5, 1.5), dtypes=INTS),
    OpInfo("cummax", lambda L, a, dim: a.cummax(dim), [S((2, 5), dim=1), S((3, 2), dim=0), S((), dim=0)],
           domain=_distinct, dtypes=INTS),
    OpInfo("cummin", lambda L, a, dim: L.cummin(a, dim), [S((2, 5), dim=1), S((4,), dim=0)], domain=_distinct,
           dtypes=INTS),
    OpInfo("logcumsumexp", lambda L, a, dim: a.logcumsumexp(dim),
           [S((2, 3), dim=1), S((2, 3, 4), dim=0), S((5,), dim=-1), S((), dim=0), S((0, 3), dim=1)]),
]

ORDERING = [
    OpInfo("sort", lambda L, a, **kw: a.sort(**kw),
           [S((2, 5)), S((3, 4), dim=0), S((2, 3, 4), dim=1, descending=True), S((5,), descending=True), S(()),
            S((0, 3))], domain=_distinct, dtypes=INTS),
    OpInfo("sort_ties", lambda L, a, **kw: L.sort(a, stable=True, **kw), [S((3, 6)), S((8,), descending=True)],
           domain=integers(0, 3), grad=False, dtypes=INTS),
    OpInfo("argsort", lambda L, a, **kw: a.argsort(**kw), [S((2, 5)), S((3, 4), dim=0, descending=True)],
           domain=_distinct, grad=False, dtypes=INTS),
    OpInfo("topk", lambda L, a, k, **kw: a.topk(k, **kw),
           [S((2, 5), k=2), S((3, 4), k=3, dim=0), S((6,), k=2, largest=False), S((4, 3), k=0)],
           domain=_distinct),  # (integers would tie, and torch leaves the order of ties open)
    OpInfo("kthvalue", lambda L, a, k, **kw: a.kthvalue(k, **kw),
           [S((2, 5), k=2), S((3, 4), k=1, dim=0, keepdim=True), S((6,), k=6)], domain=_distinct),
    OpInfo("median_all", lambda L, a: a.median(), [S((2, 5)), S((4,)), S(())], domain=_distinct, dtypes=INTS),
    OpInfo("median_dim", lambda L, a, **kw: L.median(a, **kw), [S((2, 5), dim=1), S((4, 3), dim=0, keepdim=True)],
           domain=_distinct, dtypes=INTS),
    OpInfo("mode", lambda L, a, **kw: a.mode(**kw), [S((3, 7)), S((6, 2), dim=0)], domain=integers(0, 2),
           grad=False, dtypes=INTS),
    OpInfo("unique", lambda L, a: L.unique(a, return_inverse=True, return_counts=True), [S((3, 5)), S((7,))],
           domain=integers(0, 4), grad=False, dtypes=INTS),
    OpInfo("searchsorted", lambda L, a, b: L.searchsorted(a.sort().values, b), [S((6,), (2, 3)), S((2, 5), (2, 3))],
           grad=False, dtypes=INTS),
    OpInfo("bucketize", lambda L, a, b: L.bucketize(a, b.sort().values, right=True), [S((2, 3), (4,))],
           domain=integers(-3, 3), grad=False, dtypes=INTS),
]

INDEXING = [
    OpInfo("flip", lambda L, a, dims: a.flip(dims), [S((2, 3), dims=(0,)), S((2, 3, 4), dims=(0, 2)),
                                                     S((3,), dims=-1), S((), dims=()), S((0, 2), dims=(1,))],
           dtypes=ALL),
    OpInfo("fliplr", lambda L, a: L.fliplr(a), [S((2, 3))]),
    OpInfo("flipud", lambda L, a: a.flipud(), [S((2, 3)), S((4,))]),
    OpInfo("roll", lambda L, a, **kw: a.roll(**kw),
           [S((5,), shifts=2), S((2, 3), shifts=1, dims=1), S((2, 3), shifts=(1, -4), dims=(0, 1)),
            S((3, 2), shifts=-1), S((0, 3), shifts=1, dims=0)], dtypes=ALL),
    OpInfo("rot90", lambda L, a, **kw: a.rot90(**kw),
           [S((2, 3)), S((2, 3), k=2), S((2, 3, 4), k=3, dims=(1, 2)), S((2, 3), k=-1)]),
    OpInfo("repeat_interleave", lambda L, a, **kw: a.repeat_interleave(**kw),
           [S((2, 3), repeats=2), S((2, 3), repeats=2, dim=1), S((3,), repeats=3, dim=0), S((0, 2), repeats=2, dim=1)],
           dtypes=ALL),
    OpInfo("repeat_interleave_counts", lambda L, a: a.repeat_interleave(_ix(L, [1, 0, 3]), dim=0), [S((3, 2))]),
    OpInfo("meshgrid", lambda L, a, b, **kw: L.meshgrid(a, b, **kw),
           [S((3,), (4,), indexing="ij"), S((3,), (2,), indexing="xy"), S((0,), (2,), indexing="ij")]),
    OpInfo("unfold", lambda L, a, d, n, step: a.unfold(d, n, step),
           [S((7,), d=0, n=2, step=2), S((2, 5, 3), d=1, n=3, step=1), S((4, 2), d=-2, n=4, step=3)], dtypes=ALL),
    OpInfo("movedim", lambda L, a, s, d: a.movedim(s, d),
           [S((2, 3, 4), s=0, d=2), S((2, 3, 4), s=(0, 1), d=(2, 0)), S((), s=(), d=())]),
    OpInfo("narrow", lambda L, a, **kw: a.narrow(**kw), [S((4, 3), dim=0, start=1, length=2),
                                                         S((4, 3), dim=1, start=-2, length=2)]),
    OpInfo("index_select", lambda L, a, dim: a.index_select(dim, _ix(L, [2, 0, 2])),
           [S((3, 4), dim=0), S((2, 3), dim=1), S((3,), dim=0)], dtypes=ALL),
    OpInfo("take", lambda L, a: a.take(_ix(L, [[0, 5], [2, 2]])), [S((2, 3))]),
    OpInfo("take_along_dim", lambda L, a, **kw: L.take_along_dim(a, _ix(L, [[0, 2], [1, 1]]), **kw),
           [S((2, 3), dim=1), S((3, 2), dim=0), S((2, 3))]),
    OpInfo("take_along_dim_broadcast", lambda L, a: L.take_along_dim(a, _ix(L, [[[1], [0]]]), dim=2), [S((3, 2, 4))]),
    OpInfo("masked_fill", lambda L, a, **kw: a.masked_fill(_ix(L, [True, False, True]), **kw),
           [S((2, 3), value=0.5), S((3,), value=-1.0), S((0, 3), value=2.0)], dtypes=ALL),
    OpInfo("masked_fill_inf", lambda L, a: a.masked_fill(a > 0, float("-inf")).softmax(-1), [S((2, 4))],
           domain=away_from_zero),
    OpInfo("masked_fill_tensor_value", lambda L, a, v: a.masked_fill(_ix(L, [[True], [False]]), v), [S((2, 3), ())]),
    OpInfo("masked_select", lambda L, a: a.masked_select(_ix(L, [True, False, True])), [S((2, 3)), S((3,))],
           dtypes=ALL),
    OpInfo("masked_scatter", lambda L, a, s: a.masked_scatter(_ix(L, [[True, False, True], [False, True, True]]), s),
           [S((2, 3), (5,)), S((2, 3), (2, 4))]),
    OpInfo("scatter", lambda L, a, s: a.scatter(1, _ix(L, [[0, 2], [1, 0]]), s), [S((2, 3), (2, 2)),
                                                                                 S((3, 4), (2, 2))]),
    OpInfo("scatter_value", lambda L, a: a.scatter(0, _ix(L, [[1, 0, 1]]), 2.5), [S((2, 3))], dtypes=ALL),
    OpInfo("scatter_add", lambda L, a, s: a.scatter_add(0, _ix(L, [[1, 0, 1], [1, 1, 0]]), s),
           [S((2, 3), (2, 3)), S((3, 4), (2, 3))]),
    OpInfo("scatter_reduce", lambda L, a, s, **kw: a.scatter_reduce(0, _ix(L, [[1, 0, 1], [1, 1, 0], [0, 1, 1]]), s,
                                                                    **kw),
           [S((2, 3), (3, 3), reduce=r, include_self=i) for r in ("sum", "prod", "mean", "amax", "amin")
            for i in (True, False)], domain=_nonzero(0.5, 2.0)),
    OpInfo("index_add", lambda L, a, s, **kw: a.index_add(0, _ix(L, [2, 0, 2]), s, **kw),
           [S((3, 2), (3, 2)), S((4,), (3,), alpha=2.0)]),
    OpInfo("index_copy", lambda L, a, s: a.index_copy(1, _ix(L, [2, 0]), s), [S((3, 4), (3, 2))]),
    OpInfo("tril", lambda L, a, **kw: a.tril(**kw), [S((3, 4)), S((2, 3, 3), diagonal=1), S((4, 2), diagonal=-1),
                                                      S((0, 3))], dtypes=ALL),
    OpInfo("triu", lambda L, a, **kw: L.triu(a, **kw), [S((3, 4)), S((2, 3, 3), diagonal=-1), S((2, 4), diagonal=2)],
           dtypes=ALL),
    OpInfo("diagonal", lambda L, a, **kw: a.diagonal(**kw),
           [S((3, 4)), S((3, 4), offset=1), S((4, 3), offset=-2), S((2, 3, 4), dim1=2, dim2=0), S((2, 3), offset=5)],
           dtypes=ALL),
    OpInfo("trace", lambda L, a: a.trace(), [S((3, 3)), S((2, 4))]),
    OpInfo("diag_embed", lambda L, a, **kw: L.diag_embed(a, **kw),
           [S((3,)), S((2, 3), offset=1), S((2, 3), offset=-1, dim1=0, dim2=2)]),
    OpInfo("diag", lambda L, a, **kw: L.diag(a, **kw), [S((3,)), S((3,), diagonal=2), S((3, 4), diagonal=-1)]),
    OpInfo("index_fill", lambda L, a, **kw: a.index_fill(1, _ix(L, [2, 0]), **kw), [S((3, 4), value=-2.0)],
           dtypes=ALL),
]

PREDICATE = [
    OpInfo(name, (lambda n: lambda L, a, b: getattr(a, n)(b))(name), BINARY[:4] + [S((2, 3), (2, 1))],
           domain=integers(-2, 2), grad=False, dtypes=ALL)
    for name in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor")
] + [
    OpInfo("eq_scalar", lambda L, a: a.eq(1), [S((2, 3)), S(())], domain=integers(-2, 2), grad=False, dtypes=ALL),
    OpInfo("logical_not", lambda L, a: L.logical_not(a), UNARY, domain=integers(-1, 1), grad=False, dtypes=ALL),
    OpInfo("any", lambda L, a, **kw: a.any(**kw), [S((2, 3)), S((2, 3), dim=1), S((3, 4), dim=0, keepdim=True), S(()),
                                                  S((0, 3))], domain=integers(0, 1), grad=False, dtypes=ALL),
    OpInfo("all", lambda L, a, **kw: L.all(a, **kw), [S((2, 3)), S((2, 3), dim=1), S(()), S((0, 3), dim=0)],
           domain=integers(0, 1), grad=False, dtypes=ALL),
    OpInfo("count_nonzero", lambda L, a, **kw: L.count_nonzero(a, **kw), [S((2, 3)), S((2, 3), dim=1), S(()),
                                                                      S((2, 3, 4), dim=(0, 2)), S((0, 3), dim=0)],
           domain=integers(-1, 1), grad=False, dtypes=ALL),
    OpInfo("isnan", lambda L, a: L.isnan(a / a), [S((2, 3)), S(())], domain=integers(-1, 1), grad=False),
    OpInfo("isinf", lambda L, a: (1 / a).isinf(), [S((2, 3))], domain=integers(-1, 1), grad=False),
    OpInfo("isfinite", lambda L, a: L.isfinite(1 / a), [S((2, 3)), S((0,))], domain=integers(-1, 1), grad=False),
    OpInfo("isclose", lambda L, a, b: L.isclose(a, a + b * 1e-6), BINARY[:3], grad=False),
    OpInfo("bitwise_and", lambda L, a, b: a & b, BINARY[:4], domain=integers(-5, 5), grad=False,
           dtypes=(np.int64, np.int32, np.bool_)),
    OpInfo("bitwise_xor_scalar", lambda L, a: 6 ^ (a ^ 3), SCALAR_SAMPLES, domain=integers(-5, 5), grad=False,
           dtypes=(np.int64, np.int32)),
    OpInfo("bitwise_or_scalar", lambda L, a: (5 | a) | 8, SCALAR_SAMPLES, domain=integers(-5, 5), grad=False,
           dtypes=(np.int64, np.int32)),
    OpInfo("shift", lambda L, a: (a << 2) >> 1, SCALAR_SAMPLES, domain=integers(0, 9), grad=False,
           dtypes=(np.int64, np.int32)),
    OpInfo("rshift_scalar", lambda L, a: 64 >> a, SCALAR_SAMPLES, domain=integers(0, 5), grad=False,
           dtypes=(np.int64, np.int32)),
]

ACTIVATION += [
    OpInfo("F.relu6", _F("relu6"), ACT_SAMPLES, domain=avoiding(0.0, 6.0, scale=4.0)),
    # torch's backward multiplies by 1/6 rounded to float32 even in float64, and has no double backward
    OpInfo("F.hardsigmoid", _F("hardsigmoid"), ACT_SAMPLES, domain=avoiding(-3.0, 3.0, scale=3.0), gradgrad=False,
           tol={np.float64: dict(rtol=1e-7, atol=1e-12)}),
    OpInfo("F.hardswish", _F("hardswish"), ACT_SAMPLES, domain=avoiding(-3.0, 3.0, scale=3.0)),
    OpInfo("F.mish", _F("mish"), ACT_SAMPLES),
    OpInfo("F.logsigmoid", _F("logsigmoid"), ACT_SAMPLES),
    OpInfo("F.softsign", _F("softsign"), ACT_SAMPLES, domain=away_from_zero),
    OpInfo("F.celu", _F("celu"), ACT_SAMPLES + [S((2, 3), alpha=0.5)], domain=away_from_zero),
    OpInfo("F.glu", _F("glu"), [S((2, 4)), S((4, 3), dim=0), S((2, 6, 1), dim=1)]),
    OpInfo("F.softmin", _F("softmin"), [S((2, 3), dim=-1), S((2, 3, 4), dim=1), S((), dim=0)]),
    OpInfo("F.threshold", _F("threshold"), [S((2, 3), threshold=0.1, value=-2.0), S((4,), threshold=-0.5, value=0.0)],
           domain=avoiding(0.1, -0.5)),
    OpInfo("F.hardshrink", _F("hardshrink"), ACT_SAMPLES + [S((2, 3), lambd=1.0)], domain=avoiding(-1, -0.5, 0.5, 1)),
    OpInfo("F.softshrink", _F("softshrink"), ACT_SAMPLES + [S((2, 3), lambd=1.0)], domain=avoiding(-1, -0.5, 0.5, 1)),
    OpInfo("F.tanhshrink", _F("tanhshrink"), ACT_SAMPLES),
    OpInfo("F.rrelu_eval", _F("rrelu"), ACT_SAMPLES + [S((2, 3), lower=0.2, upper=0.4)], domain=away_from_zero),
]

def _well_conditioned(rng, shape):
    """Square matrices near the identity (invertible, with distinct singular values)."""
    m, n = shape[-2], shape[-1]
    return rng.standard_normal(shape) * 0.3 + np.eye(m, n) * np.arange(1, n + 1)


def _negative_det(rng, shape):
    """Well-conditioned square matrices with the first row negated (a negative determinant)."""
    a = _well_conditioned(rng, shape)
    a[..., 0, :] *= -1
    return a


LINALG += [
    OpInfo("linalg.inv", lambda L, a: L.linalg.inv(a), [S((3, 3)), S((2, 4, 4)), S((1, 1))], domain=_well_conditioned),
    OpInfo("linalg.det", lambda L, a: L.linalg.det(a), [S((3, 3)), S((2, 2, 2))], domain=_well_conditioned),
    OpInfo("linalg.slogdet", lambda L, a: L.linalg.slogdet(a), [S((3, 3)), S((2, 4, 4)), S((1, 1)), S((2, 0, 0))],
           domain=_well_conditioned),
    OpInfo("slogdet_negative_det", lambda L, a: a.slogdet(), [S((3, 3)), S((2, 2, 2))], domain=_negative_det),
    OpInfo("logdet", lambda L, a: L.logdet(a), [S((3, 3)), S((2, 4, 4))], domain=_well_conditioned),
    OpInfo("linalg.solve", lambda L, a, b: L.linalg.solve(a, b), [S((3, 3), (3, 2)), S((2, 3, 3), (2, 3, 1)),
                                                                  S((3, 3), (3,))], domain=(_well_conditioned, real)),
    OpInfo("linalg.svdvals", lambda L, a: L.linalg.svdvals(a), [S((3, 3)), S((2, 4, 3)), S((2, 5))],
           domain=_well_conditioned, gradgrad=False),
    OpInfo("linalg.vector_norm", lambda L, a, **kw: L.linalg.vector_norm(a, **kw),
           [S((2, 3)), S((2, 3), ord=1, dim=1), S((2, 3, 4), ord=3, dim=(0, 2), keepdim=True),
            S((5,), ord=float("inf")), S((2, 3), ord=-float("inf"), dim=0), S(()), S((0, 3), dim=1)],
           domain=away_from_zero),
    OpInfo("linalg.matrix_norm", lambda L, a, **kw: L.linalg.matrix_norm(a, **kw),
           [S((3, 4)), S((2, 3, 3), ord=1), S((3, 4), ord=float("inf")), S((2, 3, 4), ord=-1, keepdim=True)],
           domain=away_from_zero),
    OpInfo("linalg.matrix_norm_svd", lambda L, a, **kw: L.linalg.matrix_norm(a, **kw),
           [S((3, 3), ord="nuc"), S((2, 3, 4), ord=2)], domain=_well_conditioned, gradgrad=False),
    OpInfo("norm", lambda L, a, **kw: a.norm(**kw), [S((2, 3)), S((2, 3), p=1, dim=1), S((4,), p=3)],
           domain=away_from_zero),
]

def _labels(L, like, kind: str):
    """Fixed targets shaped like `like` (constants of the loss, not inputs): ±1, 0/1 or counts in [0, 3]."""
    rng = np.random.default_rng(7)
    shape = tuple(like.shape)
    values = {"sign": lambda: rng.choice([-1.0, 1.0], shape), "binary": lambda: rng.choice([0.0, 1.0], shape),
              "count": lambda: rng.integers(0, 4, shape).astype(np.float64)}[kind]()
    values = values.astype(np.float32 if like.dtype in (np.float32, torch.float32) else np.float64)
    return L.tensor(values, device=like.device)  # where the input is (the device-double suite runs these too)


LOSSES_MORE = [
    OpInfo("F.margin_ranking_loss",
           lambda L, a, b, **kw: L.nn.functional.margin_ranking_loss(a, b, _labels(L, a, "sign"), **kw),
           [S((5,), (5,)), S((4,), (4,), margin=0.3, reduction="sum"), S((3,), (3,), reduction="none"), S((), ())]),
    OpInfo("F.hinge_embedding_loss",
           lambda L, a, **kw: L.nn.functional.hinge_embedding_loss(a, _labels(L, a, "sign"), **kw),
           [S((2, 3)), S((5,), margin=0.5, reduction="none"), S((0, 2), reduction="sum")], domain=avoiding(0.5, 1.0)),
    OpInfo("F.soft_margin_loss", lambda L, a: L.nn.functional.soft_margin_loss(a, _labels(L, a, "sign")),
           [S((2, 3))]),
    OpInfo("F.triplet_margin_loss", lambda L, a, pos, neg, **kw: L.nn.functional.triplet_margin_loss(a, pos, neg, **kw),
           [S((4, 3), (4, 3), (4, 3), margin=2.0), S((3, 5), (3, 5), (3, 5), p=1, swap=True, reduction="none")]),
    OpInfo("F.pairwise_distance", lambda L, a, b, **kw: L.nn.functional.pairwise_distance(a, b, **kw),
           [S((4, 3), (4, 3)), S((2, 5), (5,), p=3.0, keepdim=True)]),
    OpInfo("F.poisson_nll_loss", lambda L, a, **kw: L.nn.functional.poisson_nll_loss(a, _labels(L, a, "count"), **kw),
           [S((2, 3)), S((4,), log_input=False, full=True, reduction="sum")], domain=positive),
    OpInfo("F.gaussian_nll_loss", lambda L, a, y, v, **kw: L.nn.functional.gaussian_nll_loss(a, y, v, **kw),
           [S((3, 2), (3, 2), (3, 2)), S((4, 3), (4, 3), (4,), full=True, reduction="none")],
           domain=(real, real, positive)),
    OpInfo("F.multilabel_soft_margin_loss",
           lambda L, a: L.nn.functional.multilabel_soft_margin_loss(a, _labels(L, a, "binary")), [S((3, 4))]),
    OpInfo("F.normalize", lambda L, a, **kw: L.nn.functional.normalize(a, **kw), [S((3, 4)), S((2, 3, 4), p=1, dim=-1)],
           domain=away_from_zero),
    OpInfo("F.pixel_shuffle", lambda L, a: L.nn.functional.pixel_shuffle(a, 2), [S((2, 8, 2, 3)), S((4, 1, 2))],
           dtypes=ALL),
    OpInfo("F.pixel_unshuffle", lambda L, a: L.nn.functional.pixel_unshuffle(a, 2), [S((2, 1, 4, 6)), S((3, 2, 6))]),
]

RESAMPLE = [
    OpInfo("F.interpolate", lambda L, a, **kw: L.nn.functional.interpolate(a, **kw),
           [S((1, 2, 4), size=7, mode="linear"), S((1, 2, 4), scale_factor=1.5, mode="linear", align_corners=True),
            S((2, 1, 3, 4), size=(5, 3)), S((2, 1, 3, 4), scale_factor=2),
            S((1, 2, 3, 4), size=(2, 7), mode="nearest-exact"),
            S((2, 1, 3, 4), size=(5, 6), mode="bilinear"), S((1, 2, 4, 3), scale_factor=0.7, mode="bilinear"),
            S((1, 1, 3, 4), size=(6, 5), mode="bilinear", align_corners=True),
            S((1, 2, 4, 5), size=(7, 3), mode="bicubic"), S((1, 1, 4, 4), scale_factor=1.5, mode="bicubic",
                                                             align_corners=True),
            S((1, 1, 2, 3, 2), size=(3, 2, 4), mode="trilinear"), S((1, 1, 2, 2, 2), scale_factor=2, mode="nearest"),
            S((1, 2, 7), size=3, mode="area"), S((2, 1, 5, 6), size=(2, 4), mode="area"),
            S((1, 1, 3, 4), scale_factor=1.5, mode="area"), S((1, 1, 4, 3, 5), size=(2, 3, 2), mode="area")]),
    OpInfo("F.pad_modes", lambda L, a, pad, mode: L.nn.functional.pad(a, pad, mode=mode),
           [S((1, 2, 5), pad=(2, 3), mode="reflect"), S((1, 2, 4, 5), pad=(1, 2, 3, 0), mode="reflect"),
            S((1, 2, 4), pad=(3, 1), mode="replicate"), S((2, 3, 4), pad=(1, 2, 2, 1), mode="replicate"),
            S((1, 2, 4), pad=(2, 4), mode="circular"), S((1, 1, 3, 4), pad=(1, 1, 3, 2), mode="circular"),
            S((1, 1, 2, 3, 4), pad=(1, 1, 1, 1, 1, 1), mode="replicate")]),
    OpInfo("F.pad_negative", lambda L, a, pad: L.nn.functional.pad(a, pad),
           [S((3, 5), pad=(-1, 2, 1, -2)), S((4,), pad=(-2, -1)), S((0, 3), pad=(-1, 1))]),
    OpInfo("F.adaptive_max_pool2d", lambda L, a, **kw: L.nn.functional.adaptive_max_pool2d(a, **kw),
           [S((2, 3, 7, 9), output_size=(3, 4)), S((1, 2, 5, 5), output_size=5), S((2, 6, 4), output_size=(None, 3)),
            S((1, 1, 4, 6), output_size=(2, 3), return_indices=True)], domain=_distinct),
    OpInfo("F.adaptive_max_pool1d", lambda L, a, **kw: L.nn.functional.adaptive_max_pool1d(a, **kw),
           [S((2, 3, 9), output_size=4), S((3, 5), output_size=2)], domain=_distinct),
    OpInfo("F.max_unpool2d", lambda L, a: L.nn.functional.max_unpool2d(
        *L.nn.functional.max_pool2d(a, 2, return_indices=True), 2), [S((2, 3, 6, 8)), S((1, 4, 6))], domain=_distinct),
    OpInfo("F.adaptive_max_pool3d", lambda L, a, **kw: L.nn.functional.adaptive_max_pool3d(a, **kw),
           [S((1, 2, 5, 4, 6), output_size=(2, 3, 4)), S((2, 4, 3, 5), output_size=(None, 2, 3), desc="unbatched"),
            S((1, 1, 3, 4, 5), output_size=2, return_indices=True)], domain=_distinct),
    OpInfo("F.max_unpool1d", lambda L, a: L.nn.functional.max_unpool1d(
        *L.nn.functional.max_pool1d(a, 2, return_indices=True), 2), [S((2, 3, 8)), S((4, 7), desc="unbatched")],
        domain=_distinct),
    OpInfo("F.max_unpool3d", lambda L, a: L.nn.functional.max_unpool3d(
        *L.nn.functional.max_pool3d(a, 2, return_indices=True), 2), [S((1, 2, 4, 4, 6)), S((2, 4, 6, 4),
                                                                                      desc="unbatched")],
        domain=_distinct),
    OpInfo("F.lp_pool1d", lambda L, a, **kw: L.nn.functional.lp_pool1d(a, **kw),
           [S((2, 3, 8), norm_type=2, kernel_size=3, stride=2), S((3, 7), norm_type=2, kernel_size=2, ceil_mode=True,
                                                                 desc="unbatched-ceil"),
            S((2, 6), norm_type=float("inf"), kernel_size=2, desc="inf")], domain=_distinct),
    OpInfo("F.lp_pool2d", lambda L, a, **kw: L.nn.functional.lp_pool2d(a, **kw),
           [S((2, 2, 5, 6), norm_type=2, kernel_size=2), S((3, 5, 4), norm_type=2, kernel_size=(2, 3), stride=1,
                                                           desc="unbatched"),
            S((1, 2, 5, 5), norm_type=-float("inf"), kernel_size=2, ceil_mode=True, desc="minus-inf-ceil")],
           domain=_distinct),
    OpInfo("F.lp_pool3d", lambda L, a, **kw: L.nn.functional.lp_pool3d(a, **kw),
           [S((1, 2, 4, 4, 5), norm_type=2, kernel_size=2), S((2, 3, 4, 4), norm_type=2, kernel_size=(1, 2, 2),
                                                              stride=(1, 2, 1), desc="unbatched")], domain=_distinct),
    OpInfo("F.one_hot", lambda L, a: L.nn.functional.one_hot(a.long() % 4, 4), [S((5,)), S((2, 3)), S(())],
           grad=False, dtypes=INTS),
]

REGISTRY.update(losses_more=LOSSES_MORE, resample=RESAMPLE, maths=MATHS, scan=SCAN, ordering=ORDERING,
                indexing=INDEXING, predicate=PREDICATE)
ALL_OPS = [op for ops in REGISTRY.values() for op in ops]


# ----- 3-D convolution and pooling (glassnet/nn/_functional_conv.py over the N-d ops of ops/conv.py, ops/pooling.py) -
def _Fn(name: str):
    return lambda L, *xs, **kw: getattr(L.nn.functional, name)(*xs, **kw)


CONV3D = [
    OpInfo("F.conv3d", _Fn("conv3d"),
           [S((2, 2, 3, 4, 3), (3, 2, 2, 2, 2), desc="basic"),
            S((1, 2, 4, 3, 4), (2, 2, 2, 3, 2), (2,), stride=(2, 1, 2), padding=1, desc="bias-strided-padded"),
            S((1, 4, 3, 3, 4), (4, 2, 2, 2, 2), groups=2, dilation=(1, 1, 2), desc="groups-dilated"),
            S((1, 2, 3, 4, 3), (2, 2, 2, 3, 2), padding="same", desc="same-even-kernel"),
            S((1, 3, 2, 3, 2), (3, 1, 1, 2, 2), groups=3, padding=(0, 1, 0), desc="depthwise"),
            S((0, 2, 3, 3, 3), (2, 2, 2, 2, 2), desc="empty-batch")]),
    OpInfo("F.conv3d_unbatched", _Fn("conv3d"),
           [S((2, 3, 4, 3), (3, 2, 2, 2, 2), (3,), desc="unbatched-bias"),
            S((4, 3, 3, 4), (4, 2, 2, 2, 2), groups=2, stride=(1, 2, 1), padding=1, desc="unbatched-groups")]),
    OpInfo("F.conv_transpose3d", _Fn("conv_transpose3d"),
           [S((1, 2, 2, 3, 2), (2, 3, 2, 2, 2), desc="basic"),
            S((1, 2, 2, 2, 2), (2, 2, 3, 2, 2), (2,), stride=2, padding=1, output_padding=1, desc="bias-strided"),
            S((1, 4, 2, 2, 3), (4, 1, 2, 2, 2), groups=2, dilation=(2, 1, 2), stride=(1, 2, 1), desc="groups-dilated"),
            S((0, 2, 2, 2, 2), (2, 2, 2, 2, 2), desc="empty-batch")]),
    OpInfo("F.conv_transpose3d_unbatched", _Fn("conv_transpose3d"),
           [S((2, 2, 3, 2), (2, 3, 2, 2, 2), (3,), stride=2, desc="unbatched-bias")]),
    OpInfo("F.max_pool3d", _Fn("max_pool3d"),
           [S((1, 2, 4, 4, 4), kernel_size=2),
            S((2, 1, 5, 4, 5), kernel_size=3, stride=2, padding=1, ceil_mode=True),
            S((2, 3, 4, 5), kernel_size=(2, 3, 2), stride=1, dilation=(1, 1, 2), desc="unbatched-dilated"),
            S((1, 1, 4, 5, 4), kernel_size=2, stride=(1, 2, 1), return_indices=True, desc="return_indices")],
           domain=_distinct, dtypes=INTS),
    OpInfo("F.avg_pool3d", _Fn("avg_pool3d"),
           [S((1, 2, 4, 4, 4), kernel_size=2),
            S((2, 1, 5, 4, 5), kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
            S((1, 1, 4, 5, 4), kernel_size=3, stride=2, padding=1, ceil_mode=True, desc="ceil-include-pad"),
            S((1, 2, 3, 4, 5), kernel_size=(2, 3, 2), stride=(1, 2, 1), padding=(1, 1, 0)),
            S((2, 3, 4, 5), kernel_size=2, divisor_override=3, desc="unbatched-divisor")]),
    OpInfo("F.adaptive_avg_pool3d", _Fn("adaptive_avg_pool3d"),
           [S((1, 2, 5, 4, 6), output_size=(2, 3, 4)), S((2, 3, 4, 5), output_size=(None, 2, 3)),
            S((1, 1, 3, 3, 3), output_size=1)]),
]

REGISTRY.update(conv3d=CONV3D)


# ----- pmisc (issue 18): embedding_bag, ctc_loss, svd's vectors, nanmedian(dim), zeros in cumprod/scatter_reduce ----
def _with_zeros(rng, shape):
    """±[0.5, 2] with about a third of the entries exactly 0 (cumprod and prod are polynomials: smooth there)."""
    x = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)
    return np.where(rng.uniform(0, 1, shape) < 0.35, 0.0, x)


def _with_nans(rng, shape):
    """Distinct values with some NaN (not a whole row: PyTorch's index for a row of NaN only is its sort's accident)."""
    x = _distinct(rng, shape)
    nan = rng.uniform(0, 1, shape) < 0.4
    nan.reshape(-1)[0] = False
    return np.where(nan, np.nan, x)


def _svd_parts(L, a, **kw):
    """S and the sign-free products of the singular vectors: U², Vh², and each uₖvₖᵀ (U, Vh flip signs in pairs)."""
    u, s, vh = L.linalg.svd(a, full_matrices=False, **kw)
    return s, u * u, vh * vh, u.unsqueeze(-1) * vh.unsqueeze(-3)


_BAG_IDS = [1, 2, 4, 5, 4, 3, 2, 0, 5]


def _embedding_bag(L, w, psw=None, ids=None, offsets=None, **kw):
    ids = L.tensor(np.array(_BAG_IDS if ids is None else ids, dtype=np.int64))
    offsets = None if offsets is None else L.tensor(np.array(offsets, dtype=np.int64))
    return L.nn.functional.embedding_bag(ids, w, offsets, per_sample_weights=psw, **kw)


def _ctc(L, x, targets=None, input_lengths=None, target_lengths=None, **kw):
    """ctc_loss of log_softmax(x): through log_softmax the gradient is the exact derivative in both libraries."""
    return L.nn.functional.ctc_loss(x.log_softmax(-1), _ix(L, targets), _ix(L, input_lengths), _ix(L, target_lengths),
                                    **kw)


_ONE_ZERO = np.array([[0.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])  # src[0, 0] → 0: one zero at place (1, 0)

PARITY_MISC = [
    OpInfo("nanmedian_dim", lambda L, a, **kw: L.nanmedian(a, **kw),
           [S((2, 5), dim=1), S((4, 3), dim=0, keepdim=True), S((5,), dim=0), S((), dim=0)], domain=_distinct,
           dtypes=INTS),
    OpInfo("nanmedian_nan", lambda L, a, **kw: a.nanmedian(**kw),
           [S((4, 5), dim=1), S((4, 3), dim=0, keepdim=True), S((4, 5))], domain=_with_nans, grad=False),
    OpInfo("cumprod_zeros", lambda L, a, dim: L.cumprod(a, dim),
           [S((3, 5), dim=1), S((4, 3), dim=0), S((7,), dim=0), S((0, 3), dim=1)], domain=_with_zeros, dtypes=INTS),
    OpInfo("scatter_reduce_prod_zeros",
           lambda L, a, s, **kw: a.scatter_reduce(0, _ix(L, [[1, 0, 1], [1, 1, 0], [0, 1, 1]]),
                                                  s * L.tensor(_ONE_ZERO, dtype=s.dtype, device=s.device), "prod",
                                                  **kw),
           [S((2, 3), (3, 3), include_self=True), S((2, 3), (3, 3), include_self=False)],
           domain=(_with_zeros, _nonzero(0.5, 2.0))),
    OpInfo("linalg.svd", _svd_parts, [S((3, 3)), S((4, 3)), S((3, 5)), S((2, 4, 3)), S((2, 2, 5))],
           domain=_well_conditioned, tol={np.float32: dict(rtol=1e-4, atol=1e-5)}),
    OpInfo("F.embedding_bag", _embedding_bag,
           [S((6, 3), mode=m, ids=[[1, 2, 0], [4, 4, 5]]) for m in ("sum", "mean", "max")]
           + [S((6, 3), mode=m, offsets=[0, 2, 2, 5]) for m in ("sum", "mean", "max")]
           + [S((6, 2), mode="mean", offsets=[0, 3, 5, 9], include_last_offset=True),
              S((6, 3), mode="mean", offsets=[0, 3, 5], padding_idx=4),
              S((6, 3), mode="max", offsets=[0, 3], padding_idx=2),
              S((0, 3), mode="sum", ids=[], offsets=[0, 0], desc="no-rows-no-ids")],
           domain=_distinct, gradgrad=False),  # (torch: no double backward; ours: tests/ops/test_parity_misc.py)
    OpInfo("F.embedding_bag_weighted", lambda L, w, psw, **kw: _embedding_bag(L, w, psw, mode="sum", **kw),
           [S((6, 3), (9,), offsets=[0, 4, 4]), S((6, 2), (2, 3), ids=[[1, 5, 0], [3, 3, 1]]),
            S((6, 3), (9,), offsets=[0, 2, 9], include_last_offset=True, padding_idx=4)], gradgrad=False),
    OpInfo("F.ctc_loss", _ctc,
           [S((6, 2, 4), targets=[[1, 2, 2], [3, 1, 0]], input_lengths=[6, 5], target_lengths=[3, 2]),
            S((8, 3, 5), targets=[1, 1, 2, 3, 3, 3, 4, 2], input_lengths=[8, 6, 7], target_lengths=[3, 3, 2],
              reduction="none", desc="concatenated-repeats"),
            S((8, 3, 5), targets=[[1, 1, 2], [3, 3, 3], [4, 2, 0]], input_lengths=[8, 6, 7],
              target_lengths=[3, 3, 2], blank=4, reduction="sum", desc="blank-last"),
            S((7, 3, 5), targets=[[1, 1, 2], [0, 0, 0], [4, 2, 2]], input_lengths=[7, 6, 7],
              target_lengths=[3, 0, 3], blank=3, desc="blank-3-empty-target"),
            S((3, 2, 4), targets=[[1, 1, 1], [1, 2, 3]], input_lengths=[3, 3], target_lengths=[3, 3],
              zero_infinity=True, reduction="none", desc="impossible-zero-infinity"),
            S((5, 4), targets=[2, 1], input_lengths=5, target_lengths=2, desc="unbatched")],
           gradgrad=False, tol={np.float32: dict(rtol=1e-4, atol=1e-5)}),
]

REGISTRY.update(parity_misc=PARITY_MISC)
ALL_OPS = [op for ops in REGISTRY.values() for op in ops]
