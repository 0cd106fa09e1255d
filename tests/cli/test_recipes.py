"""`glassnet train` recipes: mlp-digits trains, saves weights gn.load reads back, and resumes exactly; the real-data
recipes (MNIST, tiny Shakespeare) run from the CLI and name missing data files in one line."""

from __future__ import annotations

import numpy as np
import pytest
from mnist_files import write_mnist

import glassnet as gn
from glassnet.cli import main
from glassnet.recipes import (
    RECIPES,
    RecipeError,
    get_recipe,
    lr_at,
    mlp_digits_model,
    train_mlp_digits,
    train_mnist_mlp,
)


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
    for name in ("mlp-digits", "mnist-mlp", "lenet-mnist", "char-lstm", "tiny-gpt"):
        assert RECIPES[name].available, name
    for recipe in RECIPES.values():
        assert recipe.available or recipe.needs
    with pytest.raises(RecipeError, match="unknown recipe"):
        get_recipe("nope")


def test_data_dir_without_digits_is_an_error(tmp_path):
    with pytest.raises(RecipeError, match="digits.npz"):
        train_mlp_digits(epochs=1, out=str(tmp_path / "o"), data=str(tmp_path), say=lambda s: None)



def test_cli_trains_lenet_on_mnist_files(tmp_path, capsys):
    write_mnist(tmp_path, 256, 64)
    out = tmp_path / "run"
    assert main(["train", "lenet-mnist", "--epochs", "1", "--batch-size", "64", "--data", str(tmp_path),
                 "--out", str(out)]) == 0
    assert "epoch   1/1" in capsys.readouterr().out
    from glassnet.models.lenet import LeNet5

    LeNet5().load_state_dict(gn.load(out / "model.safetensors"))


class _Interrupt(Exception):
    pass


def test_mnist_resume_equals_uninterrupted(tmp_path):
    write_mnist(tmp_path, 200, 50)
    full = train_mnist_mlp(epochs=3, data=str(tmp_path), out=str(tmp_path / "full"), say=lambda s: None)

    def interrupt_after_epoch_2(line: str) -> None:
        if line.startswith("epoch   2/3"):
            raise _Interrupt

    with pytest.raises(_Interrupt):
        train_mnist_mlp(epochs=3, data=str(tmp_path), out=str(tmp_path / "part"), say=interrupt_after_epoch_2)
    resumed = train_mnist_mlp(epochs=3, data=str(tmp_path), out=str(tmp_path / "part"), say=lambda s: None,
                              resume=str(tmp_path / "part" / "checkpoint.safetensors"))
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in full["history"]]
    a, b = full["model"].state_dict(), resumed["model"].state_dict()
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())


@pytest.mark.parametrize("recipe, fragment", [("lenet-mnist", "train-images-idx3-ubyte"),
                                              ("mnist-mlp", "train-images-idx3-ubyte"),
                                              ("char-lstm", "no tinyshakespeare.txt"),
                                              ("tiny-gpt", "no tinyshakespeare.txt")])
def test_missing_data_is_one_line(recipe, fragment, tmp_path, capsys):
    assert main(["train", recipe, "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0] and recipe in err[0]


def test_learning_rate_warms_up_then_decays():
    rates = [lr_at(step, 100, 1.0, 10) for step in range(100)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:])) and rates[-1] == pytest.approx(0.1, abs=0.01)


def test_gan_ring_recipe_trains_and_writes_sample_grids(tmp_path):
    from glassnet.recipes import train_gan_ring

    lines = []
    result = train_gan_ring(epochs=2, steps_per_epoch=150, out=str(tmp_path / "gan"), say=lines.append)
    assert len([line for line in lines if line.startswith("epoch")]) == 2
    assert 1 <= result["modes"] <= 8 and sum(result["per_mode"]) <= 1000
    assert len(list((tmp_path / "gan" / "artefacts").glob("samples-epoch*.npy"))) == 2
    assert (tmp_path / "gan" / "history.json").is_file()


def test_gan_ring_recipe_refuses_a_data_folder(tmp_path):
    from glassnet.recipes import RecipeError, train_gan_ring

    with pytest.raises(RecipeError, match="gan-ring: generates its own 2-D data"):
        train_gan_ring(epochs=1, data=str(tmp_path), out=None)


def test_digits_npz_holding_a_pickle_is_refused_without_running_it(tmp_path):
    import numpy as np

    from glassnet.recipes import RecipeError, train_mlp_digits

    ran = tmp_path / "ran"
    trap = np.empty(1, dtype=object)
    trap[0] = _Trap(str(ran))
    np.savez(tmp_path / "digits.npz", images=trap, labels=np.zeros(1))
    with pytest.raises(RecipeError, match="not a plain-array digits.npz"):
        train_mlp_digits(epochs=1, data=str(tmp_path), out=None)
    assert not ran.exists()


class _Trap:
    """Unpickling this creates a file: proof that code from the file ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))
