"""Chapter 8 of the tour: overfitting a big MLP on 500 MNIST digits, and the remedies side by side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.data import load_mnist_small
from glassnet.tour import figure, print_table, progress

TITLE = "Overfitting and its remedies: L2, dropout, early stopping"
TEXT = """
A network with far more weights than training examples can memorise them: training accuracy reaches
100% while the loss on unseen data stops falling and starts to rise. That is overfitting. Remedies:
an L2 penalty (weight decay) pulls every weight toward zero so the network prefers simple functions;
dropout zeroes random hidden units during training so no unit can rely on another; early stopping
watches a validation set and keeps the weights from the epoch where validation loss was lowest.
Below, a 784-512-512-10 network (about 670,000 weights) trained on just 500 MNIST digits, four ways,
with the same initial weights and the same batches; 1,000 other digits are the validation set.
"""

N_TRAIN = 500
HIDDEN = 512


def _make(dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(784, HIDDEN), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers += [nn.Linear(HIDDEN, HIDDEN), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(HIDDEN, 10))
    return nn.Sequential(*layers)


def _evaluate(model: nn.Module, x: gn.Tensor, y: gn.Tensor) -> tuple[float, float]:
    """(loss, accuracy) in eval mode."""
    model.eval()
    with gn.no_grad():
        logits = model(x)
        loss = F.cross_entropy(logits, y).item()
        acc = (logits.argmax(1) == y).float().mean().item()
    model.train()
    return loss, acc


def run(quick: bool = False, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the big MLP four ways on 500 examples; return best validation accuracy, gap and turning epoch of each."""
    x_all, y_all, x_test, y_test = load_mnist_small(flatten=True)
    x_train, y_train = x_all[:N_TRAIN], y_all[:N_TRAIN]
    x_val, y_val = x_all[N_TRAIN : N_TRAIN + 1000], y_all[N_TRAIN : N_TRAIN + 1000]
    epochs = 12 if quick else 50
    patience = 5
    batch = 50
    variants = {
        "no regularisation": {"dropout": 0.0, "weight_decay": 0.0, "early_stop": False},
        "L2 (weight decay 1e-3)": {"dropout": 0.0, "weight_decay": 1e-3, "early_stop": False},
        "dropout 0.5": {"dropout": 0.5, "weight_decay": 0.0, "early_stop": False},
        f"early stopping (patience {patience})": {"dropout": 0.0, "weight_decay": 0.0, "early_stop": True},
    }
    keys = {"no regularisation": "none", "L2 (weight decay 1e-3)": "l2", "dropout 0.5": "dropout"}
    gn.manual_seed(8)
    orders = [gn.randperm(N_TRAIN) for _ in range(epochs)]
    rows = []
    curves: dict[str, list[float]] = {}
    results: dict[str, Any] = {"train_examples": N_TRAIN, "val_examples": len(y_val), "epochs": epochs}
    say(f"  {N_TRAIN} training digits, {len(y_val)} validation digits; up to {epochs} epochs of Adam, "
        f"batches of {batch}")
    bar = progress(None, total=len(variants) * epochs, desc="chapter 8: four ways")
    for name, cfg in variants.items():
        bar.set_postfix_str(name)
        gn.manual_seed(80)
        model = _make(cfg["dropout"])
        optimizer = gn.optim.Adam(model.parameters(), lr=1e-3, weight_decay=cfg["weight_decay"])
        best_loss, best_loss_epoch, best_acc, best_state, val_losses = float("inf"), 0, -1.0, None, []
        stopped = epochs
        for epoch in range(epochs):
            for i in range(0, N_TRAIN, batch):
                idx = orders[epoch][i : i + batch]
                loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            bar.update(1)
            val_loss, val_acc = _evaluate(model, x_val, y_val)
            val_losses.append(val_loss)
            best_acc = max(best_acc, val_acc)
            if val_loss < best_loss:
                best_loss, best_loss_epoch = val_loss, epoch + 1
                if cfg["early_stop"]:
                    best_state = {k: v.clone() for k, v in model.state_dict().items()}
            elif cfg["early_stop"] and epoch + 1 - best_loss_epoch >= patience:
                stopped = epoch + 1
                bar.update(epochs - stopped)
                break
        if best_state is not None:  # restore_best_weights: back to the epoch of lowest validation loss
            model.load_state_dict(best_state)
        _, train_acc = _evaluate(model, x_train, y_train)
        final_val_loss, final_val = _evaluate(model, x_val, y_val)
        _, test_acc = _evaluate(model, x_test, y_test)
        gap = train_acc - final_val
        turns_up = best_loss_epoch if best_loss_epoch < len(val_losses) else None
        rows.append([name, train_acc, final_val, gap, best_acc, best_loss_epoch, final_val_loss, test_acc, stopped])
        curves[name] = val_losses
        key = keys.get(name, "early_stopping")
        results[f"{key}_best_val_accuracy"] = best_acc
        results[f"{key}_final_val_accuracy"] = final_val
        results[f"{key}_train_accuracy"] = train_acc
        results[f"{key}_gap"] = gap
        results[f"{key}_val_loss_turns_up_after_epoch"] = turns_up
        results[f"{key}_test_accuracy"] = test_acc
        results[f"{key}_epochs_run"] = stopped
    bar.close()
    columns = ["variant", "train accuracy", "validation accuracy", "gap", "best validation accuracy",
               "validation loss lowest at epoch", "final validation loss", "test accuracy", "epochs run"]
    kinds = [None, "percent", "percent", "percent", "percent", "int", None, "percent", "int"]
    print_table(say, columns, rows, kinds)
    best_name = max(rows, key=lambda r: r[4])[0]
    notes = ["The gap is final training accuracy minus final validation accuracy: the overfitting. After the epoch "
             "where validation loss is lowest it turns up: the network grows more confident on digits it gets "
             "wrong. Early stopping ends training there and puts back the weights from that epoch.",
             f"Here the best validation accuracy came from: {best_name}."]
    if results["early_stopping_test_accuracy"] < results["none_test_accuracy"]:
        notes.append("Early stopping on validation *loss* scored a lower accuracy than training on: the loss rises "
                     "(over-confident mistakes) while accuracy still creeps up, so the two need not agree.")
    for note in notes:
        say(note)

    def loss_curves():
        from glassnet.lens.plots import plot_curves

        return plot_curves(curves, xlabel="epoch", ylabel="validation loss")

    def accuracies():
        from glassnet.lens.plots import plot_bars

        names = [r[0].split(" (")[0] for r in rows]
        return plot_bars(names, {"train": [r[1] for r in rows], "validation": [r[2] for r in rows],
                                 "test": [r[7] for r in rows]}, ylabel="accuracy", percent=True)

    return {
        "results": results,
        "headlines": [("none_gap", "overfitting gap without regularisation", "percent"),
                      ("early_stopping_epochs_run", "epochs before early stopping", "int")],
        "tables": [{"title": f"A big network on {N_TRAIN} examples, four ways", "columns": columns, "rows": rows,
                    "kinds": kinds}],
        "figures": [figure("validation loss by epoch", loss_curves,
                           "the loss on unseen digits falls, then turns up as the network memorises"),
                    figure("accuracy, four ways", accuracies,
                           "training accuracy near 100% everywhere; what differs is how much carries over")],
        "notes": notes,
    }
