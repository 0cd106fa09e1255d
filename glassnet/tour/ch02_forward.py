"""Chapter 2 of the tour: forward propagation through an MLP, layer by layer, before and after training."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.data import load_digits
from glassnet.tour import figure, print_table

TITLE = "Forward propagation through layers"
TEXT = """
A multi-layer perceptron is neurons in layers: each layer computes all its weighted sums at once as a
matrix product, h = activation(x @ W + b), and hands h to the next layer. An 8x8 digit image is 64
numbers; the network below maps them 64 -> 32 -> 16 -> 10, and a softmax turns the last 10 numbers
(one per digit) into probabilities. We follow one test image through every layer, printing the shape
and a few statistics of what flows, then train the network for a moment and follow the same image again.
"""


def trace(model: nn.Sequential, x: gn.Tensor) -> list[list[Any]]:
    """Run `x` through each layer of `model`; one row per layer: name, output shape, mean, std, zeros, first values."""
    rows = []
    h = x
    with gn.no_grad():
        rows.append(["input", str(tuple(h.shape)), h.mean().item(), h.std().item(),
                     (h == 0).float().mean().item(), " ".join(f"{v:.2f}" for v in h.cpu().numpy().ravel()[:4])])
        for i, layer in enumerate(model):
            h = layer(h)
            rows.append([f"{i}: {type(layer).__name__}", str(tuple(h.shape)), h.mean().item(), h.std().item(),
                         (h == 0).float().mean().item(), " ".join(f"{v:.2f}" for v in h.cpu().numpy().ravel()[:4])])
        p = F.softmax(h, dim=-1)
        rows.append(["softmax", str(tuple(p.shape)), p.mean().item(), p.std().item(), 0.0,
                     " ".join(f"{v:.2f}" for v in p.cpu().numpy().ravel()[:4])])
    return rows


def run(quick: bool = False, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Trace one image through an untrained and a trained MLP; return the accuracy and the traces."""
    x_train, y_train, x_test, y_test = load_digits()
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 10))
    sample, label = x_test[:1], int(y_test[0].item())
    columns = ["layer", "shape", "mean", "std", "share of zeros", "first values"]
    kinds = [None, None, None, None, "percent", None]

    def show(when: str) -> tuple[list[list[Any]], int, float]:
        rows = trace(model, sample)
        with gn.no_grad():
            probs = F.softmax(model(sample), dim=-1)[0]
        pred = int(probs.argmax().item())
        say(f"{when}: one test image (true digit {label}) through the layers")
        print_table(say, columns, rows, kinds)
        say(f"  predicted digit {pred} with probability {probs[pred].item():.2f}; "
            f"probability of the true digit {probs[label].item():.2f}")
        return rows, pred, probs[label].item()

    rows_before, pred_before, p_before = show("untrained")
    optimizer = gn.optim.Adam(model.parameters(), lr=3e-3)
    epochs = 3 if quick else 10
    n = len(x_train)
    for _ in range(epochs):
        order = gn.randperm(n)
        for i in range(0, n, 64):
            idx = order[i : i + 64]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with gn.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    say(f"\ntrained {epochs} epochs with Adam: test accuracy {accuracy:.1%}\n")
    rows_after, pred_after, p_after = show("trained")
    from glassnet.lens.plots import plot_layer_outputs

    return {
        "results": {"test_accuracy": accuracy, "true_digit": label, "predicted_before": pred_before,
                    "p_true_before": p_before, "predicted_after": pred_after, "p_true_after": p_after},
        "headlines": [("test_accuracy", f"test accuracy after {epochs} epochs", "percent"),
                      ("p_true_before", f"probability of the true digit ({label}), untrained", "percent"),
                      ("p_true_after", "the same, trained", "percent")],
        "tables": [{"title": "One image through the untrained network", "columns": columns, "rows": rows_before,
                    "kinds": kinds},
                   {"title": "The same image through the trained network", "columns": columns, "rows": rows_after,
                    "kinds": kinds}],
        "figures": [figure("the forward pass, with values", lambda: plot_layer_outputs(model, sample),
                           f"one test image (a {label}) through the trained network: every number each layer "
                           "hands on, red positive, blue negative; ReLU zeroes the negatives")],
    }
