"""Tests of glassnet/ops/loss.py and the losses of glassnet.nn.functional: the generated OpInfo checks (forward,
first and second gradients against finite differences and PyTorch), then reductions, dtypes and bad input."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch
from opinfo import OpInfo, S, avoiding, generated_tests, real, uniform

import glassnet as gn
import glassnet.nn.functional as F

pytestmark = pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss:UserWarning")  # torch's kl_div

_rng = np.random.default_rng(1234)
T5 = np.array([0, 3, 1, -100, 2])  # five class indices of 4 classes, one ignored
T5_IGNORE2 = np.array([0, 2, 1, 2, 3])  # the same with ignore_index=2
T3x2 = np.array([[0, 3], [-100, 1], [2, 2]])  # (N, d1) targets for (3, 4, 2) logits
T2x2x2 = _rng.integers(0, 3, (2, 2, 2))  # (N, d1, d2) targets for (2, 3, 2, 2) logits
W4 = np.array([0.5, 2.0, 1.0, 1.5])  # class weights
W3 = np.array([1.0, 0.25, 3.0])


def _const(L, array, like):
    """A constant (non-differentiable) tensor of `like`'s floating dtype."""
    return None if array is None else L.tensor(array).to(like.dtype)


def _ce(L, x, *probs, target=None, weight=None, **kw):
    t = probs[0] if probs else L.tensor(target)
    return L.nn.functional.cross_entropy(x, t, weight=_const(L, weight, x), **kw)


def _nll(L, x, target=None, weight=None, **kw):
    return L.nn.functional.nll_loss(x, L.tensor(target), weight=_const(L, weight, x), **kw)


CE_SAMPLES = [
    S((5, 4), target=T5, weight=w, reduction=r, label_smoothing=ls,
      desc=f"5x4-{r}-{'w' if w is not None else 'nw'}-ls{ls}")
    for r, w, ls in itertools.product(["none", "sum", "mean"], [None, W4], [0.0, 0.15])
] + [
    S((5, 4), target=T5_IGNORE2, ignore_index=2, weight=W4, desc="ignore_index=2"),
    S((3, 4, 2), target=T3x2, desc="3x4x2"),
    S((3, 4, 2), target=T3x2, weight=W4, label_smoothing=0.1, reduction="none", desc="3x4x2-w-ls-none"),
    S((2, 3, 2, 2), target=T2x2x2, weight=W3, label_smoothing=0.2, desc="2x3x2x2-w-ls"),
    S((4,), target=np.array(2), desc="unbatched"),
    S((4,), target=np.array(1), reduction="none", label_smoothing=0.3, desc="unbatched-none-ls"),
]
CE_PROB_SAMPLES = [
    S((4, 3), (4, 3), weight=w, reduction=r, label_smoothing=ls,
      desc=f"probs-{r}-{'w' if w is not None else 'nw'}-ls{ls}")
    for r, w, ls in itertools.product(["none", "sum", "mean"], [None, W3], [0.0, 0.2])
] + [S((2, 3, 2), (2, 3, 2), weight=W3, desc="probs-2x3x2"), S((3,), (3,), desc="probs-unbatched")]
NLL_SAMPLES = [
    S((5, 4), target=T5, weight=w, reduction=r, desc=f"5x4-{r}-{'w' if w is not None else 'nw'}")
    for r, w in itertools.product(["none", "sum", "mean"], [None, W4])
] + [
    S((5, 4), target=T5_IGNORE2, ignore_index=2, desc="ignore_index=2"),
    S((3, 4, 2), target=T3x2, weight=W4, desc="3x4x2-w"),
    S((4,), target=np.array(3), desc="unbatched"),
]
PAIR = [S((3, 4), (3, 4), reduction=r) for r in ("none", "sum", "mean")] + [S((), ()), S((2, 1, 3), (2, 1, 3))]
BCE_W = _rng.uniform(0.5, 1.5, (4,))


