"""Recorder: per-layer statistics through hooks, standalone and as a Trainer callback, in bounded memory."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.lens import Recorder

nn = gn.nn


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    return gn.Tensor(x), gn.Tensor(y)


def _train(rec, model, opt, steps):
    x, y = _data()
    lf = nn.CrossEntropyLoss()
    for _ in range(steps):
        opt.zero_grad()
        loss = lf(model(x), y)
        loss.backward()
        rec.record_loss(loss)
        opt.step()


def test_standalone_records_every_statistic():
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.Sigmoid(),
                          nn.Linear(8, 2))
    opt = gn.optim.SGD(model.parameters(), lr=0.1)
    rec = Recorder(every=2, histograms=True).attach(model, opt)
    _train(rec, model, opt, 6)
    r = rec.recording
    assert [x["step"] for x in r.records] == [0, 2, 4] and len(r.losses) == 6
    acts = r.records[-1]["activations"]
    assert set(acts) == {"0", "1", "2", "3", "4", "5", "6"}
    assert 0 <= acts["1"]["saturated_fraction"] <= 1 and "saturated_fraction" in acts["5"]
    assert "dead_fraction" in acts["3"] and acts["3"]["zero_fraction"] > 0
    assert "histogram" in acts["1"]
    p = r.records[-1]["params"]["0.weight"]
    assert p["grad_norm"] > 0 and p["weight_norm"] > 0 and 0 < p["update_ratio"] < 1 and "grad_histogram" in p
    steps, values = r.series("params", "0.weight", "update_ratio")
    assert steps == [0, 2, 4] and all(v > 0 for v in values)
    rec.detach()
    _train(rec, model, opt, 2)  # detached: hooks gone, no new records
    assert len(r.records) == 3


def test_memory_is_bounded():
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = gn.optim.SGD(model.parameters(), lr=0.01)
    rec = Recorder(max_records=8).attach(model, opt)
    _train(rec, model, opt, 40)
    assert len(rec.recording.records) <= 8 and len(rec.recording.losses) <= 8
    steps = [x["step"] for x in rec.recording.records]
    assert steps[0] == 0 and steps == sorted(steps) and steps[-1] >= 24


def test_as_trainer_callback():
    train = pytest.importorskip("glassnet.train")
    if not hasattr(train, "Trainer"):
        pytest.skip("no Trainer")
    from glassnet.data import DataLoader, TensorDataset

    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = gn.optim.SGD(model.parameters(), lr=0.1)
    rec = Recorder()
    x, y = _data()
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    trainer = train.Trainer(model, nn.CrossEntropyLoss(), opt, callbacks=[rec])
    trainer.fit(loader, epochs=2, val_loader=loader)
    r = rec.recording
    assert len(r.records) == 8 and len(r.epochs) == 2 and r.epochs[0]["epoch"] == 0
    assert r.epochs[1]["val_loss"] > 0 and "update_ratio" in r.records[0]["params"]["0.weight"]
