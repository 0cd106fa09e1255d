"""Named training recipes for `glassnet train RECIPE`: what each trains, on what data, and whether it can run yet."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class RecipeError(ValueError):
    """A user mistake with a recipe: unknown name, not yet available, missing or malformed data."""


@dataclass(frozen=True)
class Recipe:
    """A named way to train a model: its description, default options, and what it still waits for."""

    name: str
    description: str
    train: Callable[..., dict[str, Any]] | None = None
    needs: str | None = None  # what is missing, when `train` is None
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        """Whether this recipe can run now."""
        return self.train is not None


def _load_digits_from(data: str | None, seed: int):
    from glassnet.data import load_digits
    from glassnet.tensor import Tensor

    if data is None:
        return load_digits(test_fraction=0.2, seed=seed)
    path = os.path.join(data, "digits.npz")
    if not os.path.isfile(path):
        raise RecipeError(f"mlp-digits: --data {data} has no digits.npz (arrays 'images' (N, 8, 8) and 'labels')")
    with np.load(path) as f:
        images, labels = f["images"], f["labels"]
    order = np.random.default_rng(seed).permutation(len(labels))
    x = (images[order].reshape(len(labels), -1) / 16.0).astype(np.float32)
    y = labels[order].astype(np.int64)
    n_test = int(round(len(y) * 0.2))
    return Tensor(x[n_test:]), Tensor(y[n_test:]), Tensor(x[:n_test]), Tensor(y[:n_test])


def mlp_digits_model():
    """The mlp-digits network: 64 -> 128 -> 64 -> 10, ReLU, dropout 0.1."""
    from glassnet import nn

    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 64), nn.ReLU(),
                         nn.Linear(64, 10))


def train_mlp_digits(
    epochs: int = 20,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    out: str = "runs/mlp-digits",
    data: str | None = None,
    resume: str | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train the digits MLP with Adam; save OUT/model.safetensors and OUT/checkpoint.safetensors each epoch.

    Each epoch's shuffle and dropout draw from a seed fixed by (seed, epoch), so a run resumed from a
    checkpoint continues exactly as the uninterrupted run would have.
    """
    import glassnet as gn
    import glassnet.nn.functional as F

    x_train, y_train, x_test, y_test = _load_digits_from(data, seed)
    gn.manual_seed(seed)
    model = mlp_digits_model()
    optimizer = gn.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    first_epoch = 0
    history: list[dict[str, float]] = []
    if resume is not None:
        if not os.path.isfile(resume):
            raise RecipeError(f"--resume {resume}: no such checkpoint file")
        state = gn.load(resume)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        first_epoch = int(state["epoch"])
        history = list(state.get("history", []))
        say(f"resumed from {resume} after epoch {first_epoch}")
    os.makedirs(out, exist_ok=True)
    n = len(x_train)
    start = time.perf_counter()
    for epoch in range(first_epoch, epochs):
        gn.manual_seed(seed * 100_003 + epoch)
        model.train()
        order = gn.randperm(n)
        total = correct = 0.0
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            logits = model(x_train[idx])
            loss = F.cross_entropy(logits, y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            correct += (logits.argmax(1) == y_train[idx]).float().sum().item()
        model.eval()
        with gn.no_grad():
            test_acc = (model(x_test).argmax(1) == y_test).float().mean().item()
        record = {"epoch": epoch + 1, "loss": total / n, "accuracy": correct / n, "test_accuracy": test_acc}
        history.append(record)
        say(f"epoch {epoch + 1:3d}/{epochs}   loss {total / n:.4f}   train acc {correct / n:.2%}   "
            f"test acc {test_acc:.2%}")
        gn.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
                 "history": history}, os.path.join(out, "checkpoint.safetensors"))
    model_path = os.path.join(out, "model.safetensors")
    gn.save(model.state_dict(), model_path)
    say(f"saved {model_path}   ({time.perf_counter() - start:.1f} s)")
    return {"history": history, "model_path": model_path, "model": model}


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe("mlp-digits", "MLP 64-128-64-10 on the bundled 8x8 digits (Adam, dropout)", train_mlp_digits,
               defaults={"epochs": 20, "lr": 1e-3, "batch_size": 64}),
        Recipe("lenet-mnist", "LeNet-5 on MNIST", needs="the MNIST loaders and LeNet model (issues 4 and 5)"),
        Recipe("char-lstm", "character-level LSTM writing text", needs="nn.LSTM (issue 5)"),
        Recipe("gan-ring", "GAN learning a ring of 2-D Gaussians", needs="the GAN model and 2-D toy data (issue 5)"),
        Recipe("tiny-gpt", "a tiny GPT on text", needs="attention and Transformer layers (issue 5)"),
    ]
}


def get_recipe(name: str) -> Recipe:
    """The recipe called `name`, or a RecipeError naming the known ones."""
    if name not in RECIPES:
        raise RecipeError(f"unknown recipe {name!r}; known recipes: {', '.join(RECIPES)} (see `glassnet list`)")
    return RECIPES[name]
