"""An MLP learns the bundled 8x8 digits: 64 → 128 → 64 → 10, ReLU, dropout, Adam, cross-entropy.

    python examples/mlp_digits.py          # ~97-98% test accuracy in a few seconds on 2 cores
"""

from __future__ import annotations

import time

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.data import load_digits


def train(epochs: int = 40, batch_size: int = 64, seed: int = 0, verbose: bool = True) -> dict:
    """Train the MLP and return the test accuracy, the final training loss and the seconds taken."""
    gn.manual_seed(seed)
    x_train, y_train, x_test, y_test = load_digits(test_fraction=0.2, seed=seed)
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(128, 64), nn.ReLU(),
        nn.Linear(64, 10),
    )
    optimizer = gn.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    start = time.perf_counter()
    n = len(x_train)
    for epoch in range(epochs):
        model.train()
        order = gn.randperm(n)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        if verbose and (epoch % 10 == 9 or epoch == 0):
            print(f"epoch {epoch + 1:3d}   train loss {total / n:.4f}")
    model.eval()
    with gn.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    seconds = time.perf_counter() - start
    if verbose:
        print(f"test accuracy {accuracy:.2%}   ({seconds:.1f} s)")
    return {"accuracy": accuracy, "train_loss": total / n, "seconds": seconds}


if __name__ == "__main__":
    train()
