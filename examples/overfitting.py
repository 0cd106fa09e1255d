"""Overfitting and its remedies: a large MLP on only 1,000 MNIST training images, four ways side by side.

    python examples/overfitting.py                       # the table: none vs L2 vs dropout vs early stopping

With so few examples a 784-1024-1024-10 MLP (1.9M parameters) memorises the training set: training loss keeps
falling while validation loss turns and rises — the train/validation gap opens at the epoch of the lowest validation
loss. L2 (a penalty λ·Σw² on the weights) and dropout (p=0.5 on the hidden layers) restrain it; early stopping
watches the validation loss, stops after `patience` epochs without improvement and restores the best weights.
Validation is 2,000 held-out images from the end of the MNIST training file (never trained on).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.recipes import default_data_dir, epoch_order, load_mnist_arrays
from glassnet.tensor import Tensor

REMEDIES = ("none", "l2", "dropout", "early stopping")


def large_mlp(dropout: float = 0.0) -> nn.Module:
    """784 → 1024 → 1024 → 10 with ReLU (and dropout on both hidden layers when dropout > 0)."""
    return nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(1024, 1024), nn.ReLU(), nn.Dropout(dropout), nn.Linear(1024, 10))


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the model in eval mode."""
    model.eval()
    with gn.no_grad():
        logits = model(Tensor(x))
        loss = F.cross_entropy(logits, Tensor(y)).item()
    model.train()
    return loss, float((logits.numpy().argmax(1) == y).mean())


def train_one(remedy: str, data: tuple, epochs: int, seed: int, l2: float = 1e-3, dropout: float = 0.5,
              patience: int = 5, lr: float = 1e-3, batch_size: int = 100) -> dict:
    """Train one configuration; return its per-epoch history and the figures for the table."""
    x_train, y_train, x_valid, y_valid = data
    gn.manual_seed(seed)                               # every configuration starts from the same weights
    model = large_mlp(dropout if remedy == "dropout" else 0.0)
    optimizer = gn.optim.Adam(model.parameters(), lr=lr)
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    history, best_loss, best_state, waited = [], np.inf, None, 0
    for epoch in range(epochs):
        gn.manual_seed(seed * 1000 + epoch)
        order = epoch_order(seed, epoch, len(x_train))
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(model(Tensor(x_train[idx])), Tensor(y_train[idx]))
            if remedy == "l2":
                loss = loss + l2 * gn.optim.l2_penalty(weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        (train_loss, train_acc), (valid_loss, valid_acc) = evaluate(model, x_train, y_train), evaluate(
            model, x_valid, y_valid)
        history.append({"epoch": epoch + 1, "train_loss": train_loss, "train_acc": train_acc,
                        "valid_loss": valid_loss, "valid_acc": valid_acc})
        if valid_loss < best_loss:
            best_loss, waited = valid_loss, 0
            best_state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
        else:
            waited += 1
        if remedy == "early stopping" and waited >= patience:
            model.load_state_dict({k: Tensor(v) for k, v in best_state.items()})   # restore the best weights
            break
    return summarise(remedy, history, model, data)


def summarise(remedy: str, history: list[dict], model: nn.Module, data: tuple) -> dict:
    """The table's row: best validation accuracy, the epoch the gap opens, and the figures at the end."""
    gap_epoch = min(history, key=lambda h: h["valid_loss"])["epoch"]   # after it validation loss only rises
    _, final_valid_acc = evaluate(model, data[2], data[3])
    last = history[-1]
    return {"remedy": remedy, "epochs": len(history), "best_valid_acc": max(h["valid_acc"] for h in history),
            "best_epoch": max(history, key=lambda h: h["valid_acc"])["epoch"], "gap_epoch": gap_epoch,
            "final_train_acc": last["train_acc"], "final_valid_acc": final_valid_acc,
            "final_gap": last["valid_loss"] - last["train_loss"], "history": history}


def load(data_dir: str | None, n_train: int = 1000, n_valid: int = 2000) -> tuple:
    """The first n_train MNIST training images, and n_valid held out from the end of the training file."""
    x, y, _, _ = load_mnist_arrays(data_dir, "overfitting")
    x = x.reshape(len(x), -1)
    return x[:n_train], y[:n_train], x[-n_valid:], y[-n_valid:]


def table(rows: list[dict]) -> str:
    """The results as a Markdown table."""
    lines = ["| remedy | best valid acc (epoch) | gap opens at epoch | epochs run | final train acc | final valid acc "
             "|", "|---|---|---|---|---|---|"]
    lines += [f"| {r['remedy']} | {r['best_valid_acc']:.2%} ({r['best_epoch']}) | {r['gap_epoch']} | {r['epochs']} | "
              f"{r['final_train_acc']:.2%} | {r['final_valid_acc']:.2%} |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=default_data_dir(), help="directory holding the MNIST IDX(.gz) files")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--train-images", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = load(args.data, args.train_images)
    rows, start = [], time.perf_counter()
    for remedy in REMEDIES:
        row = train_one(remedy, data, args.epochs, args.seed)
        rows.append(row)
        print(f"{remedy:15s} best valid acc {row['best_valid_acc']:.2%} at epoch {row['best_epoch']}, gap opens at "
              f"epoch {row['gap_epoch']}, {row['epochs']} epochs   ({time.perf_counter() - start:.0f} s)", flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
