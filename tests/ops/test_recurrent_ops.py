"""Tests of glassnet/ops/recurrent.py: the fused LSTMSequence op against the readable gate equations recorded op by
op (outputs and every gradient, float64 to 1e-10, float32 to 1e-5), against finite differences, and its limits."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import gradcheck
from glassnet.ops.recurrent import GRUSequence, LSTMSequence

TOL = {np.float32: 1e-5, np.float64: 1e-10}


def _reference(gi, h, c, w_hh, reverse=False):
    """The gate equations step by step on Tensors (the same algebra as nn/recurrent.py), stacked like the op."""
    steps = gi.shape[0]
    outs = [None] * steps
    for t in reversed(range(steps)) if reverse else range(steps):
        i, f, g, o = (gi[t] + h @ w_hh.T).chunk(4, dim=-1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        outs[t] = h
    return gn.stack(outs + [c])


def _inputs(dtype, steps=5, batch=3, hidden=4, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((steps, batch, 4 * hidden)), rng.standard_normal((batch, hidden)),
              rng.standard_normal((batch, hidden)), rng.standard_normal((4 * hidden, hidden)) * 0.5]
    return [gn.tensor(a.astype(dtype), requires_grad=True) for a in arrays]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reverse", [False, True])
def test_fused_matches_reference_outputs_and_gradients(dtype, reverse):
    fused_in, ref_in = _inputs(dtype), _inputs(dtype)
    fused = LSTMSequence.apply(*fused_in, reverse=reverse)
    ref = _reference(*ref_in, reverse=reverse)
    assert fused.dtype == dtype and fused.shape == ref.shape == (6, 3, 4)
    np.testing.assert_allclose(fused.detach().numpy(), ref.detach().numpy(), rtol=0, atol=TOL[dtype])
    weights = gn.tensor(np.random.default_rng(1).standard_normal(fused.shape).astype(dtype))
    (fused * weights).sum().backward()
    (ref * weights).sum().backward()
    for name, a, b in zip(("gi", "h0", "c0", "w_hh"), fused_in, ref_in):
        assert a.grad.dtype == dtype, name
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=0, atol=TOL[dtype] * 10, err_msg=name)


def test_fused_gradients_match_finite_differences():
    inputs = _inputs(np.float64, steps=3, batch=2, hidden=3)
    assert gradcheck(lambda *xs: LSTMSequence.apply(*xs), inputs)
    assert gradcheck(lambda *xs: LSTMSequence.apply(*xs, reverse=True), inputs)


def test_backward_twice_with_retain_graph_gives_the_same_gradients():
    inputs = _inputs(np.float64)
    y = LSTMSequence.apply(*inputs).sum()
    y.backward(retain_graph=True)
    first = [t.grad.numpy().copy() for t in inputs]
    y.backward()
    for a, t in zip(first, inputs):
        np.testing.assert_allclose(t.grad.numpy(), 2 * a, rtol=1e-12)


def test_fused_backward_refuses_create_graph_and_names_the_alternative():
    inputs = _inputs(np.float64)
    y = LSTMSequence.apply(*inputs).sum()
    with pytest.raises(RuntimeError, match=r"LSTMSequence.*create_graph.*fused=False"):
        gn.autograd.grad(y, inputs[0], create_graph=True)


def test_forward_leaves_its_inputs_untouched():
    inputs = _inputs(np.float32)
    before = [t.detach().numpy().copy() for t in inputs]
    LSTMSequence.apply(*inputs).sum().backward()
    for a, t in zip(before, inputs):
        np.testing.assert_array_equal(a, t.detach().numpy())


# ----- GRUSequence ---------------------------------------------------------------------------------------------------
def _gru_reference(gi, h, w_hh, b_hh=None, reverse=False):
    """The GRU gate equations step by step on Tensors (as nn/recurrent.py writes them)."""
    outs = [None] * gi.shape[0]
    for t in reversed(range(gi.shape[0])) if reverse else range(gi.shape[0]):
        gh = h @ w_hh.T if b_hh is None else h @ w_hh.T + b_hh
        i_r, i_z, i_n = gi[t].chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r, z = (i_r + h_r).sigmoid(), (i_z + h_z).sigmoid()
        n = (i_n + r * h_n).tanh()
        h = (1 - z) * n + z * h
        outs[t] = h
    return gn.stack(outs)


def _gru_inputs(dtype, bias=True, steps=5, batch=3, hidden=4, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((steps, batch, 3 * hidden)), rng.standard_normal((batch, hidden)),
              rng.standard_normal((3 * hidden, hidden)) * 0.5, rng.standard_normal(3 * hidden)]
    tensors = [gn.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    return tensors if bias else tensors[:3]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_gru_matches_reference_outputs_and_gradients(dtype, reverse, bias):
    fused_in, ref_in = _gru_inputs(dtype, bias), _gru_inputs(dtype, bias)
    fused = GRUSequence.apply(*fused_in, reverse=reverse)
    ref = _gru_reference(*ref_in, reverse=reverse)
    assert fused.dtype == dtype and fused.shape == ref.shape == (5, 3, 4)
    np.testing.assert_allclose(fused.detach().numpy(), ref.detach().numpy(), rtol=0, atol=TOL[dtype])
    weights = gn.tensor(np.random.default_rng(1).standard_normal(fused.shape).astype(dtype))
    (fused * weights).sum().backward()
    (ref * weights).sum().backward()
    for name, a, b in zip(("gi", "h0", "w_hh", "b_hh"), fused_in, ref_in):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=0, atol=TOL[dtype] * 10, err_msg=name)


def test_fused_gru_gradients_match_finite_differences():
    inputs = _gru_inputs(np.float64, steps=3, batch=2, hidden=3)
    assert gradcheck(lambda *xs: GRUSequence.apply(*xs), inputs)
    assert gradcheck(lambda *xs: GRUSequence.apply(*xs, reverse=True), inputs)
    with pytest.raises(RuntimeError, match=r"GRUSequence.*fused=False"):
        gn.autograd.grad(GRUSequence.apply(*inputs).sum(), inputs[0], create_graph=True)
