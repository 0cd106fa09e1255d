"""The bundled digits dataset."""

import numpy as np
import pytest

from glassnet.data import load_digits


def test_digits_shapes_and_split():
    x_tr, y_tr, x_te, y_te = load_digits(test_fraction=0.2)
    assert x_tr.shape == (1438, 64) and x_te.shape == (359, 64)
    assert x_tr.dtype == np.float32 and y_tr.dtype == np.int64
    assert 0.0 <= x_tr.data.min() and x_tr.data.max() <= 1.0
    assert sorted(set(y_te.tolist())) == list(range(10))


def test_digits_split_is_deterministic():
    a = load_digits(seed=3)[1].tolist()
    b = load_digits(seed=3)[1].tolist()
    c = load_digits(seed=4)[1].tolist()
    assert a == b and a != c


def test_digits_bad_fraction():
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits(test_fraction=1.5)


def test_mnist_small_shapes_balance_and_range():
    from glassnet.data import load_mnist_small

    x_tr, y_tr, x_te, y_te = load_mnist_small()
    assert x_tr.shape == (3000, 1, 28, 28) and x_te.shape == (1000, 1, 28, 28)
    assert x_tr.dtype == np.float32 and y_tr.dtype == np.int64
    assert np.bincount(y_tr.numpy()).tolist() == [300] * 10
    assert np.bincount(y_te.numpy()).tolist() == [100] * 10
    assert 0.0 <= x_tr.numpy().min() and x_tr.numpy().max() == 1.0
    assert load_mnist_small(flatten=True)[0].shape == (3000, 784)
    train, test = load_mnist_small(as_dataset=True)
    assert len(train) == 3000 and len(test) == 1000 and train[0][0].shape == (1, 28, 28)


def test_bundles_are_small():
    import os

    import glassnet.data

    here = os.path.dirname(glassnet.data.__file__)
    assert os.path.getsize(os.path.join(here, "mnist_small.npz")) < 3_000_000
    assert os.path.getsize(os.path.join(here, "shakespeare_small.txt.gz")) < 200_000


def test_mnist_small_matches_shared_source():
    import os

    from glassnet.data import read_idx

    src = "/work/shared/data/mnist-t10k-images-idx3-ubyte.gz"
    if not os.path.isfile(src):
        pytest.skip("shared MNIST files not present")
    with np.load(os.path.join(os.path.dirname(__import__("glassnet.data").data.__file__), "mnist_small.npz")) as f:
        idx, x = f["test_index"], f["x_test"]
    np.testing.assert_array_equal(read_idx(src)[idx], x)