def _bce(L, x, t, weight=None, **kw):
    return L.nn.functional.binary_cross_entropy(x, t, weight=_const(L, weight, x), **kw)


def _bce_logits(L, x, t, weight=None, pos_weight=None, **kw):
    return L.nn.functional.binary_cross_entropy_with_logits(
        x, t, weight=_const(L, weight, x), pos_weight=_const(L, pos_weight, x), **kw)


LOSS = [
    OpInfo("F.cross_entropy", _ce, CE_SAMPLES),
    OpInfo("F.cross_entropy_probs", _ce, CE_PROB_SAMPLES, domain=(real, uniform(0.0, 1.0))),
    OpInfo("F.nll_loss", _nll, NLL_SAMPLES),
    OpInfo("F.mse_loss", lambda L, a, b, **kw: L.nn.functional.mse_loss(a, b, **kw), PAIR),
    OpInfo("F.l1_loss", lambda L, a, b, **kw: L.nn.functional.l1_loss(a, b, **kw), PAIR),
    # input kept ≥ 0.15 from the kinks (|x − t| = 0, β or δ), the target within 0.05 of zero
    OpInfo("F.smooth_l1_loss", lambda L, a, b, **kw: L.nn.functional.smooth_l1_loss(a, b, **kw),
           PAIR + [S((3, 4), (3, 4), beta=0.5), S((3, 4), (3, 4), beta=0.0)],
           domain=(avoiding(-1.0, -0.5, 0.0, 0.5, 1.0, gap=0.15), uniform(-0.05, 0.05))),
    OpInfo("F.huber_loss", lambda L, a, b, **kw: L.nn.functional.huber_loss(a, b, **kw),
           PAIR + [S((3, 4), (3, 4), delta=2.0), S((3, 4), (3, 4), delta=0.5)],
           domain=(avoiding(-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, gap=0.15), uniform(-0.05, 0.05))),
    OpInfo("F.binary_cross_entropy", _bce,
           PAIR + [S((3, 4), (3, 4), weight=BCE_W, reduction=r, desc=f"weight-{r}") for r in ("none", "mean")],
           domain=(uniform(0.05, 0.95), uniform(0.0, 1.0)),
           # torch's double backward of BCE adds 1e-12 to x and to 1 − x: agreement to ~1e-9 only
           tol={np.float64: dict(rtol=1e-8, atol=1e-12)}),
    OpInfo("F.binary_cross_entropy_with_logits", _bce_logits,
           PAIR + [S((3, 4), (3, 4), weight=BCE_W, reduction=r, desc=f"weight-{r}") for r in ("none", "mean")]
           + [S((3, 4), (3, 4), pos_weight=np.array([0.5, 1.0, 2.0, 3.0]), reduction=r, desc=f"pos_weight-{r}")
              for r in ("none", "sum")]
           + [S((3, 4), (3, 4), pos_weight=np.array([2.0, 0.5, 1.0, 4.0]), weight=BCE_W, desc="both-weights")],
           domain=(real, uniform(0.0, 1.0))),
    OpInfo("F.kl_div", lambda L, a, b, **kw: L.nn.functional.kl_div(a, b, **kw),
           [S((3, 4), (3, 4), reduction=r) for r in ("none", "sum", "mean", "batchmean")] + [S((4,), (4,))],
           domain=(real, uniform(0.1, 1.0))),
    OpInfo("F.kl_div_log_target", lambda L, a, b, **kw: L.nn.functional.kl_div(a, b, log_target=True, **kw),
           [S((3, 4), (3, 4), reduction=r) for r in ("none", "batchmean")]),
    OpInfo("F.cosine_similarity", lambda L, a, b, **kw: L.nn.functional.cosine_similarity(a, b, **kw),
           [S((3, 4), (3, 4)), S((3, 4), (3, 4), dim=0), S((2, 3, 4), (2, 3, 4), dim=-1), S((3, 4), (4,), dim=1),
            S((5,), (5,), dim=0), S((2, 3), (2, 3), eps=0.5)]),
]

