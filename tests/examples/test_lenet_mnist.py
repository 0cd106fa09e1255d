"""examples/lenet_mnist.py and the lenet-mnist recipe: a few epochs on a small MNIST subset written as IDX files."""

from __future__ import annotations

import pathlib
import runpy
import sys

from mnist_files import write_mnist

from glassnet.recipes import train_lenet_mnist

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "lenet_mnist.py"



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
