"""examples/lenet_mnist.py and the lenet-mnist recipe: a few epochs on a small MNIST subset written as IDX files."""

from __future__ import annotations

import gzip
import pathlib
import runpy
import sys

import numpy as np

from glassnet.data import load_mnist_small
from glassnet.recipes import train_lenet_mnist

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "lenet_mnist.py"


def write_mnist(root, n_train: int, n_test: int) -> None:
    """Write the first images of the bundled MNIST subset as IDX .gz files named like the real ones."""
    x_train, y_train, x_test, y_test = (t.numpy() for t in load_mnist_small())
    for split, x, y in (("train", x_train[:n_train], y_train[:n_train]), ("t10k", x_test[:n_test], y_test[:n_test])):
        images = np.round(x[:, 0] * 255).astype(np.uint8)
        for kind, arr, code in (("images-idx3", images, 3), ("labels-idx1", y.astype(np.uint8), 1)):
            header = bytes([0, 0, 8, code]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
            with gzip.open(root / f"{split}-{kind}-ubyte.gz", "wb") as f:
                f.write(header + arr.tobytes())


def test_lenet_loss_falls_and_beats_chance(tmp_path):
    write_mnist(tmp_path, 600, 200)
    result = train_lenet_mnist(epochs=3, lr=3e-3, batch_size=32, data=str(tmp_path), out=None, say=lambda s: None)
    losses = [h["loss"] for h in result["history"]]
    assert losses[-1] < losses[0]
    assert result["history"][-1]["test_accuracy"] > 0.5


def test_example_script_runs(tmp_path, monkeypatch, capsys):
    write_mnist(tmp_path, 200, 100)
    monkeypatch.setattr(sys, "argv", ["lenet_mnist.py", "--data", str(tmp_path), "--epochs", "1"])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    assert "final test accuracy" in capsys.readouterr().out
