"""Every scheduler gives the same learning-rate sequence as torch.optim.lr_scheduler (40 steps, two groups)."""

import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.optim import lr_scheduler as gs

torch = pytest.importorskip("torch")
ts = torch.optim.lr_scheduler


def _pair(gn_opt=gn.optim.SGD, torch_opt=torch.optim.SGD, **kwargs):
    """The same two-group optimiser in both libraries (lrs 0.1 and 0.03)."""
    gp = [gn.Tensor(np.zeros(2), requires_grad=True) for _ in range(2)]
    tp = [torch.zeros(2, requires_grad=True) for _ in range(2)]
    go = gn_opt([{"params": [gp[0]]}, {"params": [gp[1]], "lr": 0.03}], lr=0.1, **kwargs)
    to = torch_opt([{"params": [tp[0]]}, {"params": [tp[1]], "lr": 0.03}], lr=0.1, **kwargs)
    return go, to


def _sequences(gn_sched, torch_sched, steps=40, metrics=None, extra=None):
    """Step both schedulers (after an optimiser step, as intended) and record lrs (and any `extra` group key)."""
    ga, ta = [], []
    for k in range(steps):
        gn_sched.optimizer.step()
        torch_sched.optimizer.step()
        if metrics is None:
            gn_sched.step()
            torch_sched.step()
        else:
            gn_sched.step(metrics[k])
            torch_sched.step(metrics[k])
        ga.append(list(gn_sched.get_last_lr()) + [g.get(extra) for g in gn_sched.optimizer.param_groups if extra])
        ta.append(list(torch_sched.get_last_lr()) + [g.get(extra) for g in torch_sched.optimizer.param_groups if extra])
    return ga, ta


def _assert_same(ga, ta):
    flat = lambda rows: np.array([[x for v in row for x in (v if isinstance(v, tuple) else (v,))] for row in rows])  # noqa: E731
    np.testing.assert_allclose(flat(ga), flat(ta), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("StepLR", dict(step_size=7, gamma=0.5)),
        ("MultiStepLR", dict(milestones=[3, 10, 10, 25], gamma=0.3)),
        ("ExponentialLR", dict(gamma=0.93)),
        ("CosineAnnealingLR", dict(T_max=10)),
        ("CosineAnnealingLR", dict(T_max=12, eta_min=0.005)),
        ("LinearLR", dict()),
        ("LinearLR", dict(start_factor=0.1, end_factor=0.8, total_iters=15)),
    ],
)
def test_scheduler_matches_torch(name, kwargs):
    go, to = _pair()
    gsched, tsched = getattr(gs, name)(go, **kwargs), getattr(ts, name)(to, **kwargs)
    assert gsched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
    _assert_same(*_sequences(gsched, tsched))


@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_one_cycle_matches_torch_with_momentum(anneal_strategy, three_phase, opt):
    extra = {"SGD": dict(momentum=0.9), "Adam": dict()}[opt]
    go, to = _pair(getattr(gn.optim, opt), getattr(torch.optim, opt), **extra)
    kwargs = dict(max_lr=[0.5, 0.2], total_steps=40, anneal_strategy=anneal_strategy, three_phase=three_phase)
    gsched, tsched = gs.OneCycleLR(go, **kwargs), ts.OneCycleLR(to, **kwargs)
    _assert_same(*_sequences(gsched, tsched, steps=39, extra="momentum" if opt == "SGD" else "betas"))


def test_one_cycle_epochs_and_no_momentum_cycling():
    go, to = _pair()
    kwargs = dict(max_lr=1.0, epochs=4, steps_per_epoch=8, pct_start=0.25, cycle_momentum=False, div_factor=10.0)
    gsched, tsched = gs.OneCycleLR(go, **kwargs), ts.OneCycleLR(to, **kwargs)
    _assert_same(*_sequences(gsched, tsched, steps=31, extra="momentum"))
    gsched.step()
    with pytest.raises(ValueError, match="total_steps"):
        gsched.step()


