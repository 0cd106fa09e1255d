"""LeNet5 and SmallVGG: shapes, the standard parameter count, loss decrease, bad input."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import nn, optim
from glassnet.models import LeNet5, SmallVGG


def _steps(model, x, y, opt, n):
    losses = []
    for _ in range(n):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_lenet_shapes_and_param_count():
    m = LeNet5()
    assert m(gn.randn(2, 1, 28, 28)).shape == (2, 10)
    assert sum(p.numel() for p in m.parameters()) == 61_706
    assert LeNet5(num_classes=5, in_channels=3)(gn.randn(1, 3, 28, 28)).shape == (1, 5)


def test_lenet_loss_decreases():
    gn.manual_seed(0)
    m = LeNet5()
    x = gn.randn(16, 1, 28, 28)
    y = gn.tensor(np.arange(16) % 10)
    losses = _steps(m, x, y, optim.Adam(m.parameters(), lr=1e-3), 8)
    assert losses[-1] < losses[0]


def test_vgg_shapes_and_loss():
    gn.manual_seed(0)
    m = SmallVGG(in_channels=3, num_classes=4, widths=(4, 8))
    x = gn.randn(8, 3, 8, 8)
    assert m(x).shape == (8, 4)
    y = gn.tensor(np.arange(8) % 4)
    losses = _steps(m, x, y, optim.SGD(m.parameters(), lr=0.1, momentum=0.9), 8)
    assert losses[-1] < losses[0]


def test_bad_input():
    with pytest.raises(ValueError, match=r"LeNet5 got input of shape \(2, 28, 28\); expected \(batch, 1, 28, 28\)"):
        LeNet5()(gn.randn(2, 28, 28))
    with pytest.raises(ValueError, match=r"LeNet5 got input of shape \(2, 1, 32, 32\)"):
        LeNet5()(gn.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"SmallVGG got input of shape \(2, 1, 8, 8\); expected \(batch, 3, H, W\)"):
        SmallVGG()(gn.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match="at least 4"):
        SmallVGG()(gn.randn(2, 3, 2, 2))
