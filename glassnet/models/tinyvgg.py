"""TinyVGG, the small image classifier of CNN Explainer (Wang et al. 2020), with its pretrained weights loaded from
the TF.js files that CNN Explainer ships (`model.json` + `group1-shard1of1.bin`), and the image preprocessing it
expects. Nothing is downloaded: the files are read from a directory (see `default_tinyvgg_dir`).

    model = load_tinyvgg()                                   # ../shared/data/cnn-explainer-tinyvgg or $GLASSNET_DATA
    x = Tensor(preprocess_image("koala_1.jpeg")[None])       # (1, 3, 64, 64) in [0, 1]
    TINYVGG_CLASSES[model(x).argmax(1).item()]               # 'koala'

Keras stores the model channels-last; glassnet is channels-first. Two things change on loading: each conv kernel
[kh, kw, in, out] becomes [out, in, kh, kw], and the Dense layer's 1,690 input rows, which Keras's Flatten lays out
in (h, w, c) order, are permuted into glassnet's (c, h, w) order.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy

from glassnet import nn
from glassnet.models._utils import check_input
from glassnet.tensor import Tensor

TINYVGG_CLASSES = ("lifeboat", "ladybug", "pizza", "bell pepper", "school bus", "koala", "espresso", "red panda",
                   "orange", "sport car")
TINYVGG_FILES = ("model.json", "group1-shard1of1.bin")
_CONVS = ("conv_1_1", "conv_1_2", "conv_2_1", "conv_2_2")
_FEATURE_SHAPE = (10, 13, 13)  # (c, h, w) after the second pooling, for a 64x64 input


class TinyVGG(nn.Module):
    """TinyVGG from CNN Explainer (Wang et al. 2020, "CNN Explainer: Learning Convolutional Neural Networks with
    Interactive Visualization"), a 10-class classifier of 64x64 RGB images trained on a Tiny ImageNet subset.

    The idea it shows: VGG's recipe (Simonyan & Zisserman 2014) — stacks of 3x3 convolutions, then pooling — at a
    size small enough to draw every neuron. Layout (channels-first, unpadded convolutions):
    conv 3x3 3→10 · ReLU · conv 3x3 10→10 · ReLU · maxpool 2 → conv · ReLU · conv · ReLU · maxpool 2
    → flatten 10·13·13 = 1,690 → linear 10. 19,920 parameters. `forward` returns logits (Keras applied the softmax
    inside the model; apply `softmax(dim=1)` for probabilities).
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv_1_1, self.relu_1_1 = nn.Conv2d(3, 10, 3), nn.ReLU()
        self.conv_1_2, self.relu_1_2 = nn.Conv2d(10, 10, 3), nn.ReLU()
        self.max_pool_1 = nn.MaxPool2d(2)
        self.conv_2_1, self.relu_2_1 = nn.Conv2d(10, 10, 3), nn.ReLU()
        self.conv_2_2, self.relu_2_2 = nn.Conv2d(10, 10, 3), nn.ReLU()
        self.max_pool_2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.output = nn.Linear(1690, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, 3, 64, 64) images in [0, 1] → (batch, num_classes) logits."""
        check_input(x, "TinyVGG", 4, "(batch, 3, 64, 64)", channels=(1, 3))
        if tuple(x.shape[2:]) != (64, 64):
            raise ValueError(f"TinyVGG got input of shape {tuple(x.shape)}; expected (batch, 3, 64, 64)")
        x = self.relu_1_2(self.conv_1_2(self.relu_1_1(self.conv_1_1(x))))
        x = self.max_pool_1(x)
        x = self.relu_2_2(self.conv_2_2(self.relu_2_1(self.conv_2_1(x))))
        x = self.max_pool_2(x)
        return self.output(self.flatten(x))


def default_tinyvgg_dir() -> str:
    """$GLASSNET_DATA/cnn-explainer-tinyvgg if $GLASSNET_DATA is set, else ../shared/data/cnn-explainer-tinyvgg
    beside the repository."""
    root = os.environ.get("GLASSNET_DATA")
    if not root:
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        root = os.path.join(repo, "..", "shared", "data")
    return os.path.normpath(os.path.join(root, "cnn-explainer-tinyvgg"))


def read_tfjs_weights(path: str | os.PathLike) -> dict[str, numpy.ndarray]:
    """The weights of a TF.js layers model directory (model.json + its shards), by manifest name, in Keras layout."""
    path = os.fspath(path)
    missing = [f for f in TINYVGG_FILES if not os.path.isfile(os.path.join(path, f))]
    if missing:
        raise FileNotFoundError(
            f"load_tinyvgg: {', '.join(missing)} not found in {os.path.abspath(path)}. Put CNN Explainer's TinyVGG "
            f"files ({' and '.join(TINYVGG_FILES)}, from poloclub/cnn-explainer) in a directory "
            "'cnn-explainer-tinyvgg' under $GLASSNET_DATA (or ../shared/data beside the repository), or pass "
            "path=; nothing is downloaded."
        )
    with open(os.path.join(path, "model.json"), encoding="utf-8") as f:
        manifest = json.load(f)["weightsManifest"]
    weights: dict[str, numpy.ndarray] = {}
    for group in manifest:
        raw = b"".join(_read(os.path.join(path, shard)) for shard in group["paths"])
        offset = 0
        for spec in group["weights"]:
            if spec.get("dtype", "float32") != "float32":
                raise ValueError(f"load_tinyvgg: weight {spec['name']} has dtype {spec['dtype']}; expected float32")
            count = int(numpy.prod(spec["shape"], dtype=numpy.int64))
            if offset + 4 * count > len(raw):
                raise ValueError(f"load_tinyvgg: {group['paths']} hold {len(raw)} bytes, too few for weight "
                                 f"{spec['name']} of shape {spec['shape']} at byte {offset}")
            array = numpy.frombuffer(raw, dtype="<f4", count=count, offset=offset)
            weights[spec["name"]] = array.reshape(spec["shape"]).astype(numpy.float32)
            offset += 4 * count
        if offset != len(raw):
            raise ValueError(f"load_tinyvgg: {group['paths']} hold {len(raw)} bytes but the manifest describes "
                             f"{offset}")
    return weights


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def keras_to_state_dict(weights: dict[str, numpy.ndarray]) -> dict[str, Tensor]:
    """TinyVGG's Keras weights (channels-last) as a glassnet state dict (channels-first)."""
    state: dict[str, Tensor] = {}
    for name in _CONVS:
        kernel = _get(weights, f"{name}/kernel", 4)
        state[f"{name}.weight"] = Tensor(numpy.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))  # → [out, in, kh, kw]
        state[f"{name}.bias"] = Tensor(_get(weights, f"{name}/bias", 1))
    dense = _get(weights, "output/kernel", 2)  # [h·w·c, out], rows in Keras's channels-last flatten order
    c, h, w = _FEATURE_SHAPE
    if dense.shape[0] != c * h * w:
        raise ValueError(f"load_tinyvgg: output/kernel has shape {dense.shape}; expected ({c * h * w}, classes)")
    rows_chw = dense.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(c * h * w, -1)
    state["output.weight"] = Tensor(numpy.ascontiguousarray(rows_chw.T))  # Linear keeps [out, in]
    state["output.bias"] = Tensor(_get(weights, "output/bias", 1))
    return state


