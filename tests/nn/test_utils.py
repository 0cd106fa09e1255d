"""gn.nn.utils: gradient clipping (against torch.nn.utils) and the L1/L2 penalties (values and gradients)."""

import math

import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.utils  # noqa: F401 - makes gn.nn.utils available

torch = pytest.importorskip("torch")


def _pair(dtype=np.float64, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(4, 3), (3,), ()]
    grads = [np.asarray(scale * rng.standard_normal(s), dtype=dtype) for s in shapes]
    gp = [gn.Tensor(np.zeros(s, dtype=dtype), requires_grad=True) for s in shapes]
    tp = [torch.zeros(s, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True) for s in shapes]
    for p, q, g in zip(gp, tp, grads):
        p.grad, q.grad = gn.Tensor(g.copy()), torch.tensor(g.copy())
    return gp, tp


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    norm_type = float(norm_type)
    gp, tp = _pair()
    total = gn.nn.utils.clip_grad_norm_(gp, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type=norm_type, foreach=False)
    assert isinstance(total, gn.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-12)
    for p, q in zip(gp, tp):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_clip_grad_norm_float32_and_single_tensor():
    gp, tp = _pair(np.float32, scale=10.0)
    total = gn.nn.utils.clip_grad_norm_(gp[0], 1.0)
    expected = torch.nn.utils.clip_grad_norm_(tp[0], 1.0, foreach=False)
    assert gp[0].grad.dtype == np.float32 and total.dtype == np.float32
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    np.testing.assert_allclose(gp[0].grad.data, tp[0].grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(gp[0].grad.data), 1.0, rtol=1e-5)


def test_clip_grad_norm_skips_missing_grads_and_handles_none_at_all():
    gp, _ = _pair()
    gp[1].grad = None
    gn.nn.utils.clip_grad_norm_(iter(gp), 0.1)  # a generator works, as model.parameters() is one
    assert gp[1].grad is None
    np.testing.assert_allclose(np.sqrt(sum((p.grad.data**2).sum() for p in gp if p.grad is not None)), 0.1, rtol=1e-5)
    assert gn.nn.utils.clip_grad_norm_([gn.Tensor([1.0], requires_grad=True)], 1.0).item() == 0.0


def test_clip_grad_norm_nonfinite():
    gp, _ = _pair()
    gp[0].grad.data[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="nan"):
        gn.nn.utils.clip_grad_norm_(gp, 1.0, error_if_nonfinite=True)
    assert math.isnan(gn.nn.utils.clip_grad_norm_(gp, 1.0).item())


def test_clip_grad_value_matches_torch():
    gp, tp = _pair(scale=3.0)
    gp[2].grad = None
    tp[2].grad = None
    assert gn.nn.utils.clip_grad_value_(gp, 0.7) is None
    torch.nn.utils.clip_grad_value_(tp, 0.7, foreach=False)
    for p, q in zip(gp[:2], tp[:2]):
        np.testing.assert_array_equal(p.grad.data, q.grad.numpy())
    assert np.abs(gp[0].grad.data).max() == 0.7


def test_l1_and_l2_penalties_values_and_gradients():
    a = gn.Tensor(np.array([[1.0, -2.0], [0.5, -0.25]]), requires_grad=True)
    b = gn.Tensor(np.array([3.0, -1.0]), requires_grad=True)
    l1 = gn.nn.utils.l1_penalty([a, b])
    assert l1.item() == pytest.approx(1 + 2 + 0.5 + 0.25 + 3 + 1)
    l1.backward()
    np.testing.assert_array_equal(a.grad.data, np.sign(a.data))
    a.grad = b.grad = None
    l2 = gn.nn.utils.l2_penalty(p for p in [a, b])
    assert l2.item() == pytest.approx(1 + 4 + 0.25 + 0.0625 + 9 + 1)
    l2.backward()
    np.testing.assert_allclose(b.grad.data, 2 * b.data)


def test_penalties_keep_float32_and_accept_nothing():
    p = gn.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    assert gn.nn.utils.l2_penalty(p).dtype == np.float32
    assert gn.nn.utils.l1_penalty([]).item() == 0.0


def test_l2_penalty_over_two_equals_weight_decay():
    """loss + λ/2·Σθ² under plain SGD takes the same steps as SGD(weight_decay=λ)."""
    x = np.array([1.0, -2.0, 0.5])
    p1, p2 = gn.Tensor(x.copy(), requires_grad=True), gn.Tensor(x.copy(), requires_grad=True)
    opt1, opt2 = gn.optim.SGD([p1], lr=0.1), gn.optim.SGD([p2], lr=0.1, weight_decay=0.3)
    for _ in range(5):
        opt1.zero_grad()
        ((p1 * 2.0).sum() + 0.15 * gn.nn.utils.l2_penalty([p1])).backward()
        opt1.step()
        opt2.zero_grad()
        (p2 * 2.0).sum().backward()
        opt2.step()
    np.testing.assert_allclose(p1.data, p2.data, rtol=1e-12)
