"""Chapter 1 of the tour: one neuron — a weighted sum, a bias, an activation — and a logistic neuron trained."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import glassnet as gn
import glassnet.nn.functional as F
from glassnet.tour import figure, print_table

TITLE = "A neuron: weighted sum, bias, activation"
TEXT = """
A neuron multiplies each input by a weight, adds the products and a bias, z = w·x + b, and passes z
through an activation function. Sigmoid squashes z into (0, 1), tanh into (-1, 1), and ReLU keeps
positive z and zeroes the rest. Below, one neuron's outputs for a few inputs under each activation;
then a single sigmoid neuron (logistic regression) learns to separate two classes of 2-D points by
gradient descent on the cross-entropy, and we print the weights it found and its accuracy.
"""


def separable_points(n: int = 200, seed: int = 0) -> tuple[gn.Tensor, gn.Tensor]:
    """`n` points uniform in [-1, 1]² labelled 1 where x₁ + 2·x₂ > 0.3: a linearly separable problem."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    y = (x[:, 0] + 2 * x[:, 1] > 0.3).astype(np.float32)
    return gn.tensor(x), gn.tensor(y)


def run(quick: bool = False, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Compare sigmoid/tanh/ReLU on one neuron, then train a logistic neuron; return its numbers."""
    w = gn.tensor([0.8, -0.5])
    b = gn.tensor(0.1)
    inputs = [[1.0, 1.0], [0.5, -1.0], [-1.0, 0.5], [-2.0, -1.0]]
    rows = []
    for xi in inputs:
        z = (gn.tensor(xi) * w).sum() + b
        rows.append([str(xi), z.item(), z.sigmoid().item(), z.tanh().item(), z.relu().item()])
    say("one neuron with w = [0.8, -0.5], b = 0.1:")
    columns = ["input x", "z = w·x + b", "sigmoid(z)", "tanh(z)", "relu(z)"]
    print_table(say, columns, rows)

    x, y = separable_points()
    weight = gn.zeros(2, requires_grad=True)
    bias = gn.zeros(1, requires_grad=True)
    steps = 150 if quick else 400
    lr = 2.0
    say(f"\ntraining one sigmoid neuron on 200 separable points (true boundary x1 + 2 x2 = 0.3), {steps} steps:")
    for step in range(steps):
        logits = x @ weight + bias
        loss = F.binary_cross_entropy_with_logits(logits, y)
        weight.grad = bias.grad = None
        loss.backward()
        with gn.no_grad():
            weight.data -= lr * weight.grad.data
            bias.data -= lr * bias.grad.data
        if step in (0, steps // 4, steps // 2, 3 * steps // 4, steps - 1):
            say(f"  step {step:4d}   loss {loss.item():.4f}")
    with gn.no_grad():
        accuracy = (((x @ weight + bias) > 0).float() == y).float().mean().item()
    w1, w2 = (float(v) for v in weight.data)
    b0 = float(bias.data[0])
    say(f"learned w = [{w1:.3f}, {w2:.3f}], b = {b0:.3f};  w2/w1 = {w2 / w1:.2f} (true ratio 2.00), "
        f"-b/w1 = {-b0 / w1:.2f} (true 0.30);  accuracy {accuracy:.1%}")
    figures = [
        figure("three activations", lambda: _activations_figure(), "what the neuron passes on for each weighted sum z"),
        figure("the trained neuron's decision line", lambda: _boundary_figure(weight, bias, x, y),
               "one neuron draws one straight line: the points where w·x + b = 0"),
    ]
    return {
        "results": {"final_loss": loss.item(), "accuracy": accuracy, "w1": w1, "w2": w2, "bias": b0,
                    "w2_over_w1": w2 / w1},
        "headlines": [("accuracy", "accuracy of the trained neuron", "percent"),
                      ("w2_over_w1", "learned w₂ / w₁ (the true boundary has 2)", None),
                      ("final_loss", "final cross-entropy", None)],
        "tables": [{"title": "One neuron, three activations", "columns": columns, "rows": rows}],
        "figures": figures,
    }


def _activations_figure():
    from glassnet.lens.plots import plot_curves

    z = np.linspace(-4, 4, 81)
    t = gn.tensor(z)
    return plot_curves({"sigmoid": (z, t.sigmoid().cpu().numpy()), "tanh": (z, t.tanh().cpu().numpy()),
                        "ReLU": (z, t.relu().cpu().numpy())}, xlabel="z = w·x + b", ylabel="activation")


def _boundary_figure(weight: gn.Tensor, bias: gn.Tensor, x: gn.Tensor, y: gn.Tensor):
    from glassnet.lens.plots import plot_decision_boundary

    return plot_decision_boundary(lambda points: points @ weight + bias, x, y, resolution=120)
