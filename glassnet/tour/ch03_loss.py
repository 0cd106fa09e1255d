"""Chapter 3 of the tour: loss — mean squared error against cross-entropy, on the same predictions and in training."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.data import load_digits
from glassnet.tour import figure, print_table

TITLE = "Loss: how wrong is the network?"
TEXT = """
A loss turns "how wrong" into one number that training can push down. Mean squared error (MSE)
averages the squared differences between the predicted probabilities and the one-hot target.
Cross-entropy is -log(probability given to the right answer): it grows without bound as a confident
prediction gets it wrong, so wrong-and-sure is punished far harder than by MSE, whose penalty is at
most 2 per example. Below, both losses on the same predictions of a 3-class problem; then the same
digits network trained once with each loss, same start, same batches.
"""


def run(quick: bool = False, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Compare MSE and cross-entropy on fixed predictions, then train with each; return the numbers."""
    cases = [
        ("sure and right", [4.0, 0.0, 0.0]),
        ("leaning right", [1.0, 0.0, 0.0]),
        ("undecided", [0.0, 0.0, 0.0]),
        ("leaning wrong", [0.0, 1.0, 0.0]),
        ("sure and wrong", [0.0, 4.0, 0.0]),
    ]
    target = gn.tensor([0])
    onehot = gn.tensor([[1.0, 0.0, 0.0]])
    rows = []
    for name, logits in cases:
        z = gn.tensor([logits])
        p = F.softmax(z, dim=-1)
        mse = ((p - onehot) ** 2).sum().item()
        ce = F.cross_entropy(z, target).item()
        rows.append([name, " ".join(f"{v:.2f}" for v in p.cpu().numpy()[0]), mse, ce])
    columns = ["prediction (true class 0)", "probabilities", "squared error", "cross-entropy"]
    print_table(say, columns, rows)

    x_train, y_train, x_test, y_test = load_digits()
    gn.manual_seed(3)
    start = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10)).state_dict()
    steps = 150 if quick else 500
    order = gn.randint(0, len(x_train), (steps, 32))
    eye = gn.eye(10)
    checkpoints = [20, 60, steps]
    every = max(1, steps // 15)
    curves: dict[str, tuple[list[int], list[float]]] = {}
    train_rows = []
    results: dict[str, Any] = {}
    for loss_name in ("mse", "cross_entropy"):
        model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
        model.load_state_dict(start)
        optimizer = gn.optim.SGD(model.parameters(), lr=0.2)
        accuracies = []
        curve: tuple[list[int], list[float]] = ([], [])
        for step in range(steps):
            idx = order[step]
            out = model(x_train[idx])
            if loss_name == "mse":
                loss = ((F.softmax(out, dim=-1) - eye[y_train[idx]]) ** 2).sum(1).mean()
            else:
                loss = F.cross_entropy(out, y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step + 1 in checkpoints or (step + 1) % every == 0:
                with gn.no_grad():
                    acc = (model(x_test).argmax(1) == y_test).float().mean().item()
                curve[0].append(step + 1)
                curve[1].append(acc)
                if step + 1 in checkpoints:
                    accuracies.append(acc)
        curves["squared error" if loss_name == "mse" else "cross-entropy"] = curve
        accuracy = accuracies[-1]
        train_rows.append(["squared error" if loss_name == "mse" else "cross-entropy", *accuracies])
        results[f"accuracy_{loss_name}"] = accuracy
    say(f"\nthe same 64-32-10 network, same start and batches, plain SGD lr 0.2, {steps} steps:")
    train_columns = ["loss"] + [f"test accuracy after {c} steps" for c in checkpoints]
    train_kinds = [None] + ["percent"] * len(checkpoints)
    print_table(say, train_columns, train_rows, train_kinds)
    why = ("Cross-entropy's gradient, p - target, stays large while the answer is wrong; squared error's gradient "
           "passes through the softmax's slope and fades when the softmax saturates, so cross-entropy tends to move "
           "first.")
    say(why)
    results.update({"ce_sure_and_wrong": rows[-1][3], "mse_sure_and_wrong": rows[-1][2]})
    return {
        "results": results,
        "headlines": [("accuracy_cross_entropy", f"test accuracy after {steps} steps, cross-entropy", "percent"),
                      ("accuracy_mse", f"test accuracy after {steps} steps, squared error", "percent"),
                      ("ce_sure_and_wrong", "cross-entropy when sure and wrong", None),
                      ("mse_sure_and_wrong", "squared error when sure and wrong", None)],
        "tables": [{"title": "Two losses on the same predictions", "columns": columns, "rows": rows},
                   {"title": "Training with each loss", "columns": train_columns, "rows": train_rows,
                    "kinds": train_kinds}],
        "figures": [figure("the penalty for each probability", _penalties_figure,
                           "what each loss charges when the network gives the true class probability p (the rest "
                           "split evenly between two other classes)"),
                    figure("test accuracy while training", lambda: _accuracy_figure(curves),
                           "the same network, start and batches; only the loss differs")],
        "notes": [why],
    }


def _penalties_figure():
    import numpy as np

    from glassnet.lens.plots import plot_curves

    p = np.linspace(0.01, 1.0, 100)
    squared = (1 - p) ** 2 + 2 * ((1 - p) / 2) ** 2
    return plot_curves({"cross-entropy  -log p": (p, -np.log(p)), "squared error": (p, squared)},
                       xlabel="probability given to the true class", ylabel="loss")


def _accuracy_figure(curves: dict[str, tuple[list[int], list[float]]]):
    from glassnet.lens.plots import plot_curves

    return plot_curves(curves, xlabel="training step", ylabel="test accuracy", percent=True)
