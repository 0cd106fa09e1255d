"""SequentialLR chains schedulers as torch.optim.lr_scheduler.SequentialLR does, and resumes from its state_dict."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.optim import lr_scheduler as gs

torch = pytest.importorskip("torch")
ts = torch.optim.lr_scheduler


def _pair():
    gp = [gn.Tensor(np.zeros(2), requires_grad=True) for _ in range(2)]
    tp = [torch.zeros(2, requires_grad=True) for _ in range(2)]
    go = gn.optim.SGD([{"params": [gp[0]]}, {"params": [gp[1]], "lr": 0.03}], lr=0.1)
    to = torch.optim.SGD([{"params": [tp[0]]}, {"params": [tp[1]], "lr": 0.03}], lr=0.1)
    return go, to


def _chain(lib, opt, kind):
    if kind == "warmup-cosine":
        parts = [lib.LinearLR(opt, start_factor=0.1, total_iters=9), lib.CosineAnnealingLR(opt, T_max=30, eta_min=0.01)]
        return lib.SequentialLR(opt, parts, milestones=[10])
    if kind == "three":  # a warm-up that ends below the base lr, a constant stretch, an exponential decay
        parts = [
            lib.LinearLR(opt, start_factor=0.2, end_factor=0.5, total_iters=4),
            lib.StepLR(opt, step_size=100),
            lib.ExponentialLR(opt, gamma=0.9),
        ]
        return lib.SequentialLR(opt, parts, milestones=[6, 15])
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["warmup-cosine", "three"])
def test_sequential_lr_matches_torch(kind):
    go, to = _pair()
    g, t = _chain(gs, go, kind), _chain(ts, to, kind)
    got, expected = [g.get_last_lr()], [t.get_last_lr()]
    for _ in range(45):
        go.step()
        to.step()
        g.step()
        t.step()
        got.append(g.get_last_lr())
        expected.append(t.get_last_lr())
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    first = {"warmup-cosine": 0.1, "three": 0.2}[kind]  # the warm-up's start_factor times each group's lr
    assert got[0] == pytest.approx([0.1 * first, 0.03 * first])


def test_sequential_lr_resumes_from_its_state_dict_through_gn_save(tmp_path):
    go, _ = _pair()
    a = _chain(gs, go, "warmup-cosine")
    for _ in range(7):
        go.step()
        a.step()
    gn.save({"sched": a.state_dict(), "opt": go.state_dict()}, tmp_path / "s.safetensors")
    expected = []
    for _ in range(20):  # crosses the milestone at 10
        go.step()
        a.step()
        expected.append(a.get_last_lr())
    saved = gn.load(tmp_path / "s.safetensors")
    go2, _ = _pair()
    b = _chain(gs, go2, "warmup-cosine")
    go2.load_state_dict(saved["opt"])
    b.load_state_dict(saved["sched"])
    got = []
    for _ in range(20):
        go2.step()
        b.step()
        got.append(b.get_last_lr())
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_sequential_lr_refuses_bad_arguments():
    go, _ = _pair()
    other, _ = _pair()
    warm = gs.LinearLR(go, total_iters=3)
    with pytest.raises(ValueError, match="2 schedulers need 1 milestones, got 0"):
        gs.SequentialLR(go, [warm, gs.ExponentialLR(go, 0.9)], milestones=[])
    with pytest.raises(ValueError, match="another optimizer"):
        gs.SequentialLR(go, [warm, gs.ExponentialLR(other, 0.9)], milestones=[3])
    with pytest.raises(TypeError, match="ReduceLROnPlateau"):
        gs.SequentialLR(go, [warm, gs.ReduceLROnPlateau(go)], milestones=[3])
