"""diagnose on deliberately broken networks (fixed seeds, brief plain training loops) and on a healthy one."""

import pytest

import glassnet as gn
from glassnet.data import load_digits
from glassnet.lens import Recorder, Recording, diagnose

nn = gn.nn
X, Y, XT, YT = load_digits()


def _fit(model, opt, steps, n=256, bs=64):
    rec = Recorder().attach(model, opt)
    lf = nn.CrossEntropyLoss()
    for i in range(steps):
        j = (i * bs) % n
        opt.zero_grad()
        loss = lf(model(X[j:j + bs]), Y[j:j + bs])
        loss.backward()
        rec.record_loss(loss)
        opt.step()
    return rec


def _kinds(findings):
    return {f.kind: f for f in findings}


def test_deep_sigmoid_stack_vanishes():
    gn.manual_seed(0)
    layers = [nn.Linear(64, 32), nn.Sigmoid()]
    for _ in range(9):
        layers += [nn.Linear(32, 32), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(32, 10))
    found = _kinds(diagnose(_fit(model, gn.optim.SGD(model.parameters(), lr=0.1), 20)))
    f = found["vanishing_gradients"]
    assert f.evidence["first_layer"] == "0.weight" and f.evidence["last_layer"] == "20.weight"
    assert f.evidence["ratio_first_to_last"] < 1e-6  # measured 1.2e-8
    assert "0.weight" in f.message and f.remedy


def test_learning_rate_10_diverges():
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
    found = _kinds(diagnose(_fit(model, gn.optim.SGD(model.parameters(), lr=10.0), 30)))
    f = found["divergence"]
    assert f.severity == "critical" and f.evidence["growth"] > 10  # measured ×74 (2.36 → 175)


def test_relu_bias_minus_10_is_dead():
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10))
    with gn.no_grad():
        model[0].bias.data[...] = -10
        model[2].bias.data[...] = -10
    found = _kinds(diagnose(_fit(model, gn.optim.SGD(model.parameters(), lr=0.1), 20)))
    f = found["dead_relus"]
    assert f.evidence["dead_fraction"] == {"1": 1.0, "3": 1.0}


def test_large_net_on_200_samples_overfits():
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = gn.optim.Adam(model.parameters(), lr=3e-3)
    rec = Recorder(every=5).attach(model, opt)
    lf = nn.CrossEntropyLoss()
    x, y = X[:200], Y[:200]
    for epoch in range(40):
        for j in range(0, 200, 50):
            opt.zero_grad()
            loss = lf(model(x[j:j + 50]), y[j:j + 50])
            loss.backward()
            opt.step()
        with gn.no_grad():
            rec.record_epoch(epoch, loss=lf(model(x), y), val_loss=lf(model(XT), YT))
    found = _kinds(diagnose(rec))
    f = found["overfitting"]
    assert f.evidence["onset_epoch"] == 10  # val loss bottoms at 0.256 (epoch 10), rises to 0.288 by epoch 39
    assert f.evidence["last_val_loss"] > f.evidence["best_val_loss"] * 1.05
    assert f.evidence["last_train_loss"] < f.evidence["train_loss_at_onset"]
    # the same from a plain history dict
    hist = {"loss": rec.recording.epoch_series("loss"), "val_loss": rec.recording.epoch_series("val_loss")}
    assert _kinds(diagnose(hist))["overfitting"].evidence["onset_epoch"] == 10


def test_healthy_network_no_false_alarm():
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    rec = _fit(model, gn.optim.SGD(model.parameters(), lr=0.1), 60, n=1000)
    assert diagnose(rec) == []


def test_history_divergence_and_plateau():
    assert _kinds(diagnose({"loss": [1.0, 0.9, float("nan")]}))["divergence"].severity == "critical"
    flat = diagnose({"loss": [2.3] * 10})
    assert [f.kind for f in flat] == ["loss_not_decreasing"]


def test_empty_inputs_are_explained():
    with pytest.raises(ValueError, match="recording is empty"):
        diagnose(Recording())
    with pytest.raises(ValueError, match="history is empty"):
        diagnose({})
    with pytest.raises(TypeError, match="expected a Recording"):
        diagnose(42)


def test_findings_read_as_words():
    f = diagnose({"loss": [float("inf")]})[0]
    assert "diverged" in str(f) and "learning rate" in f.remedy