def _get(weights: dict[str, numpy.ndarray], name: str, ndim: int) -> numpy.ndarray:
    if name not in weights:
        raise KeyError(f"load_tinyvgg: the weights have no {name!r}; found {sorted(weights)}")
    if weights[name].ndim != ndim:
        raise ValueError(f"load_tinyvgg: {name} has shape {weights[name].shape}; expected {ndim} dimensions")
    return weights[name]


def load_tinyvgg(path: str | os.PathLike | None = None) -> TinyVGG:
    """CNN Explainer's pretrained TinyVGG, from the directory `path` (default `default_tinyvgg_dir()`), in eval mode."""
    weights = read_tfjs_weights(default_tinyvgg_dir() if path is None else path)
    state = keras_to_state_dict(weights)
    model = TinyVGG(num_classes=state["output.bias"].shape[0])
    model.load_state_dict(state)
    return model.eval()


def preprocess_image(image: Any, size: int = 64) -> numpy.ndarray:
    """An image file path (or a PIL image) as TinyVGG's input: RGB, centre-cropped to a square, resized bilinearly
    to size x size, scaled to [0, 1]; a float32 array (3, size, size)."""
    from glassnet.extras import require

    require("images", "preprocess_image")
    from PIL import Image

    if isinstance(image, (str, os.PathLike)):
        with Image.open(image) as opened:
            image = opened.convert("RGB")
    elif isinstance(image, Image.Image):
        image = image.convert("RGB")
    else:
        raise TypeError(f"preprocess_image: expected a file path or a PIL image, got {type(image).__name__}")
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    if image.size != (size, size):
        image = image.resize((size, size), Image.BILINEAR)
    pixels = numpy.asarray(image, dtype=numpy.float32) / numpy.float32(255.0)
    return numpy.ascontiguousarray(pixels.transpose(2, 0, 1))


__all__ = ["TINYVGG_CLASSES", "TinyVGG", "default_tinyvgg_dir", "keras_to_state_dict", "load_tinyvgg",
           "preprocess_image", "read_tfjs_weights"]
