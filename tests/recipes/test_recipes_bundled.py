"""Every recipe runs from `glassnet train` with no data folder, on bundled (or generated) data, says so on its first
line, and leaves a run folder that `glassnet report` reads; `glassnet list` shows each recipe's options."""

from __future__ import annotations

import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.recipes import RECIPES, read_results
from glassnet.recipes import common as recipes_common


def sets(**options) -> list[str]:
    """Recipe options as `glassnet train` arguments: --set KEY=VALUE for each."""
    return [arg for key, value in options.items() for arg in ("--set", f"{key}={value}")]


LSTM = sets(steps_per_epoch=3, seq_len=16, hidden_size=16, embed_dim=8, eval_chars=1000, sample_chars=20)
GPT = sets(steps_per_epoch=2, block_size=16, n_layer=1, n_head=2, d_model=16, eval_chars=1000, sample_chars=20)
TINY = {
    "mlp-digits": [],
    "mnist-mlp": sets(limit=300),
    "lenet-mnist": sets(limit=200),
    "char-lstm": ["--batch-size", "8", *LSTM],
    "tiny-gpt": ["--batch-size", "8", *GPT],
    "gan-ring": sets(steps_per_epoch=10),
}
FIRST_LINE = {
    "mlp-digits": "using the bundled 1,797 8x8 digits",
    "mnist-mlp": "using the bundled 3,000-image MNIST subset (1,000 test images); pass --data DIR for the full set",
    "lenet-mnist": "using the bundled 3,000-image MNIST subset",
    "char-lstm": "using the bundled 99,843-character excerpt of tiny Shakespeare; pass --data DIR",
    "tiny-gpt": "using the bundled 99,843-character excerpt of tiny Shakespeare; pass --data DIR",
    "gan-ring": "generates its data (8 gaussians on a ring",
}


def test_every_recipe_is_tested_here():
    assert set(TINY) == set(RECIPES) == set(FIRST_LINE)


@pytest.mark.parametrize("name", list(TINY))
def test_recipe_runs_on_bundled_data_and_says_so_first(name, tmp_path, capsys, monkeypatch):
    def no_shared_data():
        raise AssertionError("a recipe looked for ../shared/data")

    monkeypatch.setattr(recipes_common, "default_data_dir", no_shared_data)
    out = tmp_path / "run"
    assert main(["train", name, "--epochs", "1", "--out", str(out), *TINY[name]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{name}: {FIRST_LINE[name]}"), lines[0]
    written = ["config.json", "history.json", "history.csv", "checkpoints/last.safetensors", "model.safetensors"]
    for path in [*written, "results.json"]:
        assert (out / path).is_file(), path
    config = json.loads((out / "config.json").read_text())
    assert config["recipe"] == name and config["epochs"] == 1
    history = json.loads((out / "history.json").read_text())
    assert history["epoch"] == [0] and np.isfinite(history["history"]["loss"][0])
    assert read_results(out)["epochs"] == 1


def test_mlp_digits_weights_load_and_report_reads_the_run_folder(tmp_path, capsys):
    out = tmp_path / "digits"
    assert main(["train", "mlp-digits", "--epochs", "2", "--out", str(out)]) == 0
    from glassnet.data import load_digits
    from glassnet.recipes.mlp_digits import model

    net = model()
    net.load_state_dict(gn.load(out / "model.safetensors"))
    net.eval()
    _, _, x_test, y_test = load_digits(seed=0)
    with gn.no_grad():
        accuracy = (net(x_test).argmax(1) == y_test).float().mean().item()
    assert accuracy > 0.5  # two epochs: well above chance (0.1)
    assert read_results(out)["test_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "mlp-digits" in page and "val_accuracy" in page


def test_text_recipe_writes_its_sample_and_validation_loss(tmp_path, capsys):
    out = tmp_path / "lstm"
    status = main(
        ["train", "char-lstm", "--epochs", "2", "--lr", "0.01", "--batch-size", "16", "--out", str(out), *LSTM]
    )
    assert status == 0
    text = capsys.readouterr().out
    results = read_results(out)
    sample = (out / "artefacts" / "sample.txt").read_text(encoding="utf-8")
    assert sample == results["sample"] and sample.startswith("ROMEO:\n") and len(sample) == len("ROMEO:\n") + 20
    assert set(sample) <= set(results["vocabulary"])
    assert f"final validation loss {results['valid_loss']:.3f}" in text
    assert results["steps"] == 6 and results["valid_loss"] < np.log(len(results["vocabulary"]))  # beats uniform


def test_list_shows_options_with_defaults(capsys):
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    for name in RECIPES:
        assert name in text
    assert "steps_per_epoch=100" in text and "limit=None" in text and "loss=non_saturating" in text


def test_time_budget_stops_a_text_recipe_after_the_batch_that_spends_it(tmp_path, capsys):
    out = tmp_path / "lstm"
    status = main(["train", "char-lstm", "--epochs", "3", "--out", str(out), *TINY["char-lstm"], *sets(minutes=0)])
    assert status == 0
    assert "time budget of 0 minutes reached after 1 steps" in capsys.readouterr().out
    results = read_results(out)
    assert results["steps"] == 1 and results["epochs"] == 1
