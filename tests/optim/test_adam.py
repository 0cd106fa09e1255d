"""Adam and AdamW match torch.optim step for step (amsgrad, L2 and decoupled weight decay, maximize)."""

import numpy as np
import pytest

import glassnet as gn

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(lr=0.01, betas=(0.8, 0.99)),
        dict(lr=0.01, amsgrad=True),
        dict(lr=0.01, weight_decay=0.1),
        dict(lr=0.01, weight_decay=0.1, amsgrad=True, eps=1e-6),
        dict(lr=0.01, maximize=True),
    ],
)
def test_adam_matches_torch(run_both, assert_match, kwargs):
    gp, tp, _, _ = run_both(gn.optim.Adam, torch.optim.Adam, kwargs)
    assert_match(gp, tp, 1e-10)


@pytest.mark.parametrize(
    "kwargs",
    [dict(), dict(lr=0.01, weight_decay=0.1), dict(lr=0.01, weight_decay=0.05, amsgrad=True)],
)
def test_adamw_matches_torch(run_both, assert_match, kwargs):
    gp, tp, _, _ = run_both(gn.optim.AdamW, torch.optim.AdamW, kwargs)
    assert_match(gp, tp, 1e-10)


def test_adamw_default_weight_decay_is_pytorchs():
    opt = gn.optim.AdamW([gn.Tensor([1.0], requires_grad=True)])
    assert opt.param_groups[0]["weight_decay"] == 1e-2


def test_adamw_decay_differs_from_adam_l2():
    """Decoupled decay is not rescaled by the adaptive step, so the two diverge."""
    out = []
    for cls in (gn.optim.Adam, gn.optim.AdamW):
        p = gn.Tensor(np.array([1.0, -2.0]), requires_grad=True)
        opt = cls([p], lr=0.1, weight_decay=0.5)
        for _ in range(5):
            p.grad = gn.Tensor(np.array([0.01, 0.01]))
            opt.step()
        out.append(p.data.copy())
    assert not np.allclose(out[0], out[1])


def test_adam_float32_stays_float32_and_matches(run_both, assert_match):
    gp, tp, gopt, _ = run_both(
        gn.optim.Adam, torch.optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.01), dtype=np.float32
    )
    assert all(p.dtype == np.float32 for p in gp)
    assert all(v.dtype == np.float32 for s in gopt.state.values() for v in s.values() if isinstance(v, gn.Tensor))
    assert_match(gp, tp, 1e-5)


def test_adam_param_groups_match_torch(run_both, assert_match):
    groups = [dict(lr=0.02, amsgrad=True), dict(betas=(0.5, 0.9), weight_decay=0.1)]
    gp, tp, _, _ = run_both(gn.optim.Adam, torch.optim.Adam, dict(lr=0.01), groups=groups)
    assert_match(gp, tp, 1e-10)


def test_adam_state_has_pytorchs_buffers(run_both):
    _, _, gopt, topt = run_both(gn.optim.Adam, torch.optim.Adam, dict(amsgrad=True), steps=3)
    for p, q in zip(gopt.param_groups[0]["params"], topt.param_groups[0]["params"]):
        assert set(gopt.state[p]) == set(topt.state[q])
        assert gopt.state[p]["step"] == topt.state[q]["step"].item()
        np.testing.assert_allclose(gopt.state[p]["exp_avg_sq"].data, topt.state[q]["exp_avg_sq"].numpy(), rtol=1e-12)


@pytest.mark.parametrize("betas", [(1.0, 0.999), (0.9, -0.1)])
def test_adam_rejects_bad_betas(betas):
    with pytest.raises(ValueError, match="betas"):
        gn.optim.Adam([gn.Tensor([1.0], requires_grad=True)], betas=betas)
