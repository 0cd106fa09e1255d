"""examples/lenet_mnist_torch.py is the same recipe as glassnet's lenet-mnist: same start, order and updates."""

from __future__ import annotations

import importlib.util
import json
import pathlib

import numpy as np
import pytest
from mnist_files import write_mnist
from needs import need_module

from glassnet.recipes import RecipeConfig, run

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "lenet_mnist_torch.py"



def _example():
    spec = importlib.util.spec_from_file_location("lenet_mnist_torch", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_torch_twin_starts_from_glassnet_weights():
    need_module("torch", "pip install 'glassnet[test]'")
    import glassnet as gn
    from glassnet.models.lenet import LeNet5

    gn.manual_seed(3)
    ours = LeNet5().state_dict()
    theirs = _example().torch_lenet(3).state_dict()
    assert set(ours) == set(theirs)
    for key in ours:
        np.testing.assert_array_equal(ours[key].numpy(), theirs[key].numpy())


def test_torch_twin_follows_glassnet_loss_for_loss(tmp_path):
    torch = need_module("torch", "pip install 'glassnet[test]'")
    torch.set_num_threads(1)
    write_mnist(tmp_path, 256, 100)
    theirs = _example().train(epochs=2, batch_size=64, data=str(tmp_path), verbose=False)["history"]
    folder = run("lenet-mnist", RecipeConfig(epochs=2, batch_size=64, data=tmp_path, out=tmp_path / "ours",
                                             say=lambda s: None))
    ours = json.loads((folder / "history.json").read_text())["history"]
    assert ours["loss"] == pytest.approx([h["loss"] for h in theirs], rel=1e-3)
    assert ours["loss"][-1] < ours["loss"][0]
    assert abs(ours["val_accuracy"][-1] - theirs[-1]["test_accuracy"]) <= 0.02
