"""The rules of autograd.py's docstring, checked on every op of the registry, and shown to catch a broken backward."""

from __future__ import annotations

import numpy as np
import pytest
from opinfo import ALL_OPS, as_list, floating, make_arrays

import glassnet as gn
from glassnet.autograd import Function


def check_backward_rules(fn, arrays) -> None:
    """Rule 1: the backward gives the same gradients on arrays (a plain walk) and on Tensors (create_graph), and
    on Tensors they stay on the graph (they depend on the upstream gradient, which requires grad)."""
    rng = np.random.default_rng(0)
    results = []
    for create_graph in (False, True):
        xs = [gn.tensor(a, requires_grad=True) for a in arrays]
        outs = [o for o in floating(as_list(fn(*xs))) if o.requires_grad]
        if not outs:
            return
        vs = [gn.tensor(rng.standard_normal(o.shape), dtype=o.dtype, requires_grad=True) for o in outs]
        rng = np.random.default_rng(0)  # the same upstream gradients for both walks
        gs = gn.grad(outs, xs, vs, create_graph=create_graph, allow_unused=True)
        if create_graph:
            for k, g in enumerate(gs):
                # (a zero gradient, as of floor or sign, depends on nothing: it may be a constant)
                on_graph = g is None or g.requires_grad or not np.any(g.detach().numpy())
                assert on_graph, f"the gradient of input {k} fell off the graph (rule 1)"
        results.append([None if g is None else g.detach().numpy() for g in gs])
    for k, (plain, recorded) in enumerate(zip(*results)):
        assert (plain is None) == (recorded is None)
        if plain is not None:
            np.testing.assert_allclose(recorded, plain, rtol=1e-10, atol=1e-12, err_msg=f"input {k} (rule 1)")


@pytest.mark.parametrize("op", [op for op in ALL_OPS if op.grad and op.gradgrad], ids=lambda op: op.name)
def test_every_registry_op_follows_the_rules(op):
    for sample in op.samples:
        check_backward_rules(
            lambda *xs, op=op, sample=sample: op.call(gn, *xs, **sample.kwargs), make_arrays(op, sample, np.float64)
        )


class _CutsTheGraph(Function):
    """y = 2x, with a backward that breaks rule 1: np.asarray turns the recorded gradient into a plain array."""

    def forward(self, x):
        return 2 * x

    def backward(self, gy):
        return np.asarray(gy) * 2


class _KeepsAnIntermediate(Function):
    """y = x³ with a backward that breaks rule 3: it keeps x² on self, a constant when differentiated again."""

    def forward(self, x):
        self.x2 = x * x
        return self.x2 * x

    def backward(self, gy):
        return gy * 3 * self.x2


def test_the_check_catches_a_backward_that_cuts_the_graph():
    with pytest.raises(AssertionError, match="fell off the graph"):
        check_backward_rules(lambda x: _CutsTheGraph.apply(x), [np.arange(1.0, 4.0)])


def test_second_derivatives_catch_a_backward_that_keeps_an_intermediate():
    # Differentiated again, x² kept on self is a constant: the recorded gradient no longer depends on x, which the
    # second-derivative check (run on every registry op in tests/ops) reports.
    x = gn.tensor(np.arange(1.0, 4.0), requires_grad=True)
    with pytest.raises((RuntimeError, gn.autograd.GradcheckError)):
        gn.autograd.gradgradcheck(lambda t: _KeepsAnIntermediate.apply(t), [x])
