"""Dropout and Dropout2d: inverted dropout in training, identity in evaluation, seeded by gn.manual_seed."""

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn as nn


def test_dropout_in_training_zeros_a_fraction_and_rescales():
    gn.manual_seed(0)
    x = gn.ones(200, 500, requires_grad=True)
    y = nn.Dropout(0.3)(x)
    values = y.detach().numpy()
    assert abs((values == 0).mean() - 0.3) < 0.01
    np.testing.assert_allclose(values[values != 0], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), values, rtol=1e-6)  # the gradient is the same mask / (1 − p)


def test_dropout_is_identity_in_eval_and_for_p_zero():
    x = gn.randn(4, 5)
    d = nn.Dropout(0.5).eval()
    np.testing.assert_array_equal(d(x).numpy(), x.numpy())
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())
    assert not nn.Dropout(1.0)(x).numpy().any()


def test_dropout_is_reproducible_with_manual_seed():
    x = gn.ones(10, 10)
    gn.manual_seed(3)
    a = nn.Dropout()(x).numpy().copy()
    gn.manual_seed(3)
    b = nn.Dropout()(x).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, nn.Dropout()(x).numpy())


def test_dropout2d_zeros_whole_channels():
    gn.manual_seed(0)
    y = nn.Dropout2d(0.5)(gn.ones(8, 16, 3, 3)).numpy()
    per_channel = y.reshape(8, 16, -1)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()
    assert 0.3 < (per_channel == 0).all(-1).mean() < 0.7
    np.testing.assert_array_equal(nn.Dropout2d().eval()(gn.ones(2, 3, 4, 4)).numpy(), np.ones((2, 3, 4, 4)))


def test_dropout_repr_and_errors():
    assert repr(nn.Dropout(0.25)) == repr(torch.nn.Dropout(0.25))
    assert repr(nn.Dropout2d()) == repr(torch.nn.Dropout2d())
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match=r"Dropout2d\(p=0.5\) got input of shape \(2, 3\)"):
        nn.Dropout2d()(gn.zeros(2, 3))
    assert list(nn.Dropout().state_dict()) == []
