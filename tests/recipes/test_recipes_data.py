"""`--data DIR` switches a recipe to the full files (IDX for MNIST), and every user mistake is one line on stderr."""

from __future__ import annotations

import numpy as np
import pytest
from mnist_files import write_mnist
from test_recipes_bundled import sets

from glassnet.cli import main
from glassnet.recipes import RecipeConfig, RecipeError, read_results, run


def test_data_switches_mnist_recipes_to_idx_files(tmp_path, capsys):
    write_mnist(tmp_path, 256, 64)
    out = tmp_path / "run"
    assert (
        main(
            ["train", "lenet-mnist", "--epochs", "1", "--batch-size", "64", "--data", str(tmp_path), "--out", str(out)]
        )
        == 0
    )
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"lenet-mnist: using the MNIST IDX files in {tmp_path} (256 training, 64 test images)"
    import glassnet as gn
    from glassnet.models.lenet import LeNet5

    LeNet5().load_state_dict(gn.load(out / "model.safetensors"))


def test_data_switches_text_recipes_to_the_full_file(tmp_path, capsys):
    (tmp_path / "tinyshakespeare.txt").write_text("To be, or not to be: that is the question.\n" * 40)
    tiny = sets(steps_per_epoch=1, n_layer=1, d_model=8, n_head=2, block_size=8, sample_chars=3)
    args = [
        "train",
        "tiny-gpt",
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--data",
        str(tmp_path),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main([*args, *tiny]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"tiny-gpt: using {tmp_path / 'tinyshakespeare.txt'} (1,720 characters)"
    assert read_results(tmp_path / "o")["sample"].startswith("T")  # no "ROMEO:" letters here: it starts at "T"


@pytest.mark.parametrize(
    "recipe, fragment",
    [
        ("lenet-mnist", "train-images-idx3-ubyte"),
        ("mnist-mlp", "train-images-idx3-ubyte"),
        ("char-lstm", "no tinyshakespeare.txt"),
        ("tiny-gpt", "no tinyshakespeare.txt"),
        ("mlp-digits", "has no digits.npz"),
        ("gan-ring", "generates its own 2-D data; --data does not apply"),
    ],
)
def test_missing_data_is_one_line(recipe, fragment, tmp_path, capsys):
    assert main(["train", recipe, "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0] and recipe in err[0]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["train", "nope"], "unknown recipe 'nope'; known recipes: mlp-digits"),
        (["train", "mlp-digits", "--set", "hidden=3"], "--set expects KEY=VALUE with KEY one of epochs, lr"),
        (["train", "mnist-mlp", "--set", "limit=many"], "--set limit=many: expected a number"),
        (["train", "gan-ring", "--set", "loss=hinge"], "loss must be non_saturating or wgan-gp, got 'hinge'"),
        (["train", "mlp-digits", "--resume", "/nonexistent/run"], "no such run folder or checkpoint file"),
        (["train", "gan-ring", "--ranks", "2"], "recipe gan-ring does not train data-parallel; run it without --ranks"),
    ],
)
def test_user_mistakes_are_one_line(args, fragment, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err


def test_resuming_from_a_file_that_is_not_a_checkpoint_is_one_line(tmp_path, capsys):
    import glassnet as gn

    gn.save({"w": gn.zeros(2)}, tmp_path / "weights.safetensors")
    weights = str(tmp_path / "weights.safetensors")
    assert main(["train", "mlp-digits", "--out", str(tmp_path / "o"), "--resume", weights]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot resume from" in err[0] and "not a glassnet checkpoint" in err[0]


def test_an_empty_run_folder_cannot_be_resumed(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["train", "mlp-digits", "--out", str(tmp_path / "o"), "--resume", str(tmp_path / "empty")]) == 2
    assert "no checkpoint there" in capsys.readouterr().err


def test_unknown_recipe_option_names_the_known_ones():
    with pytest.raises(RecipeError, match="mnist-mlp: unknown option width; its options are epochs=12"):
        run("mnist-mlp", RecipeConfig(options={"width": 3}))


def test_digits_npz_holding_a_pickle_is_refused_without_running_it(tmp_path):
    ran = tmp_path / "ran"
    trap = np.empty(1, dtype=object)
    trap[0] = _Trap(str(ran))
    np.savez(tmp_path / "digits.npz", images=trap, labels=np.zeros(1))
    with pytest.raises(RecipeError, match="not a plain-array digits.npz"):
        run("mlp-digits", RecipeConfig(epochs=1, data=tmp_path, out=tmp_path / "o", say=lambda s: None))
    assert not ran.exists()


def test_digits_from_a_data_folder(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "digits.npz", images=rng.integers(0, 17, (50, 8, 8)), labels=rng.integers(0, 10, 50))
    assert main(["train", "mlp-digits", "--epochs", "1", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"mlp-digits: using {tmp_path / 'digits.npz'} (50 images)"


class _Trap:
    """Unpickling this creates a file: proof that code from the file ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_resuming_another_recipes_run_is_one_line(tmp_path, capsys):
    assert main(["train", "mlp-digits", "--epochs", "1", "--out", str(tmp_path / "digits")]) == 0
    capsys.readouterr()
    for resume in (tmp_path / "digits", tmp_path / "digits" / "checkpoints" / "last.safetensors"):
        assert main(["train", "mnist-mlp", "--out", str(tmp_path / "o"), "--resume", str(resume)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"glassnet train: error: mnist-mlp: cannot resume from {resume}: it is a run of mlp-digits"]


def test_a_checkpoint_of_another_model_is_one_line(tmp_path, capsys):
    assert main(["train", "mlp-digits", "--epochs", "1", "--out", str(tmp_path / "digits")]) == 0
    (tmp_path / "digits" / "config.json").unlink()  # nothing says which recipe wrote it: loading finds out
    capsys.readouterr()
    assert main(["train", "mnist-mlp", "--out", str(tmp_path / "o"), "--resume", str(tmp_path / "digits")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot resume from" in err[0] and "state_dict" in err[0], err
