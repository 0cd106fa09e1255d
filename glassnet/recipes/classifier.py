"""The training the MNIST classifier recipes share: Adam with a cosine decay over the epochs, cross-entropy, each
epoch's batch order `epoch_order(seed, epoch)` (which examples/lenet_mnist_torch.py replays in PyTorch), accuracy on
the test set after every epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from glassnet import nn, optim
from glassnet.data import DataLoader, TensorDataset
from glassnet.random import manual_seed
from glassnet.recipes.common import (
    EpochOrderSampler,
    RecipeConfig,
    ReseedEachEpoch,
    SetEpoch,
    count_parameters,
    finish,
    fit,
    load_mnist_arrays,
    mnist_note,
    open_run,
    progress,
)
from glassnet.tensor import Tensor
from glassnet.train import Trainer


def train_mnist_classifier(
    name: str, build: Callable[[], nn.Module], flatten: bool, config: RecipeConfig, o: dict[str, Any]
) -> Path:
    """Train `build()` on MNIST (bundled subset, or the IDX files in config.data); return the run folder."""
    x_train, y_train, x_test, y_test = load_mnist_arrays(config.data, name)
    note = mnist_note(config.data, len(x_train), len(x_test))
    if o.get("limit") is not None:
        n = o["limit"]
        x_train, y_train, x_test, y_test = x_train[:n], y_train[:n], x_test[:n], y_test[:n]
        note += f"; limit={n}: the first {len(x_train):,} training and {len(x_test):,} test images"
    config.say(f"{name}: {note}")
    if flatten:
        x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    manual_seed(o["seed"])
    model = build()
    optimizer = optim.Adam(model.parameters(), lr=o["lr"])
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=o["epochs"])
    order = EpochOrderSampler(len(x_train), o["seed"])
    loader = DataLoader(TensorDataset(Tensor(x_train), Tensor(y_train)), batch_size=o["batch_size"], sampler=order)
    test = DataLoader(TensorDataset(Tensor(x_test), Tensor(y_test)), batch_size=1000)
    run_dir = open_run(config, name)
    trainer = Trainer(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        metrics=["accuracy"],
        scheduler=scheduler,
        callbacks=[SetEpoch(order), ReseedEachEpoch(o["seed"]), *progress()],
        run_dir=run_dir,
        config={"recipe": name, "data": note, **o},
    )
    config.say(
        f"{name}: {count_parameters(model):,} parameters; epochs={o['epochs']} lr={o['lr']} "
        f"batch_size={o['batch_size']} (Adam, cosine decay); run folder {run_dir.path}"
    )
    history = fit(trainer, loader, o["epochs"], config, name, val_loader=test)
    accuracy = history["val_accuracy"][-1]
    config.say(f"{name}: test accuracy {accuracy:.2%} after {len(history)} epoch{'s' * (len(history) != 1)}")
    return finish(
        run_dir,
        model,
        {
            "recipe": name,
            "epochs": len(history),
            "test_accuracy": accuracy,
            "test_loss": history["val_loss"][-1],
            "train_seconds": sum(history["time"]),
        },
        config.say,
    )
