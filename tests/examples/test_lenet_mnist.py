"""examples/lenet_mnist.py and the lenet-mnist recipe: a few epochs on a small MNIST subset written as IDX files."""

from __future__ import annotations

import json
import pathlib
import runpy
import sys

from mnist_files import write_mnist

from glassnet.recipes import RecipeConfig, run

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "lenet_mnist.py"



def test_lenet_loss_falls_and_beats_chance(tmp_path):
    write_mnist(tmp_path, 600, 200)
    folder = run("lenet-mnist", RecipeConfig(epochs=3, lr=3e-3, batch_size=32, data=tmp_path, out=tmp_path / "out",
                                             say=lambda s: None))
    history = json.loads((folder / "history.json").read_text())["history"]
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.5


def test_example_script_runs(tmp_path, monkeypatch, capsys):
    write_mnist(tmp_path, 200, 100)
    monkeypatch.setattr(sys, "argv", ["lenet_mnist.py", "--data", str(tmp_path), "--epochs", "1", "--out",
                                      str(tmp_path / "run")])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    assert "final test accuracy" in capsys.readouterr().out
