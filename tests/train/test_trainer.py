"""The Trainer: fit/evaluate/predict, the event stream, train/eval modes, custom steps (a GAN with two optimisers)."""

import numpy as np
import pytest
from train_helpers import ShuffleLoader, blobs, mlp

import glassnet as gn
from glassnet import nn, optim
from glassnet.optim import lr_scheduler
from glassnet.train import Callback, History, LambdaCallback, Trainer


def test_fit_learns_and_returns_history(data):
    train, val = data
    model = mlp()
    t = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), metrics=["accuracy", "f1"])
    h = t.fit(train, epochs=8, val_loader=val)
    assert isinstance(h, History) and h.epoch == list(range(8))
    for key in ("loss", "accuracy", "f1", "val_loss", "val_accuracy", "val_f1", "lr"):
        assert len(h[key]) == 8, key
    assert h["loss"][-1] < h["loss"][0] / 3
    assert h["val_accuracy"][-1] >= 0.9
    assert h["lr"] == [0.05] * 8
    assert len(h.batches) == 8 * len(train) and h.batches[-1]["epoch"] == 7
    assert {"loss", "batch", "step"} <= set(h.batches[0])
    # evaluate agrees with the last epoch's validation numbers
    ev = t.evaluate(val)
    assert ev["loss"] == pytest.approx(h["val_loss"][-1]) and ev["accuracy"] == h["val_accuracy"][-1]
    assert h.best("val_loss")[1] == min(h["val_loss"])


def test_epoch_loss_is_batch_size_weighted_mean():
    gn.manual_seed(0)
    x, y = blobs(n=10)
    loader = ShuffleLoader(x, y, batch_size=4)  # batches of 4, 4, 2
    model = mlp()
    t = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.0))
    h = t.fit(loader, 1)
    losses = [b["loss"] for b in h.batches]
    assert h["loss"][0] == pytest.approx((4 * losses[0] + 4 * losses[1] + 2 * losses[2]) / 10)


def test_bounded_batch_records(data):
    train, _ = data
    model = mlp()
    t = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), max_batch_records=5)
    h = t.fit(train, 3)
    assert len(h.batches) == 5 and h.batches[-1]["step"] == 3 * len(train)


def test_event_order_and_modes(data):
    train, val = data
    model = mlp(p=0.5)
    events = []

    class Spy(Callback):
        def on_fit_begin(self, logs=None):
            events.append("fit_begin")

        def on_epoch_begin(self, epoch, logs=None):
            events.append(("epoch_begin", epoch, self.trainer.model.training))

        def on_batch_begin(self, batch, logs=None):
            events.append("batch_begin")

        def on_after_backward(self, trainer):
            assert all(p.grad is not None for p in trainer.model.parameters())
            assert gn.is_grad_enabled()
            events.append("after_backward")

        def on_batch_end(self, batch, logs=None):
            events.append("batch_end")

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch_end", epoch, "val_loss" in logs))

        def on_fit_end(self, logs=None):
            events.append("fit_end")

    seen_grad_mode = []
    model.register_forward_hook(lambda m, i, o: seen_grad_mode.append((m.training, gn.is_grad_enabled())))
    t = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), callbacks=[Spy()])
    t.fit(train, 2, val_loader=val)
    per_batch = ["batch_begin", "after_backward", "batch_end"] * len(train)
    assert events == [
        "fit_begin",
        ("epoch_begin", 0, True),
        *per_batch,
        ("epoch_end", 0, True),
        ("epoch_begin", 1, True),
        *per_batch,
        ("epoch_end", 1, True),
        "fit_end",
    ]
    n = len(train) + len(val)
    assert seen_grad_mode[:n] == [(True, True)] * len(train) + [(False, False)] * len(val)
    assert model.training  # evaluate restores the mode


def test_stop_training_flag(data):
    train, _ = data
    model = mlp()

    def stop_after_second(batch, logs):
        if batch == 1:
            t.stop_training = True

    t = Trainer(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        callbacks=[LambdaCallback(on_batch_end=stop_after_second)],
    )
    h = t.fit(train, 5)
    assert h.epoch == [0] and len(h.batches) == 2


def test_initial_epoch_and_scheduler(data):
    train, _ = data
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=1.0)
    t = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=lr_scheduler.StepLR(opt, step_size=1, gamma=0.5))
    h = t.fit(train, epochs=5, initial_epoch=2)
    assert h.epoch == [2, 3, 4] and h["lr"] == [1.0, 0.5, 0.25]  # the lr each epoch trained with


def test_plateau_scheduler_steps_on_val_loss(data):
    train, val = data
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.0)  # nothing improves
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched).fit(train, 3, val)
    assert sched.last_epoch == 3 and sched.num_bad_epochs == 0


