"""Autoencoder: encode/decode shapes, reconstruction loss decreases, bad input."""

import pytest

import glassnet as gn
from glassnet import nn, optim
from glassnet.models import Autoencoder


def test_shapes():
    ae = Autoencoder()
    x = gn.rand(3, 1, 28, 28)
    assert ae.encode(x).shape == (3, 64)
    assert ae.decode(ae.encode(x)).shape == (3, 784)
    out = ae(x)
    assert out.shape == (3, 1, 28, 28) and 0 <= out.detach().numpy().min() and out.detach().numpy().max() <= 1
    assert sum(p.numel() for p in ae.parameters()) == 2 * (784 * 256 + 256 * 64) + 256 + 64 + 256 + 784


def test_loss_decreases():
    gn.manual_seed(0)
    ae = Autoencoder(in_features=20, hidden=(16, 4))
    x = (gn.randn(32, 4) @ gn.randn(4, 20)).sigmoid()   # data on a 4-D manifold: a 4-D code can fit it
    opt = optim.Adam(ae.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss = nn.functional.mse_loss(ae(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_bad_input():
    with pytest.raises(ValueError, match=r"Autoencoder\(784\) got input of shape \(2, 100\)"):
        Autoencoder()(gn.rand(2, 100))