PLATEAU_METRICS = [10, 9, 9, 9, 9, 9, 8.9995, 8.5, 8.5, 8.5, 8.5, 8.5, 8.5, 8, 9, 9, 9, 9, 9, 9] + [7.0] * 25


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(patience=2),
        dict(patience=1, factor=0.5, cooldown=3),
        dict(patience=1, factor=0.5, min_lr=0.01),
        dict(patience=0, factor=0.5, min_lr=[0.02, 0.001], cooldown=1),
        dict(patience=1, threshold=0.01, threshold_mode="abs"),
        dict(patience=1, threshold=0.1, threshold_mode="rel"),
        dict(mode="max", patience=1, factor=0.7),
        dict(mode="max", patience=2, threshold=0.5, threshold_mode="abs", cooldown=2),
    ],
)
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    go, to = _pair()
    gsched, tsched = gs.ReduceLROnPlateau(go, **kwargs), ts.ReduceLROnPlateau(to, **kwargs)
    ga, ta = _sequences(gsched, tsched, steps=len(PLATEAU_METRICS), metrics=PLATEAU_METRICS)
    _assert_same(ga, ta)
    assert gsched.best == tsched.best and gsched.num_bad_epochs == tsched.num_bad_epochs


def test_reduce_lr_on_plateau_accepts_a_tensor_metric_and_is_a_scheduler():
    go, _ = _pair()
    sched = gs.ReduceLROnPlateau(go, patience=0)
    sched.step(gn.tensor(1.0))
    sched.step(gn.tensor(2.0))
    assert isinstance(sched, gs.LRScheduler)
    assert sched.get_last_lr() == pytest.approx([0.01, 0.003])


def test_scheduler_state_dict_resumes_the_same_sequence():
    go, _ = _pair()
    a = gs.CosineAnnealingLR(go, T_max=9, eta_min=0.01)
    for _ in range(5):
        go.step()
        a.step()
    saved_sched, saved_opt = a.state_dict(), go.state_dict()
    expected = []
    for _ in range(10):
        go.step()
        a.step()
        expected.append(a.get_last_lr())

    go2, _ = _pair()
    go2.load_state_dict(saved_opt)
    b = gs.CosineAnnealingLR(go2, T_max=9, eta_min=0.01, last_epoch=4)
    b.load_state_dict(saved_sched)
    got = []
    for _ in range(10):
        go2.step()
        b.step()
        got.append(b.get_last_lr())
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_resuming_without_initial_lr_says_what_to_do():
    go, _ = _pair()
    with pytest.raises(KeyError, match="initial_lr"):
        gs.StepLR(go, step_size=2, last_epoch=3)


def test_stepping_the_scheduler_before_the_optimizer_warns():
    go, _ = _pair()
    sched = gs.StepLR(go, step_size=2)
    with pytest.warns(UserWarning, match="before optimizer.step"):
        sched.step()
    go.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda o: gs.LinearLR(o, start_factor=0.0), "start_factor"),
        (lambda o: gs.OneCycleLR(o, max_lr=0.1), "total_steps"),
        (lambda o: gs.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="exp"), "anneal_strategy"),
        (lambda o: gs.OneCycleLR(o, max_lr=[0.1], total_steps=10), "max_lr"),
        (lambda o: gs.ReduceLROnPlateau(o, factor=1.5), "factor"),
        (lambda o: gs.ReduceLROnPlateau(o, mode="best"), "mode"),
        (lambda o: gs.ReduceLROnPlateau(o, min_lr=[0.1]), "min_lrs"),
    ],
)
def test_bad_scheduler_arguments_are_named(make, message):
    go, _ = _pair()
    with pytest.raises(ValueError, match=message):
        make(go)


def test_one_cycle_needs_momentum_to_cycle_it():
    p = gn.Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match="cycle_momentum"):
        gs.OneCycleLR(gn.optim.Adagrad([p]), max_lr=0.1, total_steps=10)
