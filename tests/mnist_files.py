"""Test helper: the bundled MNIST subset written as IDX .gz files named like the real ones, for loaders and recipes
that read a data directory."""

from __future__ import annotations

import gzip

import numpy as np

from glassnet.data import load_mnist_small


def write_mnist(root, n_train: int, n_test: int) -> None:
    """Write the first n_train/n_test images of the bundled MNIST subset as IDX .gz files in `root`."""
    x_train, y_train, x_test, y_test = (t.numpy() for t in load_mnist_small())
    for split, x, y in (("train", x_train[:n_train], y_train[:n_train]), ("t10k", x_test[:n_test], y_test[:n_test])):
        images = np.round(x[:, 0] * 255).astype(np.uint8)
        for kind, arr, code in (("images-idx3", images, 3), ("labels-idx1", y.astype(np.uint8), 1)):
            header = bytes([0, 0, 8, code]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
            with gzip.open(root / f"{split}-{kind}-ubyte.gz", "wb") as f:
                f.write(header + arr.tobytes())
