"""MLP: shapes, parameter count, loss decrease, bad input."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import nn, optim
from glassnet.models import MLP


def test_shapes_and_params():
    m = MLP([784, 128, 10])
    assert m(gn.randn(4, 784)).shape == (4, 10)
    assert m(gn.randn(4, 1, 28, 28)).shape == (4, 10)
    assert sum(p.numel() for p in m.parameters()) == 784 * 128 + 128 + 128 * 10 + 10


def test_dropout_and_activation():
    m = MLP([4, 8, 8, 2], activation="tanh", dropout=0.5)
    assert sum(isinstance(x, nn.Dropout) for x in m.modules()) == 2
    assert sum(isinstance(x, nn.Tanh) for x in m.modules()) == 2


def test_loss_decreases():
    gn.manual_seed(0)
    m = MLP([8, 16, 3])
    x = gn.randn(32, 8)
    y = gn.tensor(np.arange(32) % 3)
    opt = optim.Adam(m.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        loss = nn.functional.cross_entropy(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_bad_input():
    with pytest.raises(ValueError, match=r"MLP\(8→3\) got input of shape \(2, 5\); expected \(batch, 8\)"):
        MLP([8, 3])(gn.randn(2, 5))
    with pytest.raises(ValueError, match="unknown activation"):
        MLP([2, 3, 4], activation="nope")
    with pytest.raises(ValueError, match="sizes"):
        MLP([3])
