"""Chapter 12 of the tour: why did it predict that? Saliency and Grad-CAM maps of a small CNN reading digits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.data import load_mnist_small
from glassnet.lens.attribution import grad_cam, saliency
from glassnet.tour import figure, print_table

TITLE = "Why did it predict that? A saliency map"
TEXT = """
A trained network gives an answer but no reason. A saliency map asks the network itself: if this pixel were a
little brighter, how much would the score of the predicted class change? That is the gradient of the score with
respect to the input — the same backpropagation as in training, carried one step further, down to the pixels.
Grad-CAM asks the same question of the last convolutional layer: it weights each feature map by how much the
score depends on it and adds them up, giving a coarser but steadier map. Below, a small CNN learns MNIST digits
(shrunk to 14x14); we then measure whether its maps point at the ink of the digit rather than the empty
background, and check them by deleting pixels: removing the most salient pixels should hurt the prediction far
more than removing as many random ones. Expect Grad-CAM to light up empty places too: for a digit, where ink
is missing is evidence (the open left side is what makes a 3 not an 8).
"""

CAM_LAYER = "4"  # the ReLU after the second convolution: 16 feature maps of 7x7


def _model() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 8 x 7 x 7
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 16 x 3 x 3
        nn.Flatten(), nn.Linear(16 * 3 * 3, 10),
    )


def _shrink(x: np.ndarray) -> np.ndarray:
    """28x28 digits → 14x14 by 2x2 averaging (fast enough to train in seconds)."""
    return np.ascontiguousarray(x.reshape(-1, 1, 14, 2, 14, 2).mean(axis=(3, 5)), dtype=np.float32)


def _train(model: nn.Module, x: np.ndarray, y: np.ndarray, steps: int) -> None:
    optimizer = gn.optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        idx = rng.choice(len(x), size=64, replace=False)
        loss = F.cross_entropy(model(gn.Tensor(x[idx])), gn.Tensor(y[idx]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _dilate(mask: np.ndarray) -> np.ndarray:
    """Grow each (N, H, W) mask by one pixel in all 8 directions: the digit's strokes plus their edges."""
    padded = np.pad(mask, ((0, 0), (1, 1), (1, 1)))
    h, w = mask.shape[1:]
    return np.logical_or.reduce([padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3)])


def _inside_share(maps: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """Per image, the share of the map's total that falls on the digit's ink pixels."""
    total = maps.reshape(len(maps), -1).sum(1)
    return (maps * ink).reshape(len(maps), -1).sum(1) / np.where(total > 0, total, 1)


def _deletion(model: nn.Module, x: np.ndarray, maps: np.ndarray, classes: np.ndarray, fraction: float,
              rng: np.random.Generator) -> tuple[float, float, float]:
    """Mean probability of each image's predicted class: intact, with its `fraction` most salient pixels set to 0,
    and with as many random pixels set to 0."""
    n, pixels = len(x), x[0].size
    k = max(1, int(round(fraction * pixels)))
    flat = x.reshape(n, pixels)
    top = np.argsort(-maps.reshape(n, pixels), axis=1)[:, :k]
    random = np.stack([rng.choice(pixels, k, replace=False) for _ in range(n)])
    probs = []
    for drop in (None, top, random):
        edited = flat.copy()
        if drop is not None:
            np.put_along_axis(edited, drop, 0.0, axis=1)
        with gn.no_grad():
            p = model(gn.Tensor(edited.reshape(x.shape))).softmax(dim=1).numpy()
        probs.append(float(p[np.arange(n), classes].mean()))
    return probs[0], probs[1], probs[2]


def _attribution_figure(image: np.ndarray, attribution: np.ndarray, title: str):
    """The image, the map and the overlay."""
    from glassnet.lens.plots import plot_attribution

    return plot_attribution(image, attribution, title=title)


def run(quick: bool = False, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Train a small CNN on digits, explain its predictions with saliency and Grad-CAM, and measure the maps."""
    x_train, y_train, x_test, y_test = (t.numpy() for t in load_mnist_small())
    x_train, x_test = _shrink(x_train), _shrink(x_test)
    steps, explained = (60, 100) if quick else (300, 500)
    gn.manual_seed(12)
    model = _model()
    _train(model, x_train, y_train, steps)
    model.eval()
    with gn.no_grad():
        predicted = model(gn.Tensor(x_test)).numpy().argmax(1)
    accuracy = float((predicted == y_test).mean())
    say(f"  CNN trained for {steps} steps on {len(x_train)} digits (14x14): test accuracy {accuracy:.1%}")

    x, classes = x_test[:explained], predicted[:explained]
    ink = _dilate(x[:, 0] > 0.25)                             # the digit's strokes and edges; the rest is background
    sal = saliency(model, x, target=classes)[:, 0]            # |d score / d pixel|, (N, 14, 14)
    cam = grad_cam(model, CAM_LAYER, x, target=classes)       # (N, 14, 14), each map's peak scaled to 1
    ink_fraction = float(ink.mean())
    sal_inside = float(_inside_share(sal, ink).mean())
    cam_inside = float(_inside_share(cam, ink).mean())
    rng = np.random.default_rng(0)
    intact, no_top, no_random = _deletion(model, x, sal, classes, 0.1, rng)
    say(f"  probability of the predicted class: {intact:.1%} intact, {no_top:.1%} without the 10% most salient "
        f"pixels, {no_random:.1%} without 10% random pixels")

    i = int(np.argmax(ink.reshape(len(ink), -1).sum(1) * (classes == y_test[:explained])))  # a bold, correct one
    one_inside = float(_inside_share(sal[i:i + 1], ink[i:i + 1])[0])
    say(f"  one example: a {y_test[i]} predicted as {classes[i]}; {ink[i].mean():.1%} of its pixels are digit and "
        f"they hold {one_inside:.1%} of its saliency")
    rows = [["saliency", ink_fraction, sal_inside, sal_inside / ink_fraction],
            ["Grad-CAM", ink_fraction, cam_inside, cam_inside / ink_fraction]]
    columns = ["map", "digit's share of pixels", "digit's share of map", "concentration (x)"]
    kinds = [None, "percent", "percent", None]
    say(f"  over {explained} test digits, where the maps point (the digit: strokes + 1-pixel edge):")
    print_table(say, columns, rows, kinds)
    figures = []
    for name, maps in (("saliency", sal), ("Grad-CAM", cam)):
        title = f"{name} of the prediction '{classes[i]}' (true {y_test[i]})"
        figures.append(figure(title, lambda maps=maps, title=title: _attribution_figure(x[i, 0], maps[i], title)))
    results = {"steps": steps, "test_accuracy": accuracy, "explained_images": explained,
               "ink_fraction": ink_fraction, "saliency_on_ink": sal_inside, "gradcam_on_ink": cam_inside,
               "prob_intact": intact, "prob_without_top10_salient": no_top, "prob_without_random10": no_random,
               "example_index": i, "example_label": int(y_test[i]), "example_predicted": int(classes[i]),
               "example_saliency_on_ink": one_inside}
    return {"results": results, "figures": [f for f in figures if f],
            "headlines": [("test_accuracy", f"test accuracy after {steps} steps", "percent"),
                          ("prob_intact", "probability of the prediction, image intact", "percent"),
                          ("prob_without_top10_salient", "without its 10% most salient pixels", "percent"),
                          ("prob_without_random10", "without 10% random pixels", "percent")],
            "tables": [{"title": f"where the maps point, over {explained} test digits", "columns": columns,
                        "rows": rows, "kinds": kinds}]}
