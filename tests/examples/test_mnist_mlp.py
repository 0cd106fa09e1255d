"""examples/mnist_mlp.py and the mnist-mlp recipe: a few epochs on a small MNIST subset written as IDX files."""

from __future__ import annotations

import pathlib
import runpy
import sys

from mnist_files import write_mnist

from glassnet.recipes import train_mnist_mlp

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "mnist_mlp.py"



def test_mnist_mlp_loss_falls_and_beats_chance(tmp_path):
    write_mnist(tmp_path, 1000, 300)
    result = train_mnist_mlp(epochs=3, data=str(tmp_path), out=str(tmp_path / "out"), say=lambda s: None)
    losses = [h["loss"] for h in result["history"]]
    assert losses[-1] < losses[0]
    assert result["history"][-1]["test_accuracy"] > 0.7
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_example_script_runs(tmp_path, monkeypatch, capsys):
    write_mnist(tmp_path, 300, 100)
    monkeypatch.setattr(sys, "argv", ["mnist_mlp.py", "--data", str(tmp_path), "--epochs", "1"])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    assert "final test accuracy" in capsys.readouterr().out
