"""Adadelta, Adamax, NAdam, RAdam and ASGD match their torch.optim twins over 20 steps (float64 to 1e-10, float32
to 1e-5), with weight decay, maximize and their own options, and refuse bad settings naming the optimiser."""

import numpy as np
import pytest

import glassnet as gn

torch = pytest.importorskip("torch")

CASES = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1)),  # β₂ = 0.9: the rectified branch from step 6
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1)),
    ("ASGD", dict(t0=3, maximize=True)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_torch_over_20_steps(run_both, assert_match, name, kwargs):
    gp, tp, gopt, topt = run_both(getattr(gn.optim, name), getattr(torch.optim, name), kwargs)
    assert_match(gp, tp, 1e-10)
    if name == "ASGD":  # the averaged parameters too
        for p, q in zip(gp, tp):
            np.testing.assert_allclose(gopt.state[p]["ax"].data, topt.state[q]["ax"].numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "NAdam", "RAdam", "ASGD"])
def test_float32_stays_float32_and_matches(run_both, assert_match, name):
    gp, tp, _, _ = run_both(getattr(gn.optim, name), getattr(torch.optim, name), dict(lr=0.01), dtype=np.float32)
    assert all(p.dtype == np.float32 for p in gp)
    assert_match(gp, tp, 1e-5)


@pytest.mark.parametrize(
    "name,kwargs,word",
    [
        ("Adadelta", dict(rho=1.5), "rho"),
        ("Adadelta", dict(lr=-1.0), "lr"),
        ("Adamax", dict(betas=(1.0, 0.9)), "beta"),
        ("NAdam", dict(momentum_decay=-1.0), "momentum_decay"),
        ("RAdam", dict(eps=-1.0), "eps"),
        ("ASGD", dict(weight_decay=-0.1), "weight_decay"),
    ],
)
def test_bad_settings_are_refused(name, kwargs, word):
    with pytest.raises(ValueError, match=f"{name}: .*{word}"):
        getattr(gn.optim, name)([gn.tensor([1.0], requires_grad=True)], **kwargs)


def test_mnist_example_training_loop_with_adadelta_and_steplr():
    """The PyTorch MNIST example's optimiser, schedule and accuracy count (pred.eq(target.view_as(pred)))."""
    gn.manual_seed(0)
    model = gn.nn.Sequential(gn.nn.Linear(4, 8), gn.nn.ReLU(), gn.nn.Linear(8, 3))
    optimizer = gn.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = gn.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    data = gn.randn(30, 4)
    target = (data[:, 0] > 0).long() + (data[:, 1] > 0).long()
    for _ in range(3):
        optimizer.zero_grad()
        output = gn.nn.functional.log_softmax(model(data), dim=1)
        loss = gn.nn.functional.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        scheduler.step()
    pred = output.argmax(dim=1, keepdim=True)
    correct = pred.eq(target.view_as(pred)).sum().item()
    assert isinstance(correct, int) and correct == int((pred.numpy()[:, 0] == target.numpy()).sum())
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.7**3)


def _lbfgs_run(lib, line_search_fn, steps=20, **kwargs):
    """LBFGS fitting a small logistic regression (a well-conditioned problem, so rounding does not grow), driven by a
    closure as in PyTorch; returns the loss of every step and the final parameters."""
    rng = np.random.default_rng(0)
    data, labels = rng.standard_normal((40, 3)), (rng.uniform(size=40) > 0.5).astype(np.float64)
    x, y = lib.tensor(data), lib.tensor(labels)
    w = lib.tensor(np.array([0.5, -0.3, 0.1]), requires_grad=True)
    b = lib.tensor(np.array(0.2), requires_grad=True)
    opt = lib.optim.LBFGS([w, b], line_search_fn=line_search_fn, **kwargs)

    def closure():
        opt.zero_grad()
        p = (x @ w + b).sigmoid()
        loss = -(y * p.log() + (1 - y) * (1 - p).log()).mean() + 0.01 * (w * w).sum()
        loss.backward()
        return loss

    losses = [float(opt.step(closure).detach()) for _ in range(steps)]
    return losses, w.detach().numpy(), b.detach().numpy()


@pytest.mark.parametrize(
    "line_search_fn,kwargs",
    [
        (None, dict(lr=0.1, max_iter=4)),
        (None, dict(lr=0.5)),
        ("strong_wolfe", dict(max_iter=3)),
        ("strong_wolfe", dict(history_size=2, max_iter=2)),
    ],
)
def test_lbfgs_matches_torch_over_20_steps(line_search_fn, kwargs):
    ours = _lbfgs_run(gn, line_search_fn, **kwargs)
    theirs = _lbfgs_run(torch, line_search_fn, **kwargs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)
    assert ours[0][-1] < ours[0][0]


def test_lbfgs_needs_a_closure_and_one_group():
    p = gn.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="closure"):
        gn.optim.LBFGS([p]).step()
    with pytest.raises(ValueError, match="LBFGS: .*groups"):
        gn.optim.LBFGS([{"params": [p]}, {"params": [gn.tensor([2.0], requires_grad=True)]}])
