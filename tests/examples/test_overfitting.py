"""examples/overfitting.py: the four configurations run, early stopping stops and restores, the table is complete."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest
from mnist_files import write_mnist

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "overfitting.py"



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
