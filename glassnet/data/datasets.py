"""Datasets shipped inside the package.

`digits.npz`: the 1,797 8x8 handwritten digits of the UCI "Optical Recognition of Handwritten Digits"
test set (E. Alpaydin, C. Kaynak, 1998; CC BY 4.0), as distributed with scikit-learn; pixel values 0..16.
"""

from __future__ import annotations

import os

import numpy

from glassnet.tensor import Tensor

_HERE = os.path.dirname(os.path.abspath(__file__))


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The bundled 8x8 digits, scaled to [0, 1], shuffled with `seed` and split into
    (x_train, y_train, x_test, y_test); images are (N, 64) float32, labels int64."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"load_digits: test_fraction must be in [0, 1), got {test_fraction}")
    with numpy.load(os.path.join(_HERE, "digits.npz")) as f:
        images, labels = f["images"], f["labels"]
    order = numpy.random.default_rng(seed).permutation(len(labels))
    x = (images[order].reshape(len(labels), 64) / 16.0).astype(numpy.float32)
    y = labels[order].astype(numpy.int64)
    n_test = int(round(len(y) * test_fraction))
    return Tensor(x[n_test:]), Tensor(y[n_test:]), Tensor(x[:n_test]), Tensor(y[:n_test])
