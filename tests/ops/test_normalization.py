"""Tests of glassnet/ops/normalization.py through F.batch_norm, F.layer_norm and F.group_norm: the generated OpInfo
checks (forward, first and second gradients against finite differences and PyTorch), running statistics, dtypes
and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from opinfo import OpInfo, S, generated_tests, positive, real

import glassnet as gn
import glassnet.nn.functional as F


def _batch_norm_train(L, x, *wb, **kw):
    """Training-mode batch norm with fresh running buffers, so every call is the same function of x."""
    c = x.shape[1]
    rm, rv = L.zeros(c, dtype=x.dtype), L.ones(c, dtype=x.dtype)
    return L.nn.functional.batch_norm(x, rm, rv, *wb, training=True, **kw)


RUNNING_MEAN = np.array([0.3, -0.2, 0.1])
RUNNING_VAR = np.array([0.5, 2.0, 1.2])


def _batch_norm_eval(L, x, *wb, **kw):
    rm, rv = L.tensor(RUNNING_MEAN).to(x.dtype), L.tensor(RUNNING_VAR).to(x.dtype)
    return L.nn.functional.batch_norm(x, rm, rv, *wb, training=False, **kw)


def _layer_norm(L, x, *wb, shape=None, **kw):
    return L.nn.functional.layer_norm(x, shape, *wb, **kw)


def _group_norm(L, x, *wb, groups=1, **kw):
    return L.nn.functional.group_norm(x, groups, *wb, **kw)


# weight near 1 (positive), bias real: the shapes of an affine norm's parameters
AFFINE = (real, positive, real)

NORMALIZATION = [
    OpInfo("F.batch_norm_train", _batch_norm_train,
           [S((4, 3), (3,), (3,)), S((3, 3, 4), (3,), (3,)), S((2, 3, 2, 2), (3,), (3,)), S((5, 3)),
            S((2, 3, 3), (3,), (3,), eps=0.1, momentum=0.5, desc="eps-momentum")],
           domain=AFFINE),
    OpInfo("F.batch_norm_eval", _batch_norm_eval,
           [S((4, 3), (3,), (3,)), S((2, 3, 2, 2), (3,), (3,)), S((2, 3, 4))], domain=AFFINE),
    OpInfo("F.layer_norm", _layer_norm,
           [S((3, 4), (4,), (4,), shape=(4,)), S((2, 3, 4), (3, 4), (3, 4), shape=(3, 4)), S((2, 5), shape=(5,)),
            S((4,), (4,), (4,), shape=(4,), eps=0.1), S((2, 2, 3), (3,), shape=(3,), desc="weight-only")],
           domain=AFFINE),
    OpInfo("F.group_norm", _group_norm,
           [S((2, 6, 3), (6,), (6,), groups=3), S((3, 6), (6,), (6,), groups=2), S((2, 4, 2, 2), (4,), (4,), groups=1),
            S((2, 4, 5), groups=4, desc="instance-norm"), S((2, 6, 2), (6,), (6,), groups=2, eps=0.5)],
           domain=AFFINE),
]

(test_forward_matches_torch, test_grad_matches_torch, test_gradcheck, test_gradgradcheck,
 test_gradgrad_matches_torch) = generated_tests(NORMALIZATION)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (2, 3, 4, 4)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_running_statistics_match_torch_after_several_steps(shape, dtype):
    rng = np.random.default_rng(1)
    rm, rv = gn.zeros(3, dtype=dtype), gn.ones(3, dtype=dtype)
    trm = torch.zeros(3, dtype=torch.float64 if dtype == np.float64 else torch.float32)
    trv = torch.ones_like(trm)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    for step in range(5):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        out = F.batch_norm(gn.tensor(x), rm, rv, training=True, momentum=0.2)
        expected = torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.2)
        np.testing.assert_allclose(out.data, expected.numpy(), **tol)
    np.testing.assert_allclose(rm.data, trm.numpy(), **tol)
    np.testing.assert_allclose(rv.data, trv.numpy(), **tol)
    assert rm.dtype == rv.dtype == out.dtype == dtype
    x = rng.standard_normal(shape).astype(dtype)  # evaluation then uses the running statistics
    ours = F.batch_norm(gn.tensor(x), rm, rv, training=False)
    np.testing.assert_allclose(ours.data, torch.nn.functional.batch_norm(torch.tensor(x), trm, trv).numpy(), **tol)


def test_running_buffers_may_be_arrays_and_stay_off_the_graph():
    rng = np.random.default_rng(2)
    rm, rv = np.zeros(2), np.ones(2)
    x = gn.tensor(rng.standard_normal((6, 2)) + 3.0, requires_grad=True)
    F.batch_norm(x, rm, rv, training=True).sum().backward()
    assert rm[0] != 0 and rv[0] != 1 and x.grad is not None
    rm_t = gn.zeros(2)
    F.batch_norm(gn.tensor(np.ones((3, 2), dtype=np.float32)), rm_t, None, training=True)
    assert rm_t.grad_fn is None and not rm_t.requires_grad
    with gn.no_grad():
        F.batch_norm(gn.tensor(np.full((3, 2), 5.0, dtype=np.float32)), rm_t, None, training=True)
    assert rm_t.data[0] == pytest.approx(0.1 * 1.0 * 0.9 + 0.1 * 5.0)


def test_training_without_running_stats_uses_batch_statistics():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3))
    ours = F.batch_norm(gn.tensor(x), None, None, training=True)
    expected = torch.nn.functional.batch_norm(torch.tensor(x), None, None, training=True)
    np.testing.assert_allclose(ours.data, expected.numpy(), rtol=1e-12)


@pytest.mark.parametrize("fn", [
    lambda x, w, b: F.batch_norm(x, gn.zeros(4, dtype=x.dtype), gn.ones(4, dtype=x.dtype), w, b, training=True),
    lambda x, w, b: F.batch_norm(x, gn.zeros(4, dtype=x.dtype), gn.ones(4, dtype=x.dtype), w, b, training=False),
    lambda x, w, b: F.layer_norm(x, (4, 3), w.reshape(4, 1).expand(4, 3), b.reshape(4, 1).expand(4, 3)),
    lambda x, w, b: F.group_norm(x, 2, w, b),
], ids=["batch_norm_train", "batch_norm_eval", "layer_norm", "group_norm"])
def test_float32_stays_float32(fn):
    rng = np.random.default_rng(4)
    x = gn.tensor(rng.standard_normal((2, 4, 3)).astype(np.float32), requires_grad=True)
    w = gn.tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    b = gn.tensor(np.zeros(4, dtype=np.float32), requires_grad=True)
    out = fn(x, w, b)
    assert out.dtype == np.float32
    (out * out).sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32


def test_layer_norm_output_is_standardised():
    rng = np.random.default_rng(5)
    x = gn.tensor(rng.standard_normal((3, 7)) * 5 + 2)
    y = F.layer_norm(x, 7, eps=0.0).data  # an int normalized_shape means (7,)
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), 1, rtol=1e-12)


def test_second_derivative_of_gradient_penalty_matches_torch():
    """d/dw of ‖dL/dx‖² through layer norm, batch norm (training) and group norm together."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 6, 2))
    w = rng.uniform(0.5, 1.5, 6)

    def penalty(L, x, w):
        h = L.nn.functional.batch_norm(x, None, None, w, None, training=True)
        h = L.nn.functional.group_norm(h.tanh(), 3, w)
        h = L.nn.functional.layer_norm(h.sin(), (6, 2))
        loss = (h * h * h).sum()
        (g,) = (gn.grad if L is gn else torch.autograd.grad)(loss, x, create_graph=True)
        return (g * g).sum()

    xs, ws = gn.tensor(x, requires_grad=True), gn.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ours = gn.grad(penalty(gn, xs, ws), [xs, ws])
    theirs = torch.autograd.grad(penalty(torch, xt, wt), [xt, wt])
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.data, t.numpy(), rtol=1e-8, atol=1e-10)


