"""Callbacks: early stopping, checkpoints, lr schedules, NaN guard, loggers, lambdas."""

import csv
import json

import numpy as np
import pytest
from train_helpers import mlp

import glassnet as gn
from glassnet import nn, optim
from glassnet.optim import lr_scheduler
from glassnet.train import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    JSONLLogger,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
    Trainer,
)


class Script(Callback):
    """Overwrites a log with scripted values (runs before the callback under test, which sees the same dict)."""

    def __init__(self, key, values):
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class Snapshots(Callback):
    """Keeps a copy of the weights after every epoch."""

    def __init__(self):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append({k: v.numpy().copy() for k, v in self.trainer.model.state_dict().items()})


def _trainer(callbacks, lr=0.1, **kwargs):
    model = mlp()
    return Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=lr), callbacks=callbacks, **kwargs)


def _weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


# ----- EarlyStopping ------------------------------------------------------------------------------------------
def test_early_stopping_stops_and_restores_best(data):
    train, val = data
    snaps = Snapshots()
    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    t = _trainer([Script("val_loss", [3.0, 2.0, 1.0, 1.5, 1.2, 0.1, 0.1]), snaps, es])
    h = t.fit(train, 7, val)
    assert h.epoch == [0, 1, 2, 3, 4]  # two epochs without improvement after epoch 2
    assert es.best_epoch == 2 and es.stopped_epoch == 4 and es.best == 1.0
    for k, v in _weights(t.model).items():
        assert np.array_equal(v, snaps.weights[2][k])


def test_early_stopping_restores_even_without_stopping(data):
    train, val = data
    snaps = Snapshots()
    es = EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    t = _trainer([Script("val_loss", [3.0, 1.0, 2.0, 2.5]), snaps, es])
    t.fit(train, 4, val)
    assert es.stopped_epoch is None and es.best_epoch == 1
    for k, v in _weights(t.model).items():
        assert np.array_equal(v, snaps.weights[1][k])


def test_early_stopping_mode_and_min_delta(data):
    train, _ = data
    assert EarlyStopping(monitor="val_accuracy").mode == "max"
    assert EarlyStopping(monitor="val_loss").mode == "min"
    es = EarlyStopping(monitor="acc", mode="max", patience=1, min_delta=0.05)
    t = _trainer([Script("acc", [0.5, 0.52, 0.9]), es])  # +0.02 is not an improvement
    t.fit(train, 3)
    assert es.stopped_epoch == 1 and es.best_epoch == 0
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_early_stopping_warns_on_missing_monitor(data):
    train, _ = data
    with pytest.warns(UserWarning, match="val_loss"):
        _trainer([EarlyStopping()]).fit(train, 1)


# ----- ModelCheckpoint ------------------------------------------------------------------------------------------
def test_model_checkpoint_every_n_and_pattern(data, tmp_path):
    train, val = data
    pattern = str(tmp_path / "ck" / "e{epoch:02d}-{val_loss:.2f}.safetensors")
    mc = ModelCheckpoint(pattern, every_n_epochs=2)
    t = _trainer([Script("val_loss", [0.5, 0.25, 0.125, 0.3]), mc])
    t.fit(train, 4, val)
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["e02-0.25.safetensors", "e04-0.30.safetensors"]
    loaded = gn.load(mc.last_path)
    for k, v in _weights(t.model).items():
        assert np.array_equal(loaded[k].numpy(), v)


def test_model_checkpoint_best_only(data, tmp_path):
    train, val = data
    snaps = Snapshots()
    mc = ModelCheckpoint(tmp_path / "best", save_best_only=True)
    t = _trainer([Script("val_loss", [0.5, 0.7, 0.2, 0.3]), snaps, mc])
    t.fit(train, 4, val)
    assert mc.best_path == str(tmp_path / "best" / "best.safetensors") and mc.best == 0.2
    assert [p.name for p in (tmp_path / "best").iterdir()] == ["best.safetensors"]  # atomic: no temp files left
    loaded = gn.load(mc.best_path)
    for k, v in snaps.weights[2].items():
        assert np.array_equal(loaded[k].numpy(), v)


