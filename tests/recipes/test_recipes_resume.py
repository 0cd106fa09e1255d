"""A recipe resumed from its run folder (through the CLI) or a checkpoint file ends where the uninterrupted run ends:
same losses, same weights (the Trainer restores model, optimiser, schedules, callbacks and random state)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mnist_files import write_mnist

import glassnet as gn
from glassnet.cli import main
from glassnet.recipes import RecipeConfig, run
from glassnet.recipes import classifier as classifier_module
from glassnet.recipes import text as text_module
from glassnet.train import Callback


def _losses(folder):
    return json.loads((folder / "history.json").read_text())["history"]["loss"]


def _assert_same_weights(a, b):
    a, b = gn.load(a / "model.safetensors"), gn.load(b / "model.safetensors")
    assert set(a) == set(b)
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())


def test_cli_resume_from_a_run_folder_equals_uninterrupted(tmp_path, capsys):
    full, part = tmp_path / "full", tmp_path / "part"
    assert main(["train", "mlp-digits", "--epochs", "3", "--out", str(full)]) == 0
    assert main(["train", "mlp-digits", "--epochs", "2", "--out", str(part)]) == 0
    capsys.readouterr()
    assert main(["train", "mlp-digits", "--epochs", "3", "--resume", str(part)]) == 0  # --out: the resumed run
    assert f"resumed from {part} after epoch 2" in capsys.readouterr().out
    assert _losses(part) == _losses(full) and len(_losses(full)) == 3
    _assert_same_weights(full, part)


class _Interrupt(Exception):
    pass


class _InterruptAfter(Callback):
    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs and self.trainer.run_dir is not None:
            self.trainer.save_checkpoint(self.trainer.run_dir.last_checkpoint, epoch=epoch + 1)  # as fit would next
            raise _Interrupt


def _interrupted(monkeypatch, module, after, fn):
    monkeypatch.setattr(module, "progress", lambda: [_InterruptAfter(after)])
    with pytest.raises(_Interrupt):
        fn()
    monkeypatch.undo()


def test_mnist_mlp_interrupted_then_resumed_from_the_checkpoint_file(tmp_path, monkeypatch):
    write_mnist(tmp_path, 200, 50)

    def config(out, resume=None):
        return RecipeConfig(epochs=3, data=tmp_path, out=tmp_path / out, resume=resume, say=lambda s: None)

    run("mnist-mlp", config("full"))
    _interrupted(monkeypatch, classifier_module, 2, lambda: run("mnist-mlp", config("part")))
    run("mnist-mlp", config("part", resume=tmp_path / "part" / "checkpoints" / "last.safetensors"))
    assert _losses(tmp_path / "part") == _losses(tmp_path / "full")
    _assert_same_weights(tmp_path / "full", tmp_path / "part")


def test_char_lstm_resumes_its_per_batch_schedule_and_windows(tmp_path, monkeypatch):
    options = dict(steps_per_epoch=4, seq_len=12, hidden_size=16, embed_dim=8, eval_chars=600, sample_chars=5)

    def config(out, resume=None):
        return RecipeConfig(
            epochs=2, batch_size=4, out=tmp_path / out, resume=resume, options=options, say=lambda s: None
        )

    run("char-lstm", config("full"))
    _interrupted(monkeypatch, text_module, 1, lambda: run("char-lstm", config("part")))
    run("char-lstm", config("part", resume=tmp_path / "part"))
    full = json.loads((tmp_path / "full" / "history.json").read_text())["history"]
    part = json.loads((tmp_path / "part" / "history.json").read_text())["history"]
    assert part["loss"] == full["loss"] and part["lr"] == full["lr"] and part["val_loss"] == full["val_loss"]
    _assert_same_weights(tmp_path / "full", tmp_path / "part")


def test_gan_ring_resumes_with_its_loaders_own_shuffling_generator(tmp_path, capsys):
    tiny = ["--set", "steps_per_epoch=8", "--batch-size", "32"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert main(["train", "gan-ring", "--epochs", "2", "--out", str(full), *tiny]) == 0
    assert main(["train", "gan-ring", "--epochs", "1", "--out", str(part), *tiny]) == 0
    assert main(["train", "gan-ring", "--epochs", "2", "--out", str(part), "--resume", str(part), *tiny]) == 0
    assert _losses(part) == _losses(full)
    _assert_same_weights(full, part)
