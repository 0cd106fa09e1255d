"""Checkpoints and resume: an interrupted-and-resumed run equals an uninterrupted one, bit for bit."""

import json

import numpy as np
import pytest
from train_helpers import ShuffleLoader, blobs, mlp

import glassnet as gn
from glassnet import nn, optim
from glassnet.optim import lr_scheduler
from glassnet.train import (
    EarlyStopping,
    ModelCheckpoint,
    ReduceLROnPlateau,
    RunDir,
    Trainer,
    load_checkpoint,
    save_checkpoint,
)


def _setup(seed=1, scheduler=True):
    """A fresh model (with dropout), Adam, a StepLR and a shuffling loader, all drawn from gn's default generator."""
    gn.manual_seed(seed)
    x, y = blobs(n=80)
    model = mlp(p=0.3)
    opt = optim.Adam(model.parameters(), lr=0.02)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5) if scheduler else None
    train = ShuffleLoader(x[:64], y[:64], batch_size=8, shuffle=True)
    val = ShuffleLoader(x[64:], y[64:], batch_size=8, shuffle=True)  # validation draws from the RNG too
    return model, opt, sched, train, val


def _weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_resume_equals_uninterrupted_bit_for_bit(tmp_path):
    epochs, k = 5, 2
    # uninterrupted
    model, opt, sched, train, val = _setup()
    Trainer(model, nn.CrossEntropyLoss(), opt, metrics=["accuracy"], scheduler=sched).fit(train, epochs, val)
    expected = _weights(model)

    # interrupted after epoch k ...
    model, opt, sched, train, val = _setup()
    t = Trainer(model, nn.CrossEntropyLoss(), opt, metrics=["accuracy"], scheduler=sched)
    t.fit(train, k, val)
    t.save_checkpoint(tmp_path / "ckpt.safetensors")
    gn.randn(1000)  # the process goes on drawing random numbers (or dies): the checkpoint must not care

    # ... and resumed in a "new process": new objects, different seed, loaded from the checkpoint
    model2, opt2, sched2, train2, val2 = _setup(seed=123)
    t2 = Trainer(model2, nn.CrossEntropyLoss(), opt2, metrics=["accuracy"], scheduler=sched2)
    history = t2.fit(train2, epochs, val2, resume_from=tmp_path / "ckpt.safetensors")
    got = _weights(model2)
    assert got.keys() == expected.keys()
    for name in expected:
        assert np.array_equal(got[name], expected[name]), name
    assert history.epoch == list(range(epochs))  # history continues from the checkpoint
    assert sched2.last_epoch == epochs


def test_resume_from_run_dir_matches(tmp_path):
    epochs = 4
    model, opt, sched, train, val = _setup(scheduler=False)
    Trainer(model, nn.CrossEntropyLoss(), opt).fit(train, epochs, val)
    expected = _weights(model)

    model, opt, _, train, val = _setup(scheduler=False)
    run = RunDir(tmp_path, "r")
    t = Trainer(model, nn.CrossEntropyLoss(), opt, run_dir=run)
    es = EarlyStopping(monitor="loss", patience=100)
    t.callbacks.append(es)
    t.fit(train, 3, val)
    model2, opt2, _, train2, val2 = _setup(seed=7, scheduler=False)
    t2 = Trainer(model2, nn.CrossEntropyLoss(), opt2, run_dir=tmp_path / "r")
    t2.fit(train2, epochs, val2, resume_from=tmp_path / "r")
    for name, value in expected.items():
        assert np.array_equal(_weights(model2)[name], value), name
    assert json.loads((tmp_path / "r" / "history.json").read_text())["epoch"] == [0, 1, 2, 3]


def test_checkpoint_contents_roundtrip(tmp_path):
    model, opt, sched, train, val = _setup()
    t = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched)
    t.fit(train, 2)
    gn.manual_seed(99)
    state = gn.random.default_generator.get_state()
    save_checkpoint(tmp_path / "c.safetensors", model, opt, sched, epoch=2, history=t.history, extra={"note": "hi"})
    gn.randn(10)
    model2, opt2, sched2, *_ = _setup(seed=5)
    ckpt = load_checkpoint(tmp_path / "c.safetensors", model2, opt2, sched2)
    assert ckpt["epoch"] == 2 and ckpt["extra"] == {"note": "hi"}
    assert ckpt["history"]["loss"] == t.history["loss"]
    assert gn.random.default_generator.get_state() == state
    assert sched2.last_epoch == sched.last_epoch and sched2.get_last_lr() == sched.get_last_lr()
    for k, v in _weights(model).items():
        assert np.array_equal(_weights(model2)[k], v)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    for i in s1["state"]:
        assert np.array_equal(s1["state"][i]["exp_avg"].numpy(), s2["state"][i]["exp_avg"].numpy())


