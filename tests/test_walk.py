"""One backward walk: `lens.trace` and anomaly mode watch the engine's walk through a visitor (no copy of it)."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.autograd import BackwardVisitor, run_backward
from glassnet.lens import trace


def _net():
    gn.manual_seed(0)
    w1 = gn.randn(3, 4, dtype=gn.float64, requires_grad=True)
    w2 = gn.randn(4, 1, dtype=gn.float64, requires_grad=True)
    x = gn.randn(5, 3, dtype=gn.float64)
    h = (x @ w1).tanh()
    return w1, w2, h, (h @ w2).sigmoid().mean()


def test_trace_equals_grad_with_a_hook_that_scales_a_gradient():
    # The review's case: a hook multiplying by 10. trace must show what .grad holds (30, not 3).
    w1, w2, h, loss = _net()
    h.register_hook(lambda g: g * 10)
    w2.register_hook(lambda g: g + 1)  # a leaf hook too
    t = trace(loss, names={w1: "w1", w2: "w2"})
    assert w1.grad is None and w2.grad is None  # trace writes no .grad
    loss.backward()
    np.testing.assert_array_equal(t.grad(w1), w1.grad.numpy())
    np.testing.assert_array_equal(t.grad(w2), w2.grad.numpy())
    w1_plain, _, _, loss_plain = _net()
    loss_plain.backward()
    np.testing.assert_allclose(w1.grad.numpy(), 10 * w1_plain.grad.numpy(), rtol=1e-12)  # the hook did act


def test_trace_keeps_retain_grad_untouched_and_the_graph_alive():
    _, w2, h, loss = _net()
    h.retain_grad()
    trace(loss)
    assert h.grad is None  # only a real backward writes retained gradients
    loss.backward()
    assert h.grad is not None and w2.grad is not None


def test_a_visitor_sees_every_node_once_and_every_leaf():
    class Count(BackwardVisitor):
        def __init__(self):
            self.nodes, self.leaves = [], []

        def node(self, node, grad_output, grad_inputs):
            assert len(grad_inputs) <= len(node.inputs)
            self.nodes.append(node.name)

        def leaf(self, tensor, grad):
            assert grad.shape == tensor.shape
            self.leaves.append(tensor)

    w1, w2, _, loss = _net()
    seen = Count()
    run_backward([loss], [np.array(1.0)], retain_graph=False, create_graph=False, visitor=seen)
    assert seen.nodes == ["Mean", "Sigmoid", "MatMul", "Tanh", "MatMul"]
    assert {id(t) for t in seen.leaves} == {id(w1), id(w2)}
    assert w1.grad is not None  # a visitor that keeps writes_grads=True lets the walk write .grad


def test_anomaly_mode_is_a_visitor_of_the_same_walk():
    x = gn.tensor([0.0, 1.0], dtype=gn.float64, requires_grad=True)
    with gn.autograd.detect_anomaly():
        y = x.sqrt().sum()  # d√x/dx at 0 is Inf
        with pytest.raises(RuntimeError, match="detect_anomaly: Sqrt produced Inf in its backward"):
            y.backward()
    assert x.grad is None
