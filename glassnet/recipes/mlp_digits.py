"""mlp-digits: an MLP 64-128-64-10 (ReLU, dropout 0.1) learns the bundled 8x8 digits with Adam (weight decay 1e-4).

The 1,797 digits ship with glassnet (80% train, 20% test, shuffled by the seed); `--data DIR` reads DIR/digits.npz
(arrays 'images' (N, 8, 8) with values 0..16 and 'labels') instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from glassnet import nn, optim
from glassnet.data import DataLoader, TensorDataset, load_digits
from glassnet.random import manual_seed
from glassnet.recipes.common import (
    Recipe,
    RecipeConfig,
    RecipeError,
    ReseedEachEpoch,
    count_parameters,
    finish,
    fit,
    open_run,
    progress,
)
from glassnet.tensor import Tensor
from glassnet.train import Trainer

NAME = "mlp-digits"
DEFAULTS = {"epochs": 20, "lr": 1e-3, "batch_size": 64}


def model() -> nn.Module:
    """The mlp-digits network: 64 -> 128 -> 64 -> 10, ReLU, dropout 0.1."""
    return nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )


def load(data: str | os.PathLike | None, seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor, str]:
    """(x_train, y_train, x_test, y_test, note): the bundled digits, or DIR/digits.npz (never unpickled)."""
    if data is None:
        x_train, y_train, x_test, y_test = load_digits(test_fraction=0.2, seed=seed)
        n = len(y_train) + len(y_test)
        return x_train, y_train, x_test, y_test, f"using the bundled {n:,} 8x8 digits (the whole UCI set)"
    path = Path(data) / "digits.npz"
    if not path.is_file():
        raise RecipeError(f"{NAME}: --data {data} has no digits.npz (arrays 'images' (N, 8, 8) and 'labels')")
    try:
        with np.load(path, allow_pickle=False) as f:  # a user-given file: never unpickle
            images, labels = f["images"], f["labels"]
    except (ValueError, KeyError, OSError) as e:  # object (pickled) arrays, missing names, not an npz
        raise RecipeError(f"{NAME}: {path} is not a plain-array digits.npz with 'images' and 'labels': {e}") from None
    order = np.random.default_rng(seed).permutation(len(labels))
    x = (images[order].reshape(len(labels), -1) / 16.0).astype(np.float32)
    y = labels[order].astype(np.int64)
    n_test = int(round(len(y) * 0.2))
    note = f"using {path} ({len(y):,} images)"
    return Tensor(x[n_test:]), Tensor(y[n_test:]), Tensor(x[:n_test]), Tensor(y[:n_test]), note


def run(config: RecipeConfig) -> Path:
    """Train; the run folder gets the Trainer's files, model.safetensors and results.json (test accuracy)."""
    o = RECIPE.resolve(config)
    x_train, y_train, x_test, y_test, note = load(config.data, o["seed"])
    config.say(f"{NAME}: {note}")
    manual_seed(o["seed"])
    net = model()
    optimizer = optim.Adam(net.parameters(), lr=o["lr"], weight_decay=1e-4)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=o["batch_size"], shuffle=True)
    test = DataLoader(TensorDataset(x_test, y_test), batch_size=len(y_test))
    run_dir = open_run(config, NAME)
    trainer = Trainer(
        net,
        nn.CrossEntropyLoss(),
        optimizer,
        metrics=["accuracy"],
        callbacks=[ReseedEachEpoch(o["seed"]), *progress()],
        run_dir=run_dir,
        config={"recipe": NAME, "data": note, **o},
    )
    config.say(
        f"{NAME}: {count_parameters(net):,} parameters, {len(y_train):,} training and {len(y_test):,} test "
        f"images; epochs={o['epochs']} lr={o['lr']} batch_size={o['batch_size']}; run folder {run_dir.path}"
    )
    history = fit(trainer, loader, o["epochs"], config, NAME, val_loader=test)
    accuracy = history["val_accuracy"][-1]
    config.say(f"{NAME}: test accuracy {accuracy:.2%} after {len(history)} epoch{'s' * (len(history) != 1)}")
    return finish(
        run_dir,
        net,
        {
            "recipe": NAME,
            "epochs": len(history),
            "test_accuracy": accuracy,
            "test_loss": history["val_loss"][-1],
            "train_seconds": sum(history["time"]),
        },
        config.say,
    )


RECIPE = Recipe(NAME, "MLP 64-128-64-10 on the bundled 8x8 digits (Adam, dropout)", run, DEFAULTS)
