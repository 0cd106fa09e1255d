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
