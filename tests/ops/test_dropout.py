"""Tests of glassnet/ops/dropout.py through F.dropout, F.dropout1d and F.dropout2d: statistics, reproducibility,
evaluation mode, gradients and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F


def _ones(*shape, dtype=np.float64, requires_grad=False):
    return gn.tensor(np.ones(shape, dtype=dtype), requires_grad=requires_grad)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_zero_fraction_is_p_and_mean_is_preserved(p):
    gn.manual_seed(0)
    y = F.dropout(_ones(200, 500), p).data
    assert abs((y == 0).mean() - p) < 0.01
    assert abs(y.mean() - 1.0) < 0.02  # inverted dropout: kept values are 1/(1 − p)
    np.testing.assert_allclose(np.unique(y), [0.0, 1.0 / (1.0 - p)])


def test_reproducible_with_manual_seed_and_with_a_generator():
    x = gn.tensor(np.random.default_rng(0).standard_normal((50, 40)))
    gn.manual_seed(7)
    a = F.dropout(x, 0.3).data
    b = F.dropout(x, 0.3).data
    gn.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x, 0.3).data, a)
    assert not np.array_equal(a, b)  # the stream moves on between calls
    g1, g2 = gn.Generator(3), gn.Generator(3)
    np.testing.assert_array_equal(F.dropout(x, 0.5, generator=g1).data, F.dropout(x, 0.5, generator=g2).data)


def test_eval_mode_and_p_zero_are_identity():
    x = _ones(3, 4, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert F.dropout2d(_ones(2, 3, 4, 4), 0.5, training=False).shape == (2, 3, 4, 4)


def test_p_one_zeroes_everything():
    x = _ones(4, 5, requires_grad=True)
    y = F.dropout(x, 1.0)
    assert np.all(y.data == 0)
    y.sum().backward()
    assert np.all(x.grad.data == 0)


def test_gradient_is_the_same_mask_and_scale():
    gn.manual_seed(1)
    x = gn.tensor(np.random.default_rng(1).standard_normal((6, 7)), requires_grad=True)
    y = F.dropout(x, 0.4)
    g = np.random.default_rng(2).standard_normal((6, 7))
    y.backward(gn.tensor(g))
    mask = (y.data != 0) / 0.6
    np.testing.assert_allclose(x.grad.data, g * mask, rtol=1e-12)
    np.testing.assert_allclose(y.data, x.data * mask, rtol=1e-12)


def test_second_derivative_flows_through_the_mask():
    gn.manual_seed(2)
    x = gn.tensor(np.random.default_rng(3).standard_normal((4, 5)), requires_grad=True)
    y = F.dropout(x, 0.5)
    (g,) = gn.grad((y * y * y).sum(), x, create_graph=True)  # 3·x²·m³ per element
    (gg,) = gn.grad(g.sum(), x)
    m = (y.data != 0) * 2.0
    np.testing.assert_allclose(gg.data, 6 * x.data * m**3, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    x = _ones(10, 10, dtype=dtype, requires_grad=True)
    y = F.dropout(x, 0.3)
    assert y.dtype == dtype
    y.sum().backward()
    assert x.grad.dtype == dtype


def test_dropout2d_drops_whole_channels():
    gn.manual_seed(4)
    y = F.dropout2d(_ones(20, 30, 3, 4), 0.5).data
    per_channel = y.reshape(20, 30, -1)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))  # every channel all-zero or all-kept
    assert abs((per_channel[..., 0] == 0).mean() - 0.5) < 0.08
    np.testing.assert_allclose(np.unique(y), [0.0, 2.0])


def test_dropout1d_drops_whole_channels_batched_and_unbatched():
    gn.manual_seed(5)
    for shape in [(8, 16, 5), (16, 5)]:
        y = F.dropout1d(_ones(*shape), 0.5).data
        assert np.all(y.min(-1) == y.max(-1))
        assert 0 < (y == 0).mean() < 1


def test_dropout2d_3d_input_warns_like_torch():
    with pytest.warns(UserWarning, match=r"dropout2d: received a 3-D input"):
        y = F.dropout2d(_ones(4, 6, 5), 0.5).data
    assert np.all(y.min(-1) == y.max(-1))


@pytest.mark.parametrize("call,error,message", [
    (lambda: F.dropout(_ones(2), 1.5), ValueError,
     r"dropout: dropout probability has to be between 0 and 1, but got 1.5"),
    (lambda: F.dropout(_ones(2), -0.1), ValueError, r"between 0 and 1, but got -0.1"),
    (lambda: F.dropout2d(_ones(2, 3, 4, 4), 2), ValueError, r"dropout2d: dropout probability"),
    (lambda: F.dropout(gn.tensor([1, 2]), 0.5), TypeError, r"dropout: input must be floating point, got int64"),
    (lambda: F.dropout2d(_ones(2, 3), 0.5), ValueError,
     r"dropout2d: expected input of shape \(N, C, H, W\), got shape \(2, 3\)"),
    (lambda: F.dropout1d(_ones(2, 3, 4, 5), 0.5), ValueError,
     r"dropout1d: expected input of shape \(N, C, L\) or \(C, L\)"),
])
def test_bad_input_is_explained(call, error, message):
    with pytest.raises(error, match=message):
        call()