def test_load_checkpoint_rejects_plain_weights(tmp_path):
    model = mlp()
    gn.save(model.state_dict(), tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="not a glassnet checkpoint"):
        load_checkpoint(tmp_path / "w.safetensors", model)


def test_dict_of_optimisers(tmp_path):
    g, d = nn.Linear(2, 2), nn.Linear(2, 1)
    opts = {"g": optim.SGD(g.parameters(), lr=0.1, momentum=0.9), "d": optim.Adam(d.parameters(), lr=0.01)}
    (g(gn.ones(1, 2)).sum() + d(gn.ones(1, 2)).sum()).backward()
    for o in opts.values():
        o.step()
    both = nn.ModuleDict({"g": g, "d": d})
    save_checkpoint(tmp_path / "gan.safetensors", both, opts, epoch=1)
    g2, d2 = nn.Linear(2, 2), nn.Linear(2, 1)
    opts2 = {"g": optim.SGD(g2.parameters(), lr=0.5, momentum=0.9), "d": optim.Adam(d2.parameters(), lr=0.5)}
    load_checkpoint(tmp_path / "gan.safetensors", nn.ModuleDict({"g": g2, "d": d2}), opts2)
    assert opts2["g"].param_groups[0]["lr"] == 0.1 and opts2["d"].param_groups[0]["lr"] == 0.01
    assert np.array_equal(g2.weight.detach().numpy(), g.weight.detach().numpy())


def test_run_dir_layout(tmp_path):
    model, opt, _, train, val = _setup(scheduler=False)
    run = RunDir(tmp_path / "runs", name="exp")
    t = Trainer(model, nn.CrossEntropyLoss(), opt, metrics=["accuracy"], run_dir=run, config={"recipe": "toy"})
    t.fit(train, 2, val)
    root = tmp_path / "runs" / "exp"
    for p in ("config.json", "history.json", "history.csv", "checkpoints/last.safetensors"):
        assert (root / p).is_file(), p
    assert (root / "artefacts").is_dir()
    config = run.read_config()
    assert config["recipe"] == "toy" and config["optimizer"] == "Adam" and config["epochs"] == 2
    h = run.read_history()
    assert h.epoch == [0, 1] and h["val_accuracy"] == t.history["val_accuracy"]
    assert len(h.batches) == 2 * len(train)
    csv_lines = (root / "history.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,loss,accuracy") and len(csv_lines) == 3
    # unnamed runs get unique timestamped folders
    a, b = RunDir(tmp_path / "runs"), RunDir(tmp_path / "runs")
    assert a.path != b.path and a.checkpoints.is_dir()


def test_callback_state_survives_resume(tmp_path):
    model, opt, _, train, val = _setup(scheduler=False)
    plateau = ReduceLROnPlateau(monitor="val_loss", patience=0, factor=0.5)
    ckpt = ModelCheckpoint(tmp_path / "full", weights_only=False)
    t = Trainer(model, nn.CrossEntropyLoss(), opt, callbacks=[plateau, ckpt])
    t.fit(train, 2, val)
    assert (tmp_path / "full" / "epoch002.safetensors").is_file()
    model2, opt2, _, train2, val2 = _setup(seed=3, scheduler=False)
    plateau2 = ReduceLROnPlateau(monitor="val_loss", patience=0, factor=0.5)
    t2 = Trainer(model2, nn.CrossEntropyLoss(), opt2, callbacks=[plateau2, ModelCheckpoint(tmp_path / "full")])
    t2.load_checkpoint(tmp_path / "full" / "epoch002.safetensors")
    t2.callbacks.set_trainer(t2)
    plateau2.on_fit_begin()
    assert plateau2.scheduler.best == plateau.scheduler.best
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_resume_with_glassnet_dataloader(tmp_path):
    """The same guarantee with the library's own DataLoader (shuffling from gn's default generator)."""
    data = pytest.importorskip("glassnet.data")
    if not hasattr(data, "DataLoader"):
        pytest.skip("glassnet.data.DataLoader is not there yet")

    def setup(seed):
        gn.manual_seed(seed)
        x, y = blobs(n=60)
        model = mlp(p=0.2)
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        loader = data.DataLoader(data.TensorDataset(x, y), batch_size=8, shuffle=True)
        return model, opt, loader

    model, opt, loader = setup(4)
    Trainer(model, nn.CrossEntropyLoss(), opt).fit(loader, 4)
    expected = _weights(model)
    model, opt, loader = setup(4)
    t = Trainer(model, nn.CrossEntropyLoss(), opt)
    t.fit(loader, 1)
    t.save_checkpoint(tmp_path / "c.safetensors")
    model, opt, loader = setup(5)
    Trainer(model, nn.CrossEntropyLoss(), opt).fit(loader, 4, resume_from=tmp_path / "c.safetensors")
    for name, value in expected.items():
        assert np.array_equal(_weights(model)[name], value), name
