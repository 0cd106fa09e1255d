"""Per-op overhead and the tiny-MLP training step: glassnet vs raw NumPy vs PyTorch, in one run.

    python -m bench.overhead            # 7 interleaved rounds, about 25 s
    python -m bench.overhead --quick    # smoke test, a few seconds
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

import glassnet as gn
from bench.harness import interleaved


def _w0_data():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (100, 2)).astype(np.float32)
    y = (np.sin(3 * x[:, :1]) * x[:, 1:]).astype(np.float32)
    return x, y


def _init(seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(2, 16), (16,), (16, 16), (16,), (16, 1), (1,)]
    fans = [2, 2, 16, 16, 16, 16]
    return [rng.uniform(-1 / fan**0.5, 1 / fan**0.5, s).astype(np.float32) for s, fan in zip(shapes, fans)]


def numpy_step():
    """W0 by hand: forward, MSE, hand-derived backward, SGD."""
    x, y = _w0_data()
    w1, b1, w2, b2, w3, b3 = params = _init()

    def step():
        h1 = np.tanh(x @ w1 + b1)
        h2 = np.tanh(h1 @ w2 + b2)
        diff = h2 @ w3 + b3 - y
        dout = diff * (2.0 / diff.size)
        dh2 = (dout @ w3.T) * (1.0 - h2 * h2)
        dh1 = (dh2 @ w2.T) * (1.0 - h1 * h1)
        grads = [x.T @ dh1, dh1.sum(0), h1.T @ dh2, dh2.sum(0), h2.T @ dout, dout.sum(0)]
        for p, g in zip(params, grads):
            p -= 0.01 * g

    return step


def glassnet_step(compiled: bool = False):
    """W0 in glassnet, written as a user would: nn.Linear, nn.Tanh, F.mse_loss, optim.SGD (with `compiled`, the
    same step through gn.compile: captured on the first call, replayed afterwards)."""
    import glassnet.nn.functional as F
    from glassnet import nn

    x, y = (gn.tensor(a) for a in _w0_data())
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))
    opt = gn.optim.SGD(model.parameters(), lr=0.01)

    def step(x, y):
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()

    step = gn.compile(step) if compiled else step
    return lambda: step(x, y)


def torch_step():
    """W0 in PyTorch eager with nn.Linear, MSELoss and optim.SGD."""
    import torch

    x, y = (torch.from_numpy(a) for a in _w0_data())
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.MSELoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    return step


def op_benches():
    """2x2 `a + b` (requires_grad) and 2x2 tanh, each system."""
    import torch

    a_np = np.ones((2, 2), np.float32)
    b_np = np.full((2, 2), 2, np.float32)
    a_gn, b_gn = gn.tensor(a_np, requires_grad=True), gn.tensor(b_np, requires_grad=True)
    a_t, b_t = torch.from_numpy(a_np).requires_grad_(), torch.from_numpy(b_np).requires_grad_()
    return {
        "2x2 a + b": {"numpy": lambda: a_np + b_np, "glassnet": lambda: a_gn + b_gn, "pytorch": lambda: a_t + b_t},
        "2x2 tanh": {"numpy": lambda: np.tanh(a_np), "glassnet": lambda: a_gn.tanh(), "pytorch": lambda: a_t.tanh()},
    }


def _summary(values: list) -> str:
    return f"{statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"


def main(argv=None) -> dict:
    """Run every benchmark in interleaved rounds and print medians and the ratio of each round; returns the
    median figures (µs per call for the ops, steps/s for W0) and, under "ratios", each benchmark's per-round
    ratios (glassnet/NumPy time for the ops, glassnet/PyTorch speed for W0)."""
    import torch

    torch.set_num_threads(2)
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short windows: a smoke test, not a measurement")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (each system once per round)")
    args = parser.parse_args(argv)
    window = dict(rounds=1, min_time=0.05, warmup_time=0.01) if args.quick else dict(rounds=args.rounds)
    results, ratios = {}, {}
    for name, systems in op_benches().items():
        rates = interleaved(systems, **window)
        times = {s: [1e6 / r for r in rs] for s, rs in rates.items()}  # µs per call
        results[name] = {s: statistics.median(t) for s, t in times.items()}
        ratios[name] = [g / n for g, n in zip(times["glassnet"], times["numpy"])]
    steps = {"numpy": numpy_step(), "glassnet": glassnet_step(), "pytorch": torch_step(),
             "compiled": glassnet_step(compiled=True)}
    rates = interleaved(steps, **window)
    results["W0 step"] = {s: statistics.median(r) for s, r in rates.items()}
    ratios["W0 step"] = [g / t for g, t in zip(rates["glassnet"], rates["pytorch"])]
    ratios["W0 compiled"] = [c / t for c, t in zip(rates["compiled"], rates["pytorch"])]

    rounds = len(ratios["W0 step"])
    print(f"{'benchmark':<14}{'NumPy':>12}{'glassnet':>12}{'PyTorch':>12}   ratio: median (range) of {rounds} rounds")
    for name in ("2x2 a + b", "2x2 tanh"):
        r = results[name]
        print(f"{name:<14}{r['numpy']:>10.2f}µs{r['glassnet']:>10.2f}µs{r['pytorch']:>10.2f}µs   "
              f"glassnet/NumPy overhead {_summary(ratios[name])}")
    r = results["W0 step"]
    print(f"{'W0 step':<14}{r['numpy']:>9.0f}/s {r['glassnet']:>9.0f}/s {r['pytorch']:>9.0f}/s   "
          f"glassnet/PyTorch {_summary(ratios['W0 step'])}")
    print(f"{'W0 gn.compile':<14}{'':>12}{r['compiled']:>9.0f}/s {'':>12}   "
          f"compiled/PyTorch {_summary(ratios['W0 compiled'])}")
    results["ratios"] = ratios
    return results


if __name__ == "__main__":
    main()
