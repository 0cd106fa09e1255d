"""Adagrad matches torch.optim.Adagrad step for step (lr_decay, weight decay, initial accumulator)."""

import numpy as np
import pytest

import glassnet as gn

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(lr=0.1, lr_decay=0.05),
        dict(lr=0.1, weight_decay=0.1),
        dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6),
        dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1),
        dict(lr=0.1, maximize=True),
    ],
)
def test_adagrad_matches_torch(run_both, assert_match, kwargs):
    gp, tp, _, _ = run_both(gn.optim.Adagrad, torch.optim.Adagrad, kwargs)
    assert_match(gp, tp, 1e-10)


def test_adagrad_float32_stays_float32_and_matches(run_both, assert_match):
    gp, tp, _, _ = run_both(gn.optim.Adagrad, torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.01), dtype=np.float32)
    assert all(p.dtype == np.float32 for p in gp)
    assert_match(gp, tp, 1e-5)


def test_adagrad_rejects_negative_lr_decay():
    with pytest.raises(ValueError, match="lr_decay"):
        gn.optim.Adagrad([gn.Tensor([1.0], requires_grad=True)], lr_decay=-1.0)
