"""RMSprop matches torch.optim.RMSprop step for step (centred, momentum, weight decay)."""

import numpy as np
import pytest

import glassnet as gn

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(lr=0.01, alpha=0.9),
        dict(lr=0.01, momentum=0.9),
        dict(lr=0.01, centered=True),
        dict(lr=0.01, centered=True, momentum=0.8),
        dict(lr=0.01, centered=True, momentum=0.8, weight_decay=0.1, eps=1e-6),
        dict(lr=0.01, maximize=True, momentum=0.5),
    ],
)
def test_rmsprop_matches_torch(run_both, assert_match, kwargs):
    gp, tp, gopt, topt = run_both(gn.optim.RMSprop, torch.optim.RMSprop, kwargs)
    assert_match(gp, tp, 1e-10)
    p, q = gopt.param_groups[0]["params"][0], topt.param_groups[0]["params"][0]
    assert set(gopt.state[p]) == set(topt.state[q])


def test_rmsprop_float32_stays_float32_and_matches(run_both, assert_match):
    gp, tp, _, _ = run_both(
        gn.optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.9), dtype=np.float32
    )
    assert all(p.dtype == np.float32 for p in gp)
    assert_match(gp, tp, 1e-5)


def test_rmsprop_rejects_negative_alpha():
    with pytest.raises(ValueError, match="alpha"):
        gn.optim.RMSprop([gn.Tensor([1.0], requires_grad=True)], alpha=-0.5)
