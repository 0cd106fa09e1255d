"""Progress of a fit: bars where someone watches, one line per epoch in logs, nothing with verbose=0."""

import io
import sys
import types

import pytest
from train_helpers import mlp

from glassnet import nn, optim
from glassnet.train import ProgressBar, Trainer
from glassnet.train.progress import format_logs, in_notebook


def _trainer(callbacks=()):
    model = mlp()
    return Trainer(
        model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), metrics=["accuracy"], callbacks=callbacks
    )


def test_default_fit_prints_one_line_per_epoch_when_not_interactive(data, capsys):
    train, val = data
    history = _trainer().fit(train, 3, val_loader=val)  # pytest's captured stdout is not a terminal
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert f"loss {history['loss'][2]:.4g}" in lines[2]
    assert f"val_accuracy {history['val_accuracy'][2]:.4g}" in lines[2]
    assert lines[2].endswith(" s)") and "time" not in lines[2]


def test_verbose_0_is_silent_and_verbose_2_prints_lines(data, capsys):
    train, _ = data
    _trainer().fit(train, 2, verbose=0)
    assert capsys.readouterr() == ("", "")
    buf = io.StringIO()
    _trainer([ProgressBar(verbose=2, file=buf, interactive=True)]).fit(train, 2)  # lines even when interactive
    assert len(buf.getvalue().splitlines()) == 2
    assert capsys.readouterr() == ("", "")  # the given ProgressBar replaced the default one
    with pytest.raises(ValueError, match="verbose must be 0"):
        ProgressBar(verbose=3)


def test_interactive_output_gets_a_bar_per_epoch(data, capsys):
    train, val = data
    buf = io.StringIO()
    trainer = _trainer([ProgressBar(file=buf, interactive=True)])
    history = trainer.fit(train, 2, val_loader=val)
    text = buf.getvalue()
    assert "\r" in text  # a bar redrawn in place
    assert "epoch 1/2" in text and "epoch 2/2" in text
    assert f"{len(train)}/{len(train)}" in text  # counted every batch
    assert f"val_loss={history['val_loss'][1]:.4g}" in text  # the epoch's numbers on its finished bar
    assert capsys.readouterr() == ("", "")
    assert len(trainer.callbacks) == 1  # fit added nothing and left nothing behind


def test_jupyter_counts_as_interactive(monkeypatch):
    kernel_shell = types.SimpleNamespace(config={"IPKernelApp": {}})
    fake_ipython = types.ModuleType("IPython")
    fake_ipython.get_ipython = lambda: kernel_shell
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    assert in_notebook()
    assert ProgressBar().uses_bars()  # stdout in a kernel is no terminal, but someone watches
    assert not ProgressBar(file=io.StringIO()).uses_bars()  # a file is a log
    fake_ipython.get_ipython = lambda: types.SimpleNamespace(config={})  # a terminal IPython
    assert not in_notebook()


def test_format_logs_keeps_numbers_and_leaves_out_time():
    logs = {"loss": 0.123456, "accuracy": 0.5, "time": 3.0, "note": "x"}
    assert format_logs(logs) == "loss 0.1235  accuracy 0.5"
    assert format_logs(logs, sep=", ", eq="=") == "loss=0.1235, accuracy=0.5"


def test_an_exception_mid_fit_closes_the_bar_and_removes_the_default_progress(data, monkeypatch, capsys):
    train, _ = data
    trainer = _trainer()
    calls = []

    def failing_step(batch):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return Trainer.train_step(trainer, batch)

    monkeypatch.setattr(trainer, "train_step", failing_step)
    monkeypatch.setattr(ProgressBar, "uses_bars", lambda self: True)
    bars = []
    new_bar = ProgressBar._new_bar
    monkeypatch.setattr(ProgressBar, "_new_bar", lambda self, **kw: bars.append(new_bar(self, **kw)) or bars[-1])
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(train, 2)
    assert len(trainer.callbacks) == 0
    assert len(bars) == 1 and bars[0].n == 2 and bars[0].disable  # tqdm.close() sets disable
    assert "2/4" in capsys.readouterr().out


def test_the_bar_shows_the_running_loss_and_metrics_during_the_epoch():
    metric = types.SimpleNamespace(name="accuracy", compute=lambda: 0.625)
    progress = ProgressBar(file=io.StringIO(), interactive=True)
    progress.set_trainer(types.SimpleNamespace(metrics=[metric], epochs=3, steps_per_epoch=10))
    progress.on_epoch_begin(0)
    progress.on_batch_end(0, {"loss": 1.0})
    progress.on_batch_end(1, {"loss": 0.5})
    assert progress._bar.postfix == "loss=0.75, accuracy=0.625" and progress._bar.n == 2
    progress.on_epoch_end(0, {"loss": 0.7, "accuracy": 0.6, "time": 1.0})
    assert progress._bar is None
