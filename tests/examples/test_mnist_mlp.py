"""examples/mnist_mlp.py and the mnist-mlp recipe: a few epochs on a small MNIST subset written as IDX files."""

from __future__ import annotations

import json
import pathlib
import runpy
import sys

from mnist_files import write_mnist

from glassnet.recipes import RecipeConfig, read_results, run

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "mnist_mlp.py"



def test_mnist_mlp_loss_falls_and_beats_chance(tmp_path):
    write_mnist(tmp_path, 1000, 300)
    folder = run("mnist-mlp", RecipeConfig(epochs=3, data=tmp_path, out=tmp_path / "out", say=lambda s: None))
    history = json.loads((folder / "history.json").read_text())["history"]
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.7 and read_results(folder)["test_accuracy"] == history["val_accuracy"][-1]
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_example_script_runs(tmp_path, monkeypatch, capsys):
    write_mnist(tmp_path, 300, 100)
    monkeypatch.setattr(sys, "argv", ["mnist_mlp.py", "--data", str(tmp_path), "--epochs", "1", "--out",
                                      str(tmp_path / "run")])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    assert "final test accuracy" in capsys.readouterr().out