(test_forward_matches_torch, test_grad_matches_torch, test_gradcheck, test_gradgradcheck,
 test_gradgrad_matches_torch) = generated_tests(LOSS)


def _both(fn, *arrays, grad=False):
    """fn run on glassnet and torch tensors holding the same arrays."""
    return (fn(gn, *[gn.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]),
            fn(torch, *[torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]))


# ----- cross-entropy specifics --------------------------------------------------------------------------------
def test_cross_entropy_is_stable_for_huge_logits():
    x = np.array([[1000.0, 0.0, -1000.0], [-5e4, 5e4, 0.0]])
    t = np.array([2, 0])
    ours, theirs = _both(lambda L, a, b: L.nn.functional.cross_entropy(a, b, reduction="none"), x, t)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)
    xg = gn.tensor(x, requires_grad=True)
    F.cross_entropy(xg, gn.tensor(t), label_smoothing=0.1).backward()
    assert np.isfinite(xg.grad.data).all()


def test_cross_entropy_all_targets_ignored_gives_nan_like_torch():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))
    t = np.full(3, -100)
    ours, theirs = _both(lambda L, a, b: L.nn.functional.cross_entropy(a, b), x, t)
    assert np.isnan(ours.item()) and np.isnan(theirs.item())
    ours, theirs = _both(lambda L, a, b: L.nn.functional.cross_entropy(a, b, reduction="sum"), x, t)
    assert ours.item() == theirs.item() == 0.0


def test_cross_entropy_weighted_mean_divides_by_target_weights():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3))
    t = np.array([0, 1, 2, 1])
    per = F.cross_entropy(gn.tensor(x), gn.tensor(t), weight=gn.tensor(W3), reduction="none").data
    mean = F.cross_entropy(gn.tensor(x), gn.tensor(t), weight=gn.tensor(W3)).item()
    assert mean == pytest.approx(per.sum() / W3[t].sum(), rel=1e-12)


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_cross_entropy_float32_stays_float32(reduction):
    rng = np.random.default_rng(3)
    x = gn.tensor(rng.standard_normal((6, 5)).astype(np.float32), requires_grad=True)
    t = gn.tensor(np.array([0, 1, 2, 3, 4, -100]))
    out = F.cross_entropy(x, t, weight=gn.tensor(np.ones(5)), label_smoothing=0.1, reduction=reduction)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


