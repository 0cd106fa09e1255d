"""examples/char_lstm.py and the char-lstm recipe: a few steps on the bundled Shakespeare excerpt."""

from __future__ import annotations

import json
import pathlib
import runpy
import sys

from glassnet.data import load_text_small
from glassnet.recipes import RecipeConfig, read_results, run

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "char_lstm.py"
TINY = dict(seq_len=32, hidden_size=64, embed_dim=16, eval_chars=2000, sample_chars=30, steps_per_epoch=15)


def _data(tmp_path) -> str:
    (tmp_path / "tinyshakespeare.txt").write_text(load_text_small()[:60_000], encoding="utf-8")
    return str(tmp_path)


def test_char_lstm_validation_loss_falls_and_it_writes(tmp_path):
    folder = run("char-lstm", RecipeConfig(epochs=3, lr=1e-2, batch_size=16, data=_data(tmp_path),
                                           out=tmp_path / "out", options=TINY, say=lambda s: None))
    valid = json.loads((folder / "history.json").read_text())["history"]["val_loss"]
    result = read_results(folder)
    assert valid[-1] < valid[0] < 4.5
    assert result["valid_loss"] < 3.3          # well below uniform guessing over ~60 characters (ln 60 ≈ 4.1)
    assert result["sample"].startswith("ROMEO:\n") and len(result["sample"]) == len("ROMEO:\n") + 30
    assert set(result["sample"]) <= set(result["vocabulary"])
    assert (tmp_path / "out" / "checkpoints" / "last.safetensors").is_file()


def test_example_script_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["char_lstm.py", "--data", _data(tmp_path), "--steps", "1",
                                      "--sample", "20", "--hidden", "16",
                                      "--batch-size", "4", "--seq-len", "8", "--out", str(tmp_path / "run")])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "final validation loss" in out and "sample (temperature 0.8)" in out
