"""LambdaLR, MultiplicativeLR, ConstantLR, PolynomialLR, CosineAnnealingWarmRestarts, CyclicLR, SequentialLR and
ChainedScheduler give the same learning rates (and momenta) as torch.optim.lr_scheduler over 40 steps."""

import pytest
from test_lr_scheduler import _assert_same, _pair, _sequences

import glassnet as gn
from glassnet.optim import lr_scheduler as gs

torch = pytest.importorskip("torch")
ts = torch.optim.lr_scheduler


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("LambdaLR", dict(lr_lambda=lambda e: 0.95**e)),
        ("LambdaLR", dict(lr_lambda=[lambda e: 1 / (e + 1), lambda e: 0.9 ** (e // 3)])),
        ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.9)),
        ("ConstantLR", dict(factor=0.5, total_iters=4)),
        ("PolynomialLR", dict(total_iters=30, power=2.0)),
        ("PolynomialLR", dict()),
        ("CosineAnnealingWarmRestarts", dict(T_0=5)),
        ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.001)),
        ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=5, cycle_momentum=False)),
        (
            "CyclicLR",
            dict(
                base_lr=[0.01, 0.02],
                max_lr=0.2,
                step_size_up=4,
                step_size_down=6,
                mode="triangular2",
                cycle_momentum=False,
            ),
        ),
        (
            "CyclicLR",
            dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=0.97, cycle_momentum=False),
        ),
    ],
)
def test_scheduler_matches_torch(name, kwargs):
    go, to = _pair()
    gsched, tsched = getattr(gs, name)(go, **kwargs), getattr(ts, name)(to, **kwargs)
    assert gsched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
    _assert_same(*_sequences(gsched, tsched))


@pytest.mark.parametrize("opt,key,extra", [("SGD", "momentum", dict(momentum=0.9)), ("Adam", "betas", dict())])
def test_cyclic_lr_cycles_momentum_like_torch(opt, key, extra):
    go, to = _pair(getattr(gn.optim, opt), getattr(torch.optim, opt), **extra)
    kwargs = dict(base_lr=0.01, max_lr=0.1, step_size_up=4)
    gsched, tsched = gs.CyclicLR(go, **kwargs), ts.CyclicLR(to, **kwargs)
    _assert_same(*_sequences(gsched, tsched, extra=key))


def test_warm_restarts_fractional_epochs_match_torch():
    go, to = _pair()
    gsched, tsched = (
        gs.CosineAnnealingWarmRestarts(go, T_0=4, T_mult=2),
        ts.CosineAnnealingWarmRestarts(to, T_0=4, T_mult=2),
    )
    for k in range(30):
        epoch = k * 0.75
        go.step()
        to.step()
        gsched.step(epoch)
        tsched.step(epoch)
        assert gsched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)


def _combined(lib, sched_module, go, kind):
    if kind == "sequential":
        warm = sched_module.LinearLR(go, start_factor=0.1, total_iters=5)
        decay = sched_module.ExponentialLR(go, gamma=0.9)
        return sched_module.SequentialLR(go, [warm, decay], milestones=[5])
    if kind == "sequential3":
        a = sched_module.ConstantLR(go, factor=0.5, total_iters=3)
        b = sched_module.StepLR(go, step_size=4, gamma=0.5)
        c = sched_module.CosineAnnealingLR(go, T_max=10)
        return sched_module.SequentialLR(go, [a, b, c], milestones=[4, 15])
    a = sched_module.ConstantLR(go, factor=0.5, total_iters=6)
    b = sched_module.ExponentialLR(go, gamma=0.95)
    return sched_module.ChainedScheduler([a, b])


@pytest.mark.parametrize("kind", ["sequential", "sequential3", "chained"])
def test_combined_schedules_match_torch(kind):
    go, to = _pair()
    gsched, tsched = _combined(gn, gs, go, kind), _combined(torch, ts, to, kind)
    assert gsched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
    _assert_same(*_sequences(gsched, tsched))


def test_combined_schedules_refuse_a_scheduler_of_another_optimizer():
    go, _ = _pair()
    other, _ = _pair()
    with pytest.raises(ValueError, match=r"SequentialLR: schedulers\[1\] \(ConstantLR\) belongs to another optimizer"):
        gs.SequentialLR(go, [gs.ConstantLR(go), gs.ConstantLR(other)], milestones=[3])
    with pytest.raises(ValueError, match="LambdaLR: 3 lr_lambdas for 2"):
        gs.LambdaLR(go, [lambda e: 1.0] * 3)
