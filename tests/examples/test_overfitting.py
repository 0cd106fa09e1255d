"""examples/overfitting.py: the four configurations run, early stopping stops and restores, the table is complete."""

from __future__ import annotations

import gzip
import importlib.util
import pathlib

import numpy as np
import pytest

from glassnet.data import load_mnist_small

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "overfitting.py"


def write_mnist(root, n_train: int, n_test: int) -> None:
    """Write the first images of the bundled MNIST subset as IDX .gz files named like the real ones."""
    x_train, y_train, x_test, y_test = (t.numpy() for t in load_mnist_small())
    for split, x, y in (("train", x_train[:n_train], y_train[:n_train]), ("t10k", x_test[:n_test], y_test[:n_test])):
        images = np.round(x[:, 0] * 255).astype(np.uint8)
        for kind, arr, code in (("images-idx3", images, 3), ("labels-idx1", y.astype(np.uint8), 1)):
            header = bytes([0, 0, 8, code]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
            with gzip.open(root / f"{split}-{kind}-ubyte.gz", "wb") as f:
                f.write(header + arr.tobytes())


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("overfitting", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def data(example, tmp_path):
    write_mnist(tmp_path, 400, 10)
    return example.load(str(tmp_path), n_train=150, n_valid=150)


def test_unregularised_net_fits_its_training_set(example, data):
    row = example.train_one("none", data, epochs=6, seed=0)
    history = row["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert row["final_train_acc"] > row["final_valid_acc"]         # the gap: it fits what it saw best
    assert row["final_train_acc"] > 0.9


def test_early_stopping_stops_and_restores_the_best_weights(example, data):
    row = example.train_one("early stopping", data, epochs=30, seed=0, patience=1)
    assert row["epochs"] < 30
    best = min(row["history"], key=lambda h: h["valid_loss"])
    assert row["final_valid_acc"] == pytest.approx(best["valid_acc"])


def test_remedies_change_the_training(example, data):
    rows = [example.train_one(remedy, data, epochs=3, seed=0) for remedy in ("none", "l2", "dropout")]
    losses = [r["history"][-1]["train_loss"] for r in rows]
    assert losses[1] != losses[0] and losses[2] != losses[0]
    table = example.table(rows).splitlines()
    assert len(table) == 2 + 3 and all(line.count("|") == 7 for line in table)
