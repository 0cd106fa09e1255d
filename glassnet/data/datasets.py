"""Datasets shipped inside the package.

`digits.npz`: the 1,797 8x8 handwritten digits of the UCI "Optical Recognition of Handwritten Digits"
test set (E. Alpaydin, C. Kaynak, 1998; CC BY 4.0), as distributed with scikit-learn; pixel values 0..16.

`mnist_small.npz`: 3,000 training + 1,000 test MNIST images (Y. LeCun, C. Cortes, C. Burges), the first 300
(train) / 100 (test) of each class in file order, uint8 28x28; `shakespeare_small.txt.gz`: the first ~100 KB
of tiny Shakespeare (public domain). Both are rebuilt by `glassnet/data/make_bundles.py`, which documents how.
"""

from __future__ import annotations

import gzip
import os

import numpy

from glassnet.tensor import Tensor

_HERE = os.path.dirname(os.path.abspath(__file__))


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The bundled 8x8 digits, scaled to [0, 1], shuffled with `seed` and split into
    (x_train, y_train, x_test, y_test); images are (N, 64) float32, labels int64."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"load_digits: test_fraction must be in [0, 1), got {test_fraction}")
    with numpy.load(os.path.join(_HERE, "digits.npz"), allow_pickle=False) as f:
        images, labels = f["images"], f["labels"]
    order = numpy.random.default_rng(seed).permutation(len(labels))
    x = (images[order].reshape(len(labels), 64) / 16.0).astype(numpy.float32)
    y = labels[order].astype(numpy.int64)
    n_test = int(round(len(y) * test_fraction))
    return Tensor(x[n_test:]), Tensor(y[n_test:]), Tensor(x[:n_test]), Tensor(y[:n_test])


def load_mnist_small(flatten: bool = False, as_dataset: bool = False):
    """The bundled class-balanced MNIST subset: (x_train, y_train, x_test, y_test) with 3,000 train and
    1,000 test images, float32 in [0, 1] of shape (N, 1, 28, 28) (or (N, 784) with `flatten`), labels int64.
    With `as_dataset=True`, returns (train, test) as TensorDatasets instead."""
    with numpy.load(os.path.join(_HERE, "mnist_small.npz"), allow_pickle=False) as f:
        parts = [f["x_train"], f["y_train"], f["x_test"], f["y_test"]]
    out = []
    for k, a in enumerate(parts):
        if k % 2 == 0:
            a = a.astype(numpy.float32) / numpy.float32(255.0)
            a = a.reshape(len(a), 784) if flatten else a[:, None]
        else:
            a = a.astype(numpy.int64)
        out.append(Tensor(numpy.ascontiguousarray(a)))
    if as_dataset:
        from glassnet.data.dataset import TensorDataset

        return TensorDataset(out[0], out[1]), TensorDataset(out[2], out[3])
    return tuple(out)


def load_text_small() -> str:
    """The bundled ~100 KB of tiny Shakespeare, as one string (wrap it in `CharDataset(text, block_size)`)."""
    with gzip.open(os.path.join(_HERE, "shakespeare_small.txt.gz"), "rt", encoding="utf-8") as f:
        return f.read()
