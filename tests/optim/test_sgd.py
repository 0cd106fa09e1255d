"""SGD matches torch.optim.SGD step for step, for every combination of its options."""

import numpy as np
import pytest

import glassnet as gn

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lr=0.1),
        dict(lr=0.1, momentum=0.9),
        dict(lr=0.1, momentum=0.9, dampening=0.5),
        dict(lr=0.1, momentum=0.9, nesterov=True),
        dict(lr=0.05, weight_decay=0.1),
        dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01),
        dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
        dict(lr=0.05, momentum=0.9, maximize=True),
    ],
)
def test_sgd_matches_torch(run_both, assert_match, kwargs):
    gp, tp, _, _ = run_both(gn.optim.SGD, torch.optim.SGD, kwargs)
    assert_match(gp, tp, 1e-10)


def test_sgd_float32_stays_float32_and_matches(run_both, assert_match):
    gp, tp, _, _ = run_both(
        gn.optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01), dtype=np.float32
    )
    assert all(p.dtype == np.float32 for p in gp)
    assert_match(gp, tp, 1e-5)


def test_sgd_param_groups_match_torch(run_both, assert_match):
    groups = [dict(lr=0.2, momentum=0.5), dict(nesterov=True, momentum=0.9)]
    gp, tp, gopt, _ = run_both(gn.optim.SGD, torch.optim.SGD, dict(lr=0.05), groups=groups)
    assert_match(gp, tp, 1e-10)
    assert gopt.param_groups[1]["lr"] == 0.05 and gopt.param_groups[0]["lr"] == 0.2


def test_sgd_closure_minimises_a_quadratic():
    p = gn.Tensor(np.array([0.0, 10.0]), requires_grad=True)
    opt = gn.optim.SGD([p], lr=0.1, momentum=0.5)

    def closure():
        opt.zero_grad()
        loss = ((p - 3.0) ** 2).sum()
        loss.backward()
        return loss

    first = opt.step(closure).item()
    for _ in range(100):
        last = opt.step(closure).item()
    assert last < 1e-8 < first
    np.testing.assert_allclose(p.data, [3.0, 3.0], atol=1e-4)


def test_sgd_update_records_no_graph():
    p = gn.Tensor(np.ones(3), requires_grad=True)
    p.grad = gn.Tensor(np.ones(3))
    gn.optim.SGD([p], lr=0.5, momentum=0.9).step()
    assert p.is_leaf and p.grad_fn is None
    np.testing.assert_allclose(p.data, 0.5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(lr=-1.0), "learning rate"),
        (dict(momentum=-0.1), "momentum"),
        (dict(weight_decay=-1e-4), "weight_decay"),
        (dict(nesterov=True), "Nesterov"),
        (dict(momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    ],
)
def test_sgd_rejects_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gn.optim.SGD([gn.Tensor([1.0], requires_grad=True)], **kwargs)


def test_plain_sgd_float32_is_bitwise_the_formula_matches_torch_and_keeps_no_state():
    # Plain SGD takes its own loop (update_group) with the learning rate as a 0-d float32 array: the result must be
    # the same bits as θ − lr·g with a Python float; PyTorch fuses the multiply-add (one rounding), so it agrees to
    # float32 precision; and, as in PyTorch, no per-parameter state is created.
    rng = np.random.default_rng(3)
    values = [rng.standard_normal(s).astype(np.float32) for s in [(16, 2), (16,), (1, 16)]]
    ours = [gn.tensor(v, requires_grad=True) for v in values]
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    expected = [v.copy() for v in values]
    gopt, topt = gn.optim.SGD(ours, lr=0.0123), torch.optim.SGD(theirs, lr=0.0123)
    for _ in range(5):
        for p, q, e in zip(ours, theirs, expected):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad, q.grad = gn.tensor(g), torch.tensor(g)
            e -= 0.0123 * g
        gopt.step()
        topt.step()
    for p, q, e in zip(ours, theirs, expected):
        assert p.dtype == np.float32
        np.testing.assert_array_equal(p.detach().numpy(), e)
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6, atol=1e-7)
    assert len(gopt.state) == 0 and gopt.state_dict()["state"] == {}


def test_plain_sgd_loop_skips_parameters_without_gradients_and_mixed_dtypes():
    a = gn.tensor([1.0, 2.0], requires_grad=True)
    b = gn.tensor([1.0, 2.0], dtype=gn.float64, requires_grad=True)
    c = gn.tensor([5.0], requires_grad=True)  # no gradient: untouched
    opt = gn.optim.SGD([a, b, c], lr=0.5)
    a.grad, b.grad = gn.tensor([2.0, 2.0]), gn.tensor([4.0, 4.0], dtype=gn.float64)
    opt.step()
    assert a.tolist() == [0.0, 1.0] and a.dtype == np.float32
    assert b.tolist() == [-1.0, 0.0] and b.dtype == np.float64
    assert c.tolist() == [5.0]
