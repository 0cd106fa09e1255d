"""Image transforms."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.data import transforms as T


def test_to_tensor_uint8_hw_and_hwc():
    img = np.array([[0, 255], [51, 102]], dtype=np.uint8)
    t = T.ToTensor()(img)
    assert isinstance(t, gn.Tensor) and t.shape == (1, 2, 2) and t.dtype == np.float32
    np.testing.assert_allclose(t.numpy()[0], img / 255.0, rtol=1e-6)
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)  # H=2, W=3, C=3
    t = T.ToTensor()(rgb)
    assert t.shape == (3, 2, 3)
    np.testing.assert_allclose(t.numpy()[2], rgb[:, :, 2] / 255.0, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\(2, 2, 2, 2\)"):
        T.ToTensor()(np.zeros((2, 2, 2, 2), dtype=np.uint8))


def test_normalize_per_channel():
    x = np.ones((2, 3, 3), dtype=np.float32)
    out = T.Normalize([0.5, 1.0], [0.5, 2.0])(x)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out[0], 1.0)
    np.testing.assert_allclose(out[1], 0.0)
    t = T.Normalize(0.5, 0.25)(gn.tensor(x))
    assert isinstance(t, gn.Tensor) and np.allclose(t.numpy(), 2.0)
    with pytest.raises(ValueError, match="3 means"):
        T.Normalize([0, 0, 0], [1, 1, 1])(x)


def test_random_crop_with_padding_keeps_size_and_content():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4) + 1
    crop = T.RandomCrop(4, padding=2, generator=gn.Generator(0))
    seen = set()
    for _ in range(30):
        out = crop(x)
        assert out.shape == (1, 4, 4)
        nz = out[out != 0]
        assert set(nz.tolist()) <= set(x.ravel().tolist())
        seen.add(out.tobytes())
    assert len(seen) > 3  # offsets vary
    assert T.RandomCrop(4)(x).tolist() == x.tolist()  # no padding, same size: identity
    with pytest.raises(ValueError, match="larger"):
        T.RandomCrop(5)(x)


def test_random_crop_deterministic_per_generator():
    x = np.random.default_rng(0).random((3, 8, 8)).astype(np.float32)
    a = [T.RandomCrop(6, padding=1, generator=gn.Generator(4))(x) for _ in range(1)][0]
    b = T.RandomCrop(6, padding=1, generator=gn.Generator(4))(x)
    np.testing.assert_array_equal(a, b)


def test_random_horizontal_flip():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x), x[:, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)
    flip = T.RandomHorizontalFlip(p=0.5, generator=gn.Generator(1))
    flips = sum(bool((flip(x) != x).any()) for _ in range(200))
    assert 60 < flips < 140
    t = T.RandomHorizontalFlip(p=1.0)(gn.tensor(x[None]))
    assert isinstance(t, gn.Tensor) and t.numpy()[0].tolist() == x[:, ::-1].tolist()
    with pytest.raises(ValueError, match="p must be"):
        T.RandomHorizontalFlip(p=2)


def test_compose_uses_default_generator_seed():
    img = (np.random.default_rng(0).random((8, 8)) * 255).astype(np.uint8)
    pipe = T.Compose([T.ToTensor(), T.RandomCrop(8, padding=2), T.RandomHorizontalFlip(), T.Normalize(0.5, 0.5)])
    gn.manual_seed(3)
    a = [pipe(img).numpy() for _ in range(5)]
    gn.manual_seed(3)
    b = [pipe(img).numpy() for _ in range(5)]
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert a[0].shape == (1, 8, 8) and a[0].dtype == np.float32
    assert "RandomCrop" in repr(pipe)
