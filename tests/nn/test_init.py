"""glassnet.nn.init: PyTorch's formulas, reproducible under gn.manual_seed."""

import math

import numpy as np
import pytest
import torch

import glassnet as gn
from glassnet.nn import init


def _w(*shape):
    return gn.zeros(*shape, requires_grad=True)


@pytest.mark.parametrize(
    "nonlinearity, param",
    [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
     ("leaky_relu", 0.2), ("selu", None), ("conv_transpose2d", None)],
)
def test_calculate_gain_matches_pytorch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param))


def test_calculate_gain_rejects_unknown():
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError):
        init.calculate_gain("leaky_relu", "steep")


def test_fills_are_in_place_and_keep_dtype_and_identity():
    w = gn.zeros(3, 4, dtype=gn.float64, requires_grad=True)
    data = w.data
    assert init.constant_(w, 0.5) is w and w.data is data and w.dtype == np.float64
    assert (w.detach().numpy() == 0.5).all()
    init.ones_(w)
    assert (w.detach().numpy() == 1).all()
    init.zeros_(w)
    assert not w.detach().numpy().any()
    init.eye_(w)
    np.testing.assert_array_equal(w.detach().numpy(), np.eye(3, 4))
    assert w.grad_fn is None and w.requires_grad


def test_uniform_and_normal_statistics():
    gn.manual_seed(0)
    w = init.uniform_(_w(200, 500), -2.0, 3.0).detach().numpy()
    assert w.min() >= -2 and w.max() < 3 and abs(w.mean() - 0.5) < 0.02 and abs(w.std() - 5 / math.sqrt(12)) < 0.01
    w = init.normal_(_w(200, 500), 1.0, 0.5).detach().numpy()
    assert abs(w.mean() - 1) < 0.01 and abs(w.std() - 0.5) < 0.01
    w = init.trunc_normal_(_w(200, 500), 0.0, 1.0, -1.0, 2.0).detach().numpy()
    assert w.min() >= -1 and w.max() <= 2


@pytest.mark.parametrize("shape", [(256, 784), (64, 32, 3, 3), (128, 16, 5)])
def test_xavier_and_kaiming_match_pytorch_statistics(shape):
    torch.manual_seed(0)
    gn.manual_seed(0)
    cases = [
        (init.xavier_uniform_, torch.nn.init.xavier_uniform_, {"gain": 2.0}),
        (init.xavier_normal_, torch.nn.init.xavier_normal_, {}),
        (init.kaiming_uniform_, torch.nn.init.kaiming_uniform_, {"a": math.sqrt(5)}),
        (init.kaiming_uniform_, torch.nn.init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"}),
        (init.kaiming_normal_, torch.nn.init.kaiming_normal_, {"nonlinearity": "relu"}),
        (init.kaiming_normal_, torch.nn.init.kaiming_normal_, {"a": 0.1, "mode": "fan_out"}),
    ]
    for ours, theirs, kwargs in cases:
        w = ours(_w(*shape), **kwargs).detach().numpy()
        tw = theirs(torch.empty(shape), **kwargs).numpy()
        assert abs(w.std() / tw.std() - 1) < 0.05, (ours.__name__, kwargs)
        assert abs(w.mean()) < 0.05 * tw.std() + 1e-3
        if "uniform" in ours.__name__:
            assert abs(np.abs(w).max() / np.abs(tw).max() - 1) < 0.01


def test_kaiming_formula_exactly():
    w = init.kaiming_uniform_(_w(1000, 50), nonlinearity="relu").detach().numpy()
    bound = math.sqrt(2) * math.sqrt(3 / 50)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.999 * bound
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(_w(2, 2), mode="fan_avg")
    with pytest.raises(ValueError, match="fan in and fan out"):
        init.xavier_uniform_(_w(5))


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (8, 2, 3, 3)])
def test_orthogonal(shape):
    w = init.orthogonal_(_w(*shape), gain=2.0).detach().numpy().reshape(shape[0], -1)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w
    np.testing.assert_allclose(gram, 4 * np.eye(min(rows, cols)), atol=1e-5)
    with pytest.raises(ValueError, match="2 or more dims"):
        init.orthogonal_(_w(3))


def test_manual_seed_and_generator_make_init_reproducible():
    gn.manual_seed(7)
    a = init.kaiming_normal_(_w(5, 5)).detach().numpy().copy()
    gn.manual_seed(7)
    b = init.kaiming_normal_(_w(5, 5)).detach().numpy()
    np.testing.assert_array_equal(a, b)
    g1, g2 = gn.Generator(3), gn.Generator(3)
    np.testing.assert_array_equal(init.xavier_uniform_(_w(3, 3), generator=g1).detach().numpy(),
                                  init.xavier_uniform_(_w(3, 3), generator=g2).detach().numpy())


def test_aliases():
    assert init.glorot_uniform_ is init.xavier_uniform_ and init.he_normal_ is init.kaiming_normal_
    assert init.kaiming_uniform_(_w(0, 3)).shape == (0, 3)  # empty tensors are left alone, as in PyTorch


def test_layer_default_draws_within_one_over_sqrt_fan_in():
    import numpy as np

    import glassnet as gn
    from glassnet.nn import init

    gn.manual_seed(0)
    weight, bias = gn.empty(64, 3, 5, 5), gn.empty(64)
    init.layer_default_(weight, bias)
    bound = 1 / np.sqrt(3 * 5 * 5)
    assert np.abs(weight.data).max() <= bound and np.abs(bias.data).max() <= bound
    assert np.abs(weight.data).max() > 0.9 * bound  # uses the whole range, not a narrower one
