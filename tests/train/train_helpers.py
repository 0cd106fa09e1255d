"""Helpers for the training tests: a shuffling loader, toy blobs, a small MLP (a unique module name on sys.path)."""

import numpy as np

import glassnet as gn
from glassnet import nn


class ShuffleLoader:
    """Yields (x, y) batches; with shuffle=True the order is drawn from gn's default generator every epoch."""

    def __init__(self, x, y, batch_size=16, shuffle=False):
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle

    def __len__(self):
        return (self.x.shape[0] + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n = self.x.shape[0]
        order = gn.randperm(n).numpy() if self.shuffle else np.arange(n)
        for i in range(0, n, self.batch_size):
            idx = order[i : i + self.batch_size]
            yield gn.tensor(self.x.numpy()[idx]), gn.tensor(self.y.numpy()[idx])


def blobs(n=96, classes=3, dim=4, seed=0):
    """Well-separated Gaussian blobs: float32 inputs (n, dim), int64 labels (n,)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(classes, dim))
    y = rng.integers(0, classes, size=n)
    x = centres[y] + rng.normal(0, 0.5, size=(n, dim))
    return gn.tensor(x.astype(np.float32)), gn.tensor(y.astype(np.int64))


def mlp(dim=4, classes=3, hidden=16, p=0.0):
    layers = [nn.Linear(dim, hidden), nn.ReLU()]
    if p:
        layers.append(nn.Dropout(p))
    layers.append(nn.Linear(hidden, classes))
    return nn.Sequential(*layers)
