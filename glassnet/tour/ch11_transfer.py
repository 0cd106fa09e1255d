"""Chapter 11 of the tour: transfer learning — features learned on digits 0-4 help learn 5-9 from a few labels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.data import load_mnist_small
from glassnet.tour import figure, print_table

TITLE = "Transfer learning: reuse a trained feature extractor"
TEXT = """
Labels are expensive; features are reusable. A network's early layers learn general things (strokes, edges,
curves), and only its last layer ties them to particular classes. So we first train a small CNN on a task with
plenty of labels — MNIST digits 0 to 4 — then cut off its last layer and keep the rest as a frozen feature
extractor ("backbone", requires_grad_(False)). For a new task — digits 5 to 9, which it has never seen — we
train only a new linear head on its features, from just a few labelled images per class. For comparison, the
same network is trained from scratch on the same few images with the same number of steps, and — a control — a
new head is trained on a frozen backbone that was never trained at all: random convolutions. Comparing it with
the pretrained backbone shows how much the pretraining itself adds. Expect modest gains that vary from run to
run: digits are easy, and even random 3x3 filters give a linear head useful features.
(Images are shrunk to 14x14 to keep the chapter fast; the full experiment is examples/transfer_mnist.py.)
"""

OLD, NEW = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)


FEATURES = 16 * 3 * 3


def _backbone() -> nn.Sequential:
    """14x14 digit → 144 features: conv 8 · pool · conv 16 · pool · flatten."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 8 x 7 x 7
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 16 x 3 x 3
        nn.Flatten(),
    )


