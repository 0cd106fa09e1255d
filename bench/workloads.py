"""The reference training workloads (see ../shared/bench/README.md), in glassnet and in PyTorch.

Each builder returns a `step()` that runs forward, loss, backward and an SGD update on a fixed batch.
W3 (LSTM) and W4 (GPT) arrive with the architectures issue.
"""

from __future__ import annotations

import numpy as np


def batch(workload: str, seed: int = 0):
    """Fixed-seed random data shared by both systems (the same as ../shared/bench/data.py)."""
    rng = np.random.default_rng(seed)
    if workload == "W0":
        x = rng.uniform(-1, 1, (100, 2)).astype(np.float32)
        return x, (np.sin(3 * x[:, :1]) * x[:, 1:]).astype(np.float32)
    if workload == "W1":
        return rng.standard_normal((128, 784)).astype(np.float32), rng.integers(0, 10, 128)
    if workload == "W2":
        return rng.standard_normal((64, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 64)
    raise KeyError(f"unknown workload {workload!r}; known: W0, W1, W2")


WORKLOADS = ("W0", "W1", "W2")


def build(nn, F, workload: str):
    """The model and loss of `workload`, written once for both libraries: `nn`/`F` are `glassnet.nn` and
    `glassnet.nn.functional`, or `torch.nn` and `torch.nn.functional` (the APIs are the same)."""
    if workload == "W0":
        return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1)), F.mse_loss
    if workload == "W1":
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
        return model, F.cross_entropy
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )
    return model, F.cross_entropy


def _sgd_step(model, loss_fn, optimizer, x, y):
    def step():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    return step


def glassnet_step(workload: str):
    """A training step of `workload` in glassnet."""
    import glassnet as gn
    import glassnet.nn.functional as F
    from glassnet import nn

    gn.manual_seed(0)
    x, y = (gn.tensor(a) for a in batch(workload))
    model, loss_fn = build(nn, F, workload)
    return _sgd_step(model, loss_fn, gn.optim.SGD(model.parameters(), lr=0.01), x, y)


def torch_step(workload: str):
    """The same training step in PyTorch eager (2 threads)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(2)
    torch.manual_seed(0)
    x, y = (torch.from_numpy(a) for a in batch(workload))
    model, loss_fn = build(nn, F, workload)
    return _sgd_step(model, loss_fn, torch.optim.SGD(model.parameters(), lr=0.01), x, y)
