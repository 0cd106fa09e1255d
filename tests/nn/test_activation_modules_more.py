"""The second round of activation modules: each equals its torch.nn twin (outputs and input gradients), RReLU samples
its slopes in [lower, upper] while training and uses their mean in evaluation."""

import numpy as np
import pytest
import torch

import glassnet as gn

MODULES = [
    ("ReLU6", {}),
    ("Hardsigmoid", {}),
    ("Hardswish", {}),
    ("Mish", {}),
    ("LogSigmoid", {}),
    ("Softsign", {}),
    ("Tanhshrink", {}),
    ("CELU", dict(alpha=0.7)),
    ("GLU", dict(dim=1)),
    ("Softmin", dict(dim=1)),
    ("Threshold", dict(threshold=0.2, value=-1.0)),
    ("Hardshrink", dict(lambd=0.3)),
    ("Softshrink", dict(lambd=0.3)),
]


@pytest.mark.parametrize("name,kwargs", MODULES, ids=[m[0] for m in MODULES])
def test_module_matches_torch(name, kwargs):
    x = np.random.default_rng(0).standard_normal((3, 4)) * 4
    ours, theirs = getattr(gn.nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    gx, tx = gn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    gy, ty = ours(gx), theirs(tx)
    np.testing.assert_allclose(gy.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    gy.sum().backward()
    ty.sum().backward()
    # (torch's celu and hardsigmoid backward round a constant to float32: agreement to 1e-6, not 1e-10)
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-12)


def test_rrelu_draws_slopes_while_training_and_uses_their_mean_in_eval():
    m = gn.nn.RReLU(0.1, 0.3)
    x = -gn.ones(2000, dtype=gn.float64)
    slopes = -m(x).numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and abs(slopes.mean() - 0.2) < 0.01 and slopes.std() > 0.04
    m.eval()
    np.testing.assert_allclose(m(x).numpy(), -0.2)
    assert m(gn.tensor([2.0])).tolist() == [2.0]
    with pytest.raises(ValueError, match="rrelu: expected 0 <= lower <= upper"):
        gn.nn.functional.rrelu(x, 0.5, 0.1)


def test_glu_needs_an_even_dim():
    with pytest.raises(ValueError, match="glu: dim 1 of shape \\(2, 3\\) must have an even size"):
        gn.nn.functional.glu(gn.ones(2, 3), 1)
