"""Chapter 8 of the tour: overfitting a big MLP on 200 digits, and the remedies side by side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.data import load_digits
from glassnet.tour import line_plot_png, print_table

TITLE = "Overfitting and its remedies: L2, dropout, early stopping"
TEXT = """
A network with far more weights than training examples can memorise them: training accuracy reaches
100% while accuracy on unseen data stalls or falls. That is overfitting. Remedies: an L2 penalty
(weight decay) pulls every weight toward zero so the network prefers simple functions; dropout zeroes
random hidden units during training so no unit can rely on another; early stopping watches a
validation set and keeps the weights from the epoch where validation accuracy was best. Below, a
64-128-128-10 network (about 26,000 weights) trained on just 200 digits, four ways.
"""


def _make(dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(64, 128), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers += [nn.Linear(128, 128), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(128, 10))
    return nn.Sequential(*layers)


def _accuracy(model: nn.Module, x: gn.Tensor, y: gn.Tensor) -> float:
    model.eval()
    with gn.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    model.train()
    return acc


def run(quick: bool = False, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the big MLP four ways on 200 examples; return the best validation accuracy of each."""
    x_all, y_all, x_test, y_test = load_digits()
    x_train, y_train = x_all[:200], y_all[:200]
    x_val, y_val = x_all[200:700], y_all[200:700]
    epochs = 12 if quick else 60
    patience = 6
    variants = {
        "no regularisation": {"dropout": 0.0, "weight_decay": 0.0, "early_stop": False},
        "L2 penalty 1e-3": {"dropout": 0.0, "weight_decay": 1e-3, "early_stop": False},
        "dropout 0.5": {"dropout": 0.5, "weight_decay": 0.0, "early_stop": False},
        f"early stopping (patience {patience})": {"dropout": 0.0, "weight_decay": 0.0, "early_stop": True},
    }
    gn.manual_seed(8)
    orders = [gn.randperm(200) for _ in range(epochs)]
    rows = []
    curves: dict[str, list[float]] = {}
    results: dict[str, Any] = {"train_examples": 200, "epochs": epochs}
    for name, cfg in variants.items():
        gn.manual_seed(80)
        model = _make(cfg["dropout"])
        optimizer = gn.optim.Adam(model.parameters(), lr=1e-3)
        best, best_epoch, best_state, val_curve = -1.0, 0, None, []
        stopped = epochs
        for epoch in range(epochs):
            for i in range(0, 200, 20):
                idx = orders[epoch][i : i + 20]
                loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
                if cfg["weight_decay"]:
                    loss = loss + cfg["weight_decay"] * gn.optim.l2_penalty(model.parameters())
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            val = _accuracy(model, x_val, y_val)
            val_curve.append(val)
            if val > best:
                best, best_epoch = val, epoch + 1
                if cfg["early_stop"]:
                    best_state = {k: v.clone() for k, v in model.state_dict().items()}
            elif cfg["early_stop"] and epoch + 1 - best_epoch >= patience:
                stopped = epoch + 1
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        train_acc = _accuracy(model, x_train, y_train)
        final_val = _accuracy(model, x_val, y_val)
        test_acc = _accuracy(model, x_test, y_test)
        rows.append([name, train_acc, best, best_epoch, final_val, test_acc, stopped])
        curves[name] = val_curve
        key = name.split(" ")[0].lower().replace("(", "")
        results[f"{key}_best_val_accuracy"] = best
        results[f"{key}_test_accuracy"] = test_acc
        say(f"  {name:28s} train acc {train_acc:.1%}   best val acc {best:.1%} (epoch {best_epoch})   "
            f"test acc {test_acc:.1%}   epochs run {stopped}")
    columns = ["variant", "train acc", "best val acc", "best epoch", "final val acc", "test acc", "epochs run"]
    say("")
    print_table(say, columns, rows)
    say("the gap between training accuracy and validation accuracy is the overfitting; compare each remedy's")
    say("best validation accuracy with the unregularised network's (the digits are easy, so gaps are small).")
    figure = line_plot_png(curves, "validation accuracy by epoch", "epoch", "validation accuracy")
    return {
        "results": results,
        "tables": [{"title": "A big network on 200 examples, four ways", "columns": columns, "rows": rows}],
        "figures": [{"title": "validation accuracy by epoch", "png": figure}] if figure else [],
    }