# ----- learning rates ---------------------------------------------------------------------------------------------
def test_learning_rate_scheduler_per_epoch_and_per_batch(data):
    train, _ = data
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=1.0)
    t = Trainer(
        model,
        nn.CrossEntropyLoss(),
        opt,
        callbacks=[LearningRateScheduler(lr_scheduler.StepLR(opt, step_size=1, gamma=0.5))],
    )
    assert t.fit(train, 3)["lr"] == [1.0, 0.5, 0.25]

    opt = optim.SGD(model.parameters(), lr=1.0)
    cb = LearningRateScheduler(lr_scheduler.ExponentialLR(opt, gamma=0.5), per_batch=True)
    t = Trainer(model, nn.CrossEntropyLoss(), opt, callbacks=[cb])
    assert t.fit(train, 2)["lr"] == [0.5 ** len(train), 0.5 ** (2 * len(train))]


def test_learning_rate_schedule_function(data):
    train, _ = data
    t = _trainer([LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))])
    assert t.fit(train, 3)["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    with pytest.raises(TypeError, match="ReduceLROnPlateau"):
        LearningRateScheduler(lr_scheduler.ReduceLROnPlateau(t.optimizer))


def test_reduce_lr_on_plateau_callback(data):
    train, val = data
    cb = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1)
    t = _trainer([Script("val_loss", [1.0, 1.0, 1.0, 1.0, 0.5]), cb], lr=0.4)
    h = t.fit(train, 5, val)
    # epochs 1 and 2 do not improve: more than `patience` bad epochs, so the lr halves after epoch 2
    assert h["lr"] == [0.4, 0.4, 0.4, 0.2, 0.2]
    assert cb.state_dict()["scheduler"]["best"] == 0.5
    assert isinstance(cb.scheduler, lr_scheduler.ReduceLROnPlateau) and cb.scheduler.optimizer is t.optimizer


# ----- TerminateOnNaN, loggers, lambdas, progress ------------------------------------------------------------------
def test_terminate_on_nan(data):
    train, _ = data
    model = mlp()

    def nan_loss(output, target):
        return nn.CrossEntropyLoss()(output, target) * gn.tensor(float("nan"))

    cb = TerminateOnNaN()
    t = Trainer(model, nan_loss, optim.SGD(model.parameters(), lr=0.1), callbacks=[cb])
    with pytest.warns(UserWarning, match="nan"):
        h = t.fit(train, 3)
    assert cb.terminated_at == (0, 0) and h.epoch == [0] and len(h.batches) == 1


def test_csv_and_jsonl_loggers(data, tmp_path):
    train, val = data
    csv_path, jsonl_path = tmp_path / "log.csv", tmp_path / "run.jsonl"
    t = _trainer([CSVLogger(csv_path), JSONLLogger(jsonl_path, batches=True)], metrics=["accuracy"])
    h = t.fit(train, 2, val)
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 2 and rows[1]["epoch"] == "1"
    assert float(rows[1]["val_accuracy"]) == h["val_accuracy"][1]
    assert float(rows[0]["loss"]) == pytest.approx(h["loss"][0])
    records = [json.loads(line) for line in jsonl_path.read_text().splitlines()]
    events = [r["event"] for r in records]
    assert events[0] == "fit_begin" and events[-1] == "fit_end"
    assert events.count("epoch_end") == 2 and events.count("batch_end") == 2 * len(train)
    assert records[-2]["logs"]["val_loss"] == pytest.approx(h["val_loss"][1])
    # append continues the same columns
    _trainer([CSVLogger(csv_path, append=True)], metrics=["accuracy"]).fit(train, 1, val)
    assert len(list(csv.DictReader(csv_path.open()))) == 3


def test_lambda_callback_and_callback_list(data):
    train, _ = data
    seen = []
    cb = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((epoch, round(logs["loss"], 6))))
    h = _trainer([cb]).fit(train, 2)
    assert seen == [(0, round(h["loss"][0], 6)), (1, round(h["loss"][1], 6))]
    with pytest.raises(ValueError, match="unknown event"):
        LambdaCallback(on_epoch_finish=print)
    with pytest.raises(TypeError, match="not a Callback"):
        CallbackList([print])
