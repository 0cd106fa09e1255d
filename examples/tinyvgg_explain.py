"""A real pretrained CNN: CNN Explainer's TinyVGG classifies its 21 sample images, and saliency maps and Grad-CAM
show which pixels each prediction rests on.

    python examples/tinyvgg_explain.py                           # files in ../shared/data/cnn-explainer-tinyvgg
    python examples/tinyvgg_explain.py --model DIR --out runs/tinyvgg

Prints, per image, the predicted class and its probability, then the accuracy over the images whose file name
names a class (`koala_2.jpeg` → koala; `white.jpeg`, a blank image, has none). Writes one PNG per image and method
(`<image>-saliency.png`, `<image>-gradcam.png`: the image, the map, the map over the image) to --out.
"""

from __future__ import annotations

import argparse
import glob
import os

import numpy as np

import glassnet as gn
from glassnet.lens.attribution import grad_cam, saliency
from glassnet.models.tinyvgg import TINYVGG_CLASSES, default_tinyvgg_dir, load_tinyvgg, preprocess_image

# The sample images are named after their class with a short word.
NAME_TO_CLASS = {"boat": "lifeboat", "bug": "ladybug", "pizza": "pizza", "pepper": "bell pepper",
                 "bus": "school bus", "koala": "koala", "espresso": "espresso", "panda": "red panda",
                 "orange": "orange", "car": "sport car"}
GRAD_CAM_LAYER = "relu_2_2"  # the last convolutional block's rectified feature maps, 26 x 26


def true_class(path: str) -> str | None:
    """The class a sample image's file name names (`panda_3.jpeg` → 'red panda'), or None (`white.jpeg`)."""
    word = os.path.basename(path).split("_")[0].split(".")[0]
    return NAME_TO_CLASS.get(word)


def classify(model: gn.nn.Module, paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The preprocessed images (N, 3, 64, 64) and TinyVGG's class probabilities for them (N, 10)."""
    images = np.stack([preprocess_image(p) for p in paths])
    with gn.no_grad():
        probabilities = model(gn.Tensor(images)).softmax(dim=1).numpy()
    return images, probabilities


def accuracy(paths: list[str], probabilities: np.ndarray) -> tuple[int, int]:
    """(correct, counted) over the images whose names map to a class."""
    counted = correct = 0
    for path, p in zip(paths, probabilities):
        expected = true_class(path)
        if expected is not None:
            counted += 1
            correct += TINYVGG_CLASSES[int(p.argmax())] == expected
    return correct, counted


def write_attributions(model: gn.nn.Module, paths: list[str], images: np.ndarray, probabilities: np.ndarray,
                       out: str) -> list[str]:
    """Saliency and Grad-CAM of each image's predicted class, drawn as PNGs in `out`; returns the paths written."""
    from glassnet.lens.plots import plot_attribution, save_figure

    os.makedirs(out, exist_ok=True)
    saliency_maps = saliency(model, images).max(axis=1)  # strongest gradient over the colour channels
    cams = grad_cam(model, GRAD_CAM_LAYER, images)
    written = []
    for path, image, p, sal, cam in zip(paths, images, probabilities, saliency_maps, cams):
        stem = os.path.splitext(os.path.basename(path))[0]
        label = f"{stem}: {TINYVGG_CLASSES[int(p.argmax())]} ({p.max():.0%})"
        for method, attribution in (("saliency", sal), ("gradcam", cam)):
            fig = plot_attribution(image, attribution, title=f"{label}, {method}")
            written.append(save_figure(fig, os.path.join(out, f"{stem}-{method}.png")))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=default_tinyvgg_dir(), help="directory with model.json, "
                        "group1-shard1of1.bin and img/")
    parser.add_argument("--out", default=os.path.join("runs", "tinyvgg-explain"), help="where the PNGs go")
    args = parser.parse_args()
    model = load_tinyvgg(args.model)
    paths = sorted(glob.glob(os.path.join(args.model, "img", "*.jp*g")))
    if not paths:
        raise SystemExit(f"no .jpeg images in {os.path.join(args.model, 'img')}")
    images, probabilities = classify(model, paths)
    for path, p in zip(paths, probabilities):
        expected = true_class(path) or "-"
        print(f"{os.path.basename(path):16s} {TINYVGG_CLASSES[int(p.argmax())]:12s} {p.max():6.1%}   "
              f"(named: {expected})")
    correct, counted = accuracy(paths, probabilities)
    print(f"\naccuracy: {correct}/{counted} = {correct / counted:.0%} of the images whose names give a class")
    written = write_attributions(model, paths, images, probabilities, args.out)
    print(f"wrote {len(written)} PNGs (saliency and Grad-CAM at {GRAD_CAM_LAYER}) to {args.out}")


if __name__ == "__main__":
    main()