def test_predict_tensor_and_loader(data):
    train, val = data
    model = mlp(p=0.5)
    t = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    x, _ = blobs(n=10)
    out = t.predict(x, batch_size=3)
    assert out.shape == (10, 3) and not out.requires_grad
    assert np.allclose(out.numpy(), t.predict(x).numpy())  # dropout is off in eval: deterministic
    assert t.predict(val).shape == (32, 3)
    assert model.training


def test_regression_metrics(data):
    gn.manual_seed(0)
    x = gn.randn(32, 3)
    y = x @ gn.tensor([[1.0], [-2.0], [0.5]])
    model = nn.Linear(3, 1)
    t = Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), metrics=["mse", "mae"])
    h = t.fit([(x[:16], y[:16]), (x[16:], y[16:])], 20)  # a plain list of batches is a loader
    assert h["mse"][-1] < 0.05 and h["mse"][-1] < h["mse"][0]


def test_bad_batch_message():
    model = mlp()
    t = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match=r"\(inputs, targets\) pair"):
        t.fit([(gn.zeros(2, 4),)], 1)


class GANTrainer(Trainer):
    """A custom step: alternate a discriminator update and a generator update, each with its own optimiser."""

    def __init__(self, gen, disc, opt_g, opt_d, **kwargs):
        # a dict of optimisers: checkpoints save and restore both
        opts = {"g": opt_g, "d": opt_d}
        super().__init__(nn.ModuleDict({"gen": gen, "disc": disc}), nn.BCEWithLogitsLoss(), opts, **kwargs)
        self.gen, self.disc, self.opt_g, self.opt_d = gen, disc, opt_g, opt_d

    def train_step(self, batch):
        real, _ = batch
        n = real.shape[0]
        ones, zeros = gn.ones(n, 1), gn.zeros(n, 1)
        # discriminator: real -> 1, fake -> 0 (the fake is detached: no generator gradient here)
        self.opt_d.zero_grad()
        fake = self.gen(gn.randn(n, 2))
        d_loss = self.loss_fn(self.disc(real), ones) + self.loss_fn(self.disc(fake.detach()), zeros)
        d_loss.backward()
        self.callbacks.on_after_backward(self)
        self.opt_d.step()
        # generator: make the discriminator say 1
        self.opt_g.zero_grad()
        g_loss = self.loss_fn(self.disc(self.gen(gn.randn(n, 2))), ones)
        g_loss.backward()
        self.opt_g.step()
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}


def test_gan_custom_step_with_two_optimisers(tmp_path):
    gn.manual_seed(0)
    real = gn.randn(64, 2) * 0.1 + gn.tensor([2.0, -1.0])
    loader = [(real[i : i + 16], gn.zeros(16)) for i in range(0, 64, 16)]
    gen, disc = nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    opt_g, opt_d = optim.Adam(gen.parameters(), lr=0.05), optim.Adam(disc.parameters(), lr=0.01)
    g0 = gen.bias.detach().numpy().copy()
    d0 = disc[0].weight.detach().numpy().copy()
    t = GANTrainer(gen, disc, opt_g, opt_d)
    h = t.fit(loader, 30)
    assert set(h.keys()) == {"d_loss", "g_loss", "time"}  # no "loss", no "lr": the step said what to log
    assert len(h["d_loss"]) == 30
    assert not np.array_equal(gen.bias.detach().numpy(), g0) and not np.array_equal(disc[0].weight.detach().numpy(), d0)
    # the generator's samples moved towards the real mean (2, -1)
    fake_mean = gen(gn.randn(256, 2)).detach().numpy().mean(axis=0)
    assert np.linalg.norm(fake_mean - np.array([2.0, -1.0])) < np.linalg.norm(g0 - np.array([2.0, -1.0]))
    # a full checkpoint of the custom trainer restores both optimisers
    t.save_checkpoint(tmp_path / "gan.safetensors")
    gen2, disc2 = nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    opt_g2, opt_d2 = optim.Adam(gen2.parameters(), lr=1.0), optim.Adam(disc2.parameters(), lr=1.0)
    t2 = GANTrainer(gen2, disc2, opt_g2, opt_d2)
    assert t2.load_checkpoint(tmp_path / "gan.safetensors") == 30
    assert opt_g2.param_groups[0]["lr"] == 0.05 and opt_d2.param_groups[0]["lr"] == 0.01
    assert opt_d2.state_dict()["state"][0]["step"] == opt_d.state_dict()["state"][0]["step"]
    assert np.array_equal(gen2.weight.detach().numpy(), gen.weight.detach().numpy())
    assert t.describe()["optimizer"] == {"g": "Adam", "d": "Adam"}
