"""`glassnet train` recipes: mlp-digits trains, saves weights gn.load reads back, and resumes exactly."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.recipes import RECIPES, RecipeError, get_recipe, mlp_digits_model, train_mlp_digits


def test_train_mlp_digits_writes_loadable_weights(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "mlp-digits", "--epochs", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "epoch   1/2" in text and "epoch   2/2" in text
    state = gn.load(out / "model.safetensors")
    model = mlp_digits_model()
    model.load_state_dict(state)
    checkpoint = gn.load(out / "checkpoint.safetensors")
    assert checkpoint["epoch"] == 2
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), checkpoint["model"][key].numpy())
    model.eval()
    from glassnet.data import load_digits

    _, _, x_test, y_test = load_digits(seed=0)
    with gn.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    assert accuracy > 0.5  # two epochs: well above chance (0.1)


def test_resume_equals_uninterrupted(tmp_path):
    quiet = lambda s: None  # noqa: E731
    full = train_mlp_digits(epochs=3, out=str(tmp_path / "full"), say=quiet)
    train_mlp_digits(epochs=2, out=str(tmp_path / "part"), say=quiet)
    checkpoint = str(tmp_path / "part" / "checkpoint.safetensors")
    resumed = train_mlp_digits(epochs=3, out=str(tmp_path / "part"), resume=checkpoint, say=quiet)
    assert [h["loss"] for h in resumed["history"]] == pytest.approx([h["loss"] for h in full["history"]], rel=1e-6)
    a, b = full["model"].state_dict(), resumed["model"].state_dict()
    for key in a:
        np.testing.assert_allclose(a[key].numpy(), b[key].numpy(), rtol=1e-6, atol=1e-7)


def test_recipe_names_and_availability():
    assert {"mlp-digits", "lenet-mnist", "char-lstm", "gan-ring", "tiny-gpt"} <= set(RECIPES)
    assert RECIPES["mlp-digits"].available
    for recipe in RECIPES.values():
        assert recipe.available or recipe.needs
    with pytest.raises(RecipeError, match="unknown recipe"):
        get_recipe("nope")


def test_data_dir_without_digits_is_an_error(tmp_path):
    with pytest.raises(RecipeError, match="digits.npz"):
        train_mlp_digits(epochs=1, out=str(tmp_path / "o"), data=str(tmp_path), say=lambda s: None)
