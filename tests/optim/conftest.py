"""Shared fixture: run a glassnet optimiser and its PyTorch twin on the same parameters and gradients."""

import numpy as np
import pytest

import glassnet as gn

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), ()]


def _run_both(gn_cls, torch_cls, kwargs=None, *, dtype=np.float64, steps=20, seed=0, groups=None):
    """Step both optimisers `steps` times with identical random gradients; return parameters and optimisers.

    The last parameter gets no gradient every third step (both libraries must then skip it). `groups`,
    if given, is a list of per-group option dicts: parameter i goes into group i % len(groups).
    """
    kwargs = kwargs or {}
    rng = np.random.default_rng(seed)
    init = [np.asarray(rng.standard_normal(s), dtype=dtype) for s in SHAPES]
    gp = [gn.Tensor(a.copy(), requires_grad=True) for a in init]
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]

    def grouped(params):
        if groups is None:
            return params
        return [{"params": params[i :: len(groups)], **opts} for i, opts in enumerate(groups)]

    gopt = gn_cls(grouped(gp), **kwargs)
    topt = torch_cls(grouped(tp), **kwargs, foreach=False)
    for k in range(steps):
        for i, (p, q) in enumerate(zip(gp, tp)):
            if i == len(gp) - 1 and k % 3 == 2:
                p.grad, q.grad = None, None
                continue
            g = np.asarray(rng.standard_normal(SHAPES[i]), dtype=dtype)
            p.grad = gn.Tensor(g.copy())
            q.grad = torch.tensor(g.copy())
        gopt.step()
        topt.step()
    return gp, tp, gopt, topt


@pytest.fixture
def run_both():
    return _run_both


def assert_params_match(gp, tp, tol=1e-10):
    for p, q in zip(gp, tp):
        assert p.dtype == q.detach().numpy().dtype
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=tol, atol=tol)


@pytest.fixture
def assert_match():
    return assert_params_match
