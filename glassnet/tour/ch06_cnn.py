"""Chapter 6 of the tour: a small convolutional network on the bundled 8x8 digits, compared with an MLP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.data import load_digits
from glassnet.tour import print_table

TITLE = "A convolutional network reads digits"
TEXT = """
An MLP sees an image as a flat list of numbers: move the digit one pixel and every input changes. A
convolutional layer instead slides the same small filter (here 3x3) over the whole image, so a pattern
such as an edge or a loop is detected wherever it appears, with few weights. Pooling then keeps the
strongest response in each 2x2 patch, shrinking the image. Below, a small CNN (conv 8 filters, pool,
conv 16 filters, pool, linear) and an MLP with about as many weights, trained on the 8x8 digits with the
same optimiser and batches.
"""


def run(quick: bool = False, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the CNN and a comparable MLP; return parameter counts and test accuracies."""
    x_train, y_train, x_test, y_test = load_digits()
    images_train, images_test = x_train.reshape(-1, 1, 8, 8), x_test.reshape(-1, 1, 8, 8)
    cnn = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 8 x 4 x 4
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16 x 2 x 2
        nn.Flatten(), nn.Linear(64, 10),
    )
    mlp = nn.Sequential(nn.Linear(64, 24), nn.ReLU(), nn.Linear(24, 10))
    epochs = 2 if quick else 15
    n = len(x_train)
    orders = [gn.randperm(n) for _ in range(epochs)]
    rows = []
    results: dict[str, Any] = {"epochs": epochs}
    for name, model, xs, xt in (("CNN", cnn, images_train, images_test), ("MLP", mlp, x_train, x_test)):
        optimizer = gn.optim.Adam(model.parameters(), lr=3e-3)
        n_params = sum(p.numel() for p in model.parameters())
        for epoch in range(epochs):
            total = 0.0
            for i in range(0, n, 64):
                idx = orders[epoch][i : i + 64]
                loss = F.cross_entropy(model(xs[idx]), y_train[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(idx)
            with gn.no_grad():
                accuracy = (model(xt).argmax(1) == y_test).float().mean().item()
            say(f"  {name} epoch {epoch + 1}: train loss {total / n:.4f}   test accuracy {accuracy:.1%}")
        rows.append([name, n_params, total / n, accuracy])
        results[f"{name.lower()}_params"] = n_params
        results[f"{name.lower()}_test_accuracy"] = accuracy
    columns = ["network", "weights", "final train loss", "test accuracy"]
    print_table(say, columns, rows)
    return {"results": results,
            "tables": [{"title": f"CNN and MLP on 8x8 digits, {epochs} epochs", "columns": columns, "rows": rows}]}