def test_cross_entropy_second_derivative_through_create_graph():
    """d/dx of ‖dL/dx‖² (a gradient penalty) matches torch."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 5))
    t = np.array([1, 0, 4, -100])

    def penalty(L, a, b):
        loss = L.nn.functional.cross_entropy(a, b, weight=_const(L, np.linspace(0.5, 2, 5), a), label_smoothing=0.1)
        (g,) = (gn.grad if L is gn else torch.autograd.grad)(loss, a, create_graph=True)
        return (g * g).sum()

    xs, xt = gn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours, theirs = penalty(gn, xs, gn.tensor(t)), penalty(torch, xt, torch.tensor(t))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-10)
    (go,) = gn.grad(ours, xs)
    (gt,) = torch.autograd.grad(theirs, xt)
    np.testing.assert_allclose(go.data, gt.numpy(), rtol=1e-9, atol=1e-12)


# ----- reductions and dtypes of the elementwise losses ----------------------------------------------------------
ELEMENTWISE = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
               "binary_cross_entropy_with_logits", "kl_div"]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_float32_stays_float32(name):
    rng = np.random.default_rng(5)
    x = gn.tensor(rng.uniform(0.1, 0.9, (3, 4)).astype(np.float32), requires_grad=True)
    t = gn.tensor(rng.uniform(0.1, 0.9, (3, 4)).astype(np.float32))
    out = getattr(F, name)(x, t)
    assert out.dtype == np.float32
    out.backward()
    assert x.grad.dtype == np.float32


def test_cosine_similarity_float32_and_zero_vector():
    a = gn.tensor(np.zeros((2, 3), dtype=np.float32), requires_grad=True)
    b = gn.tensor(np.ones((2, 3), dtype=np.float32))
    out = F.cosine_similarity(a, b)
    assert out.dtype == np.float32 and np.all(out.data == 0)
    out.sum().backward()
    assert np.isfinite(a.grad.data).all()


def test_bce_with_logits_is_stable_and_exact_at_zero():
    x = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    t = np.array([1.0, 0.0, 0.5, 1.0, 0.0])
    (ours, theirs) = _both(lambda L, a, b: L.nn.functional.binary_cross_entropy_with_logits(a, b, reduction="none"),
                           x, t, grad=True)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12)
    g = np.ones(5)
    ours.backward(gn.tensor(g))
    xs = gn.tensor(x, requires_grad=True)
    F.binary_cross_entropy_with_logits(xs, gn.tensor(t), reduction="sum").backward()
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.binary_cross_entropy_with_logits(xt, torch.tensor(t), reduction="sum").backward()
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-12)  # σ(0) − 0.5 = 0 exactly at x = 0


def test_bce_clamps_log_like_torch():
    x = np.array([0.0, 1.0, 0.5, 1e-50])
    t = np.array([1.0, 0.0, 0.5, 1.0])
    ours, theirs = _both(lambda L, a, b: L.nn.functional.binary_cross_entropy(a, b, reduction="none"), x, t)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)
    assert ours.data[0] == 100.0


def test_elementwise_loss_broadcast_warns_like_torch():
    x, t = gn.tensor(np.ones((3, 1))), gn.tensor(np.zeros(3))
    with pytest.warns(UserWarning, match=r"mse_loss: using a target of shape \(3,\)"):
        out = F.mse_loss(x, t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = torch.nn.functional.mse_loss(torch.ones(3, 1, dtype=torch.float64),
                                                torch.zeros(3, dtype=torch.float64))
    assert out.item() == expected.item()


def test_kl_div_zero_target_terms_are_zero():
    x = gn.tensor(np.log(np.array([[0.5, 0.5, 1e-9]])), requires_grad=True)
    t = gn.tensor(np.array([[0.5, 0.5, 0.0]]), requires_grad=True)
    out = F.kl_div(x, t, reduction="batchmean")
    assert out.item() == pytest.approx(0.0, abs=1e-12)
    out.backward()
    assert np.isfinite(t.grad.data).all()


# ----- bad input ------------------------------------------------------------------------------------------------
def _x(*shape, dtype=np.float64):
    return gn.tensor(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize("fn,args,error,message", [
    (F.cross_entropy, (_x(4, 3), gn.tensor([0, 1, 3, 1])), IndexError,
     r"cross_entropy: target 3 is out of range for 3 classes \(input of shape \(4, 3\)\)"),
    (F.cross_entropy, (_x(4, 3), gn.tensor([0, -1, 1, 1])), IndexError, r"target -1 is out of range"),
    (F.cross_entropy, (_x(4, 3), gn.tensor([0, 1, 2])), ValueError,
     r"cross_entropy: target of shape \(3,\) does not match input of shape \(4, 3\); expected class indices of "
     r"shape \(4,\) or class probabilities of shape \(4, 3\)"),
    (F.cross_entropy, (_x(4, 3, 2), gn.tensor(np.zeros((4, 3), dtype=np.int64))), ValueError,
     r"expected class indices of shape \(4, 2\)"),
    (F.cross_entropy, (_x(4, 3), gn.tensor([0.0, 1.0, 2.0, 1.0])), TypeError,
     r"cross_entropy: target must hold integer class indices \(int64\), got float32"),
    (F.cross_entropy, (_x(4, 3), gn.tensor(np.zeros((4, 3), dtype=np.int64))), TypeError,
     r"class probabilities and must be floating point, got int64"),
    (F.cross_entropy, (_x(4, 3), gn.tensor([0, 1, 2, 1]), gn.tensor(np.ones(4))), ValueError,
     r"cross_entropy: weight must hold one value per class, shape \(3,\), got shape \(4,\)"),
    (F.cross_entropy, (_x(4, 3, dtype=np.int64), gn.tensor([0, 1, 2, 1])), TypeError,
     r"cross_entropy: input must be floating point, got int64"),
    (F.cross_entropy, (_x(), gn.tensor(0)), ValueError, r"cross_entropy: input must have a class dimension"),
    (F.nll_loss, (_x(2, 3), gn.tensor([5, 0])), IndexError, r"nll_loss: target 5 is out of range for 3 classes"),
    (F.nll_loss, (_x(2, 3), gn.tensor([1, 0, 1])), ValueError,
     r"nll_loss: target of shape \(3,\) does not match input of shape \(2, 3\); expected class indices of shape "
     r"\(2,\)$"),
    (F.mse_loss, (_x(3, 2), _x(4)), ValueError,
     r"mse_loss: input of shape \(3, 2\) and target of shape \(4,\) cannot be broadcast together"),
    (F.l1_loss, (_x(3), _x(2)), ValueError, r"l1_loss: input of shape \(3,\) and target of shape \(2,\)"),
    (F.binary_cross_entropy, (_x(3), _x(3, 1)), ValueError,
     r"binary_cross_entropy: target of shape \(3, 1\) must have the same shape as input of shape \(3,\)"),
    (F.binary_cross_entropy, (gn.tensor(np.array([0.5, 1.5])), _x(2)), ValueError,
     r"binary_cross_entropy: input values must be probabilities in \[0, 1\], got values in \[0.5, 1.5\]"),
    (F.binary_cross_entropy, (_x(2), gn.tensor([1, 0])), TypeError,
     r"binary_cross_entropy: target must be floating point like the input \(float64\), got int64"),
    (F.binary_cross_entropy_with_logits, (_x(3), _x(3, 1)), ValueError,
     r"binary_cross_entropy_with_logits: target of shape \(3, 1\) must have the same shape as input"),
    (F.binary_cross_entropy_with_logits, (_x(2, 3), _x(2, 3), None, "mean", _x(2)), ValueError,
     r"pos_weight of shape \(2,\) cannot be broadcast to input of shape \(2, 3\)"),
    (F.kl_div, (_x(2, 3), _x(3, 2)), ValueError, r"kl_div: input of shape \(2, 3\) and target of shape \(3, 2\)"),
    (F.cosine_similarity, (_x(2, 3), _x(3, 2)), ValueError,
     r"cosine_similarity: x1 of shape \(2, 3\) and x2 of shape \(3, 2\) cannot be broadcast together"),
    (F.cosine_similarity, (_x(3), _x(3)), IndexError, r"cosine_similarity: dim 1 is out of range"),
])
def test_bad_input_is_explained(fn, args, error, message):
    with pytest.raises(error, match=message):
        fn(*args)


@pytest.mark.parametrize("fn,kwargs,message", [
    (F.cross_entropy, dict(reduction="avg"),
     r"cross_entropy: reduction must be one of 'none', 'mean', 'sum', got 'avg'"),
    (F.cross_entropy, dict(label_smoothing=1.5), r"cross_entropy: label_smoothing must be between 0.0 and 1.0"),
    (F.kl_div, dict(reduction="batch"), r"'batchmean', got 'batch'"),
    (F.smooth_l1_loss, dict(beta=-1.0), r"smooth_l1_loss: beta must be non-negative, got -1.0"),
    (F.huber_loss, dict(delta=0.0), r"huber_loss: delta must be positive, got 0.0"),
])
def test_bad_options_are_explained(fn, kwargs, message):
    x = gn.tensor(np.full((2, 3), 0.5))
    target = gn.tensor([0, 1]) if fn is F.cross_entropy else gn.tensor(np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=message):
        fn(x, target, **kwargs)
