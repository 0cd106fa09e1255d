"""Chapter 5 of the tour: gradient descent variants — SGD, SGD with momentum and Adam on the same problem."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.data import load_digits
from glassnet.tour import figure, print_table

TITLE = "Gradient descent and its variants: SGD, momentum, Adam"
TEXT = """
Gradient descent moves every weight a small step against its gradient: w <- w - lr * dL/dw. Computed on a
small random batch instead of all the data, this is stochastic gradient descent (SGD). Momentum keeps a
running velocity of past gradients, so steps along a consistent direction build up speed and zig-zags
cancel. Adam also keeps a running average of squared gradients and divides by its square root, giving
each weight its own step size. Below, the same digits network from the same start, fed the same batches,
trained by each optimiser for the same number of steps.
"""

OPTIMIZERS: dict[str, Callable[[Any], gn.optim.Optimizer]] = {
    "SGD lr=0.05": lambda p: gn.optim.SGD(p, lr=0.05),
    "SGD+momentum lr=0.05 m=0.9": lambda p: gn.optim.SGD(p, lr=0.05, momentum=0.9),
    "Adam lr=0.001": lambda p: gn.optim.Adam(p, lr=1e-3),
}


def run(quick: bool = False, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Train one MLP three times, once per optimiser; return the loss and accuracy each reached."""
    x_train, y_train, x_test, y_test = load_digits()
    gn.manual_seed(5)
    start = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).state_dict()
    steps = 150 if quick else 600
    batches = gn.randint(0, len(x_train), (steps, 32))
    rows = []
    curves: dict[str, tuple[list[int], list[float]]] = {}
    results: dict[str, Any] = {"steps": steps}
    for name, make in OPTIMIZERS.items():
        model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
        model.load_state_dict(start)
        optimizer = make(model.parameters())
        losses = []
        for step in range(steps):
            idx = batches[step]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        window = max(1, steps // 10)
        curve = [sum(losses[i : i + window]) / len(losses[i : i + window]) for i in range(0, steps, window)]
        with gn.no_grad():
            accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
        final = sum(losses[-window:]) / window
        rows.append([name, losses[0], curve[len(curve) // 2], final, accuracy])
        curves[name] = ([min(i + window, steps) for i in range(0, steps, window)], curve)
        key = name.split(" ")[0].lower().replace("+", "_")
        results[f"{key}_final_loss"] = final
        results[f"{key}_test_accuracy"] = accuracy
    columns = ["optimiser", "first loss", "loss halfway", f"loss at the end (mean of last {window})",
               "test accuracy"]
    kinds = [None, None, None, None, "percent"]
    print_table(say, columns, rows, kinds)

    def loss_curves():
        from glassnet.lens.plots import plot_curves

        return plot_curves(curves, xlabel="training step", ylabel=f"loss (mean over {window} steps)", log=True)

    def paths():
        from glassnet.lens.plots import plot_optimizer_paths

        return plot_optimizer_paths(steps=150 if quick else 300)

    return {
        "results": results,
        "headlines": [("sgd_test_accuracy", "test accuracy, SGD", "percent"),
                      ("sgd_momentum_test_accuracy", "test accuracy, SGD with momentum", "percent"),
                      ("adam_test_accuracy", "test accuracy, Adam", "percent")],
        "tables": [{"title": f"Three optimisers, same network, same start, same {steps} batches",
                    "columns": columns, "rows": rows, "kinds": kinds}],
        "figures": [figure("training loss by optimiser", loss_curves, "the digits network, same batches"),
                    figure("the same optimisers in a curved valley", paths,
                           "each path from the same start, for the same number of steps, on the Rosenbrock "
                           "function (a narrow curved valley, minimum at (1, 1)); the legend gives each final loss")],
    }
