"""lenet-mnist: LeNet-5 learns MNIST with Adam and a cosine decay (99.10% on the full set in 12 epochs, README;
examples/lenet_mnist_torch.py trains the same in PyTorch)."""

from __future__ import annotations

from pathlib import Path

from glassnet.models.lenet import LeNet5
from glassnet.recipes.classifier import train_mnist_classifier
from glassnet.recipes.common import Recipe, RecipeConfig

NAME = "lenet-mnist"
DEFAULTS = {"epochs": 12, "lr": 1.5e-3, "batch_size": 128, "limit": None}


def run(config: RecipeConfig) -> Path:
    """Train; `limit` (an option) keeps only the first N training and test images."""
    return train_mnist_classifier(NAME, LeNet5, False, config, RECIPE.resolve(config))


RECIPE = Recipe(NAME, "LeNet-5 on MNIST (Adam, cosine lr)", run, DEFAULTS)