# ----- bad input --------------------------------------------------------------------------------------------------
def _x(*shape):
    return gn.tensor(np.zeros(shape))


@pytest.mark.parametrize("call,error,message", [
    (lambda: F.batch_norm(_x(1, 3), None, None, training=True), ValueError,
     r"batch_norm: expected more than 1 value per channel when training, got input of shape \(1, 3\)"),
    (lambda: F.batch_norm(_x(4, 3), None, None), ValueError,
     r"batch_norm: running_mean and running_var must be given in evaluation mode"),
    (lambda: F.batch_norm(_x(4, 3), gn.zeros(4), gn.ones(3), training=True), ValueError,
     r"batch_norm: running_mean must be an array or Tensor of shape \(3,\) for input of shape \(4, 3\), got \(4,\)"),
    (lambda: F.batch_norm(_x(4), None, None, training=True), ValueError,
     r"batch_norm: expected input of shape \(N, C\) or \(N, C, \*\), got shape \(4,\)"),
    (lambda: F.batch_norm(_x(4, 3), None, None, _x(2), training=True), ValueError,
     r"batch_norm: weight of shape \(2,\) does not match; expected shape \(3,\) for input of shape \(4, 3\)"),
    (lambda: F.layer_norm(_x(2, 6, 3), (6,)), ValueError,
     r"layer_norm: normalized_shape=\(6,\) does not match input of shape \(2, 6, 3\); expected input of shape "
     r"\(\*, 6\)"),
    (lambda: F.layer_norm(_x(2, 3), 3, gn.ones(3)), TypeError,
     r"layer_norm: weight is float32 but the input is float64"),
    (lambda: F.layer_norm(gn.tensor(np.zeros((2, 3), dtype=np.int64)), 3), TypeError,
     r"layer_norm: input must be floating point, got int64"),
    (lambda: F.group_norm(_x(2, 6, 3), 4), ValueError,
     r"group_norm: the 6 channels of input of shape \(2, 6, 3\) cannot be split into num_groups=4 equal groups"),
    (lambda: F.group_norm(_x(2, 6), 3, _x(3)), ValueError, r"group_norm: weight of shape \(3,\) does not match"),
])
def test_bad_input_is_explained(call, error, message):
    with pytest.raises(error, match=message):
        call()
