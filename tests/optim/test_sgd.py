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
