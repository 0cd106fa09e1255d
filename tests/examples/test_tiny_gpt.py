"""examples/tiny_gpt.py and the tiny-gpt recipe: a few steps on the bundled Shakespeare excerpt."""

from __future__ import annotations

import json
import pathlib
import runpy
import sys

from glassnet.data import load_text_small
from glassnet.recipes import RecipeConfig, read_results, run

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "tiny_gpt.py"
TINY = dict(block_size=32, n_layer=1, n_head=2, d_model=32, eval_chars=2000, sample_chars=40, steps_per_epoch=15)


def _data(tmp_path) -> str:
    (tmp_path / "tinyshakespeare.txt").write_text(load_text_small()[:60_000], encoding="utf-8")
    return str(tmp_path)


def test_tiny_gpt_validation_loss_falls_and_it_writes(tmp_path):
    folder = run("tiny-gpt", RecipeConfig(epochs=3, lr=1e-2, batch_size=16, data=_data(tmp_path),
                                          out=tmp_path / "out", options=TINY, say=lambda s: None))
    valid = json.loads((folder / "history.json").read_text())["history"]["val_loss"]
    result = read_results(folder)
    assert valid[-1] < valid[0] < 4.5
    assert result["valid_loss"] < 3.3          # well below uniform guessing over ~60 characters (ln 60 ≈ 4.1)
    # the sample is longer than the 32-token context: generation slides its window
    assert result["sample"].startswith("ROMEO:\n") and len(result["sample"]) == len("ROMEO:\n") + 40
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_example_script_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["tiny_gpt.py", "--data", _data(tmp_path), "--steps", "1",
                                      "--sample", "20", "--batch-size", "4",
                                      "--block-size", "16", "--out", str(tmp_path / "run")])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "final validation loss" in out and "sample (temperature 0.8)" in out