def _split(x: np.ndarray, y: np.ndarray, digits: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Images of `digits`, shrunk to 14x14 by 2x2 averaging, with labels renumbered 0..4."""
    keep = np.isin(y, digits)
    small = x[keep].reshape(-1, 1, 14, 2, 14, 2).mean(axis=(3, 5))
    return np.ascontiguousarray(small, dtype=np.float32), y[keep] - digits[0]


def _fit(model: nn.Module, params, x: np.ndarray, y: np.ndarray, steps: int, lr: float, seed: int) -> float:
    """Adam on random batches of at most 64 of (x, y); returns the final loss."""
    optimizer = gn.optim.Adam(params, lr=lr)
    rng = np.random.default_rng(seed)
    loss = None
    for _ in range(steps):
        idx = rng.choice(len(x), size=min(64, len(x)), replace=False)
        loss = F.cross_entropy(model(gn.Tensor(x[idx])), gn.Tensor(y[idx]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return float(loss.item())


def _accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with gn.no_grad():
        return float((model(gn.Tensor(x)).numpy().argmax(1) == y).mean())


def _few(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """`per_class` random indices of each class."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(len(NEW))])


def _head_accuracy(backbone: nn.Module, test_features: np.ndarray, x: np.ndarray, y: np.ndarray,
                   y_test: np.ndarray, steps: int, seed: int) -> float:
    """Train a new linear head on a frozen backbone's features of (x, y); its accuracy on the test features."""
    with gn.no_grad():
        features = backbone(gn.Tensor(x)).numpy()
    gn.manual_seed(seed)
    head = nn.Linear(FEATURES, len(NEW))
    _fit(head, head.parameters(), features, y, steps, 1e-2, seed=seed)
    return _accuracy(head, test_features, y_test)


def run(quick: bool = False, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Pretrain on digits 0-4, then learn 5-9 from a few labels: frozen features + new head vs from scratch."""
    x_train, y_train, x_test, y_test = (t.numpy() for t in load_mnist_small())
    x_old, y_old = _split(x_train, y_train, OLD)
    x_old_test, y_old_test = _split(x_test, y_test, OLD)
    x_new, y_new = _split(x_train, y_train, NEW)
    x_new_test, y_new_test = _split(x_test, y_test, NEW)
    pretrain_steps, steps = (60, 30) if quick else (200, 60)
    shots = (5,) if quick else (2, 5, 20)

    gn.manual_seed(0)
    backbone = _backbone()
    old_model = nn.Sequential(backbone, nn.Linear(FEATURES, len(OLD)))
    _fit(old_model, old_model.parameters(), x_old, y_old, pretrain_steps, 3e-3, seed=0)
    pretrain_accuracy = _accuracy(old_model, x_old_test, y_old_test)
    say(f"  pretrained on {len(x_old):,} images of digits 0-4 ({pretrain_steps} steps): "
        f"test accuracy {pretrain_accuracy:.1%} on 0-4")

    backbone.requires_grad_(False)             # frozen: the features are computed once and never change
    with gn.no_grad():
        test_features = backbone(gn.Tensor(x_new_test))
    results: dict[str, Any] = {"pretrain_accuracy": pretrain_accuracy, "steps": steps,
                               "test_images": len(x_new_test), "shots": list(shots)}
    gn.manual_seed(100)
    random_backbone = _backbone().requires_grad_(False)  # a control: the same frozen recipe, no pretraining
    with gn.no_grad():
        random_test_features = random_backbone(gn.Tensor(x_new_test)).numpy()
    rows = []
    for n in shots:
        idx = _few(y_new, n, seed=n)
        frozen = _head_accuracy(backbone, test_features.numpy(), x_new[idx], y_new[idx], y_new_test, steps, n)
        random = _head_accuracy(random_backbone, random_test_features, x_new[idx], y_new[idx], y_new_test, steps, n)
        gn.manual_seed(n)
        scratch_model = nn.Sequential(_backbone(), nn.Linear(FEATURES, len(NEW)))
        _fit(scratch_model, scratch_model.parameters(), x_new[idx], y_new[idx], steps, 3e-3, seed=n)
        scratch = _accuracy(scratch_model, x_new_test, y_new_test)
        rows.append([n, 5 * n, frozen, scratch, random])
        results[f"frozen_accuracy_{n}"] = frozen
        results[f"scratch_accuracy_{n}"] = scratch
        results[f"random_features_accuracy_{n}"] = random
    head = nn.Linear(FEATURES, len(NEW))
    trainable = sum(p.numel() for p in head.parameters())
    total = trainable + sum(p.numel() for p in backbone.parameters())
    results.update(trainable_params_frozen=trainable, params_scratch=total)
    say(f"  the frozen model trains {trainable:,} of {total:,} weights; from scratch trains all {total:,}")
    columns = ["labels per class", "training images", "pretrained frozen + new head", "from scratch",
               "random frozen + new head"]
    kinds = ["int", "int", "percent", "percent", "percent"]
    print_table(say, columns, rows, kinds)
    notes = [_explain(rows)]
    say("  " + notes[0])

    def bars():
        from glassnet.lens.plots import plot_bars

        return plot_bars([f"{r[0]} per class" for r in rows],
                         {"pretrained, frozen + new head": [r[2] for r in rows], "from scratch": [r[3] for r in rows],
                          "random frozen + new head": [r[4] for r in rows]},
                         xlabel="labelled images of each new digit", ylabel="test accuracy on 5-9", percent=True)

    return {"results": results,
            "headlines": [("pretrain_accuracy", "pretrained backbone on digits 0-4", "percent"),
                          ("trainable_params_frozen", "weights trained with a frozen backbone", "int"),
                          ("params_scratch", "weights trained from scratch", "int")],
            "tables": [{"title": f"digits 5-9 from few labels, test accuracy on {len(x_new_test):,} images",
                        "columns": columns, "rows": rows, "kinds": kinds}],
            "figures": [figure("learning new digits from a few labels", bars,
                               "test accuracy on digits 5-9, which the backbone never saw; chance is 20%")],
            "notes": notes}


def _explain(rows: list[list[Any]]) -> str:
    """What this run's table says about pretraining, in words (the result varies from run to run)."""
    wins = sum(r[2] > max(r[3], r[4]) for r in rows)
    if wins == len(rows):
        return ("The pretrained features win at every number of labels: strokes learnt on digits 0-4 serve 5-9 "
                "too, and the head has far fewer weights to fit from a few images.")
    return (f"The pretrained features win at {wins} of {len(rows)} label counts here. With so few images, which "
            "ones were drawn matters as much as the method, and random 3x3 filters followed by ReLU and pooling "
            "already give a linear head useful stroke detectors. examples/transfer_mnist.py runs the full "
            "experiment on 28x28 digits.")
