"""2-D toy problem generators."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.data import toy

GENERATORS = [toy.spiral, toy.moons, toy.circles, toy.xor, toy.blobs]


@pytest.mark.parametrize("gen", GENERATORS)
def test_shapes_dtypes_and_determinism(gen):
    x, y = gen(101, seed=0)
    assert x.shape == (101, 2) and x.dtype == np.float32
    assert y.shape == (101,) and y.dtype == np.int64
    x2, y2 = gen(101, seed=0)
    x3, _ = gen(101, seed=1)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(x, x3)
    counts = np.bincount(y)
    assert counts.min() >= 20  # every class present in a fair share


@pytest.mark.parametrize("gen", GENERATORS)
def test_generator_and_default_generator(gen):
    a = gen(50, generator=gn.Generator(2))[0]
    b = gen(50, generator=gn.Generator(2))[0]
    np.testing.assert_array_equal(a, b)
    gn.manual_seed(9)
    c = gen(50)[0]
    gn.manual_seed(9)
    np.testing.assert_array_equal(c, gen(50)[0])
    with pytest.raises(ValueError, match="either seed= or generator="):
        gen(10, seed=1, generator=gn.Generator(1))
    with pytest.raises(ValueError, match="n must be"):
        gen(0)


def test_noise_controls_spread():
    x0, y0 = toy.circles(400, noise=0.0, factor=0.5, seed=0)
    r = np.linalg.norm(x0, axis=1)
    np.testing.assert_allclose(r[y0 == 0], 1.0, atol=1e-5)
    np.testing.assert_allclose(r[y0 == 1], 0.5, atol=1e-5)
    x1, _ = toy.circles(400, noise=0.2, factor=0.5, seed=0)
    assert np.abs(np.linalg.norm(x1, axis=1) - r).mean() > 0.05


def test_xor_labels_follow_quadrants_without_noise():
    x, y = toy.xor(200, noise=0.0, seed=0)
    np.testing.assert_array_equal(y, (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(np.int64))


def test_spiral_classes_and_radius():
    x, y = toy.spiral(300, noise=0.0, n_classes=4, seed=0)
    assert sorted(set(y.tolist())) == [0, 1, 2, 3]
    assert np.linalg.norm(x, axis=1).max() <= 1.0 + 1e-6


def test_blobs_given_centers():
    centers = np.array([[5.0, 5.0], [-5.0, -5.0]])
    x, y = toy.blobs(400, noise=0.5, centers=centers, seed=0)
    np.testing.assert_allclose(x[y == 0].mean(0), [5, 5], atol=0.2)
    np.testing.assert_allclose(x[y == 1].mean(0), [-5, -5], atol=0.2)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        toy.blobs(10, centers=np.zeros(3))


def test_ring_of_gaussians():
    x = toy.ring_of_gaussians(800, n_modes=8, radius=2.0, std=0.02, seed=0)
    assert x.shape == (800, 2) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 2.0, atol=0.15)
    x, mode = toy.ring_of_gaussians(800, n_modes=6, radius=3.0, std=0.01, return_labels=True, seed=0)
    assert set(mode.tolist()) == set(range(6))
    nearest = np.argmin(((x[:, None] - toy.ring_centers(6, 3.0)[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(nearest, mode)
