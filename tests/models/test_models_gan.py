"""GAN pairs: shapes, sampling, a few adversarial steps lower each player's loss, bad input."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import optim
from glassnet.models import GAN, DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator


def test_mlp_pair_shapes_and_sample():
    gan = GAN(MLPGenerator(latent_dim=3), MLPDiscriminator())
    s = gan.sample(5, generator=gn.Generator(0))
    assert s.shape == (5, 2) and not s.requires_grad
    np.testing.assert_array_equal(s.detach().numpy(), gan.sample(5, generator=gn.Generator(0)).detach().numpy())
    assert gan.discriminator(s).shape == (5, 1)


def test_dcgan_shapes():
    gan = GAN(DCGANGenerator(latent_dim=8, width=8), DCGANDiscriminator(width=8))
    imgs = gan.sample(3)
    assert imgs.shape == (3, 1, 28, 28)
    assert imgs.detach().numpy().min() >= -1 and imgs.detach().numpy().max() <= 1
    assert gan.discriminator(imgs).shape == (3, 1)
    assert DCGANGenerator().latent_dim == 64


def test_discriminator_and_generator_steps_decrease_loss():
    gn.manual_seed(0)
    gan = GAN(MLPGenerator(latent_dim=2, hidden=32), MLPDiscriminator(hidden=32))
    real = gn.randn(64, 2) * 0.1 + 3.0
    z = gan.noise(64, generator=gn.Generator(1))
    d_opt = optim.Adam(gan.discriminator.parameters(), lr=1e-2)
    fake = gan.generator(z).detach()
    d_losses = []
    for _ in range(10):
        loss = gan.discriminator_loss(real, fake)
        d_opt.zero_grad()
        loss.backward()
        d_opt.step()
        d_losses.append(loss.item())
    assert d_losses[-1] < d_losses[0]
    g_opt = optim.Adam(gan.generator.parameters(), lr=1e-2)
    g_losses = []
    for _ in range(10):
        loss = gan.generator_loss(gan.generator(z))
        g_opt.zero_grad()
        loss.backward()
        g_opt.step()
        g_losses.append(loss.item())
    assert g_losses[-1] < g_losses[0]


def test_dcgan_step_decreases_loss():
    gn.manual_seed(0)
    gan = GAN(DCGANGenerator(latent_dim=8, width=4), DCGANDiscriminator(width=4))
    real = gn.rand(8, 1, 28, 28) * 2 - 1
    fake = gan.generator(gan.noise(8)).detach()
    opt = optim.Adam(gan.discriminator.parameters(), lr=2e-3)
    losses = []
    for _ in range(5):
        loss = gan.discriminator_loss(real, fake)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_bad_input():
    with pytest.raises(ValueError, match=r"MLPGenerator got input of shape \(4, 3\); expected \(batch, 2\)"):
        MLPGenerator()(gn.randn(4, 3))
    with pytest.raises(ValueError, match=r"DCGANDiscriminator got input of shape \(2, 28, 28\)"):
        DCGANDiscriminator()(gn.randn(2, 28, 28))
    with pytest.raises(ValueError, match="positive int"):
        GAN(MLPGenerator(), MLPDiscriminator()).sample(0)
    with pytest.raises(ValueError, match="latent_dim"):
        GAN(MLPDiscriminator(), MLPDiscriminator())
