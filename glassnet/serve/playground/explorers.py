"""The explorers' models: a LeNet-5 on MNIST (and CNN Explainer's TinyVGG when its files are there) for the CNN
explorer, the tour's sequence-reversal Transformer for the attention explorer.

LeNet-5 is trained the first time it is asked for (a few epochs on the bundled MNIST subset, seconds) and cached as
safetensors in the user's cache folder (`cache_dir()`), or loaded from a checkpoint the user names. The reverser is
trained on demand and kept in memory. Every analysis returns JSON-ready data: maps as base64 bytes (see
`sessions.encode_map`), probabilities, saliency and Grad-CAM overlays, filters, attention weights.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy

import glassnet as gn
import glassnet.nn.functional as F
from glassnet.data.datasets import load_mnist_small
from glassnet.lens import capture_attention, grad_cam, saliency
from glassnet.lens.attribution import resize_bilinear
from glassnet.models.lenet import LeNet5
from glassnet.models.tinyvgg import TINYVGG_CLASSES, TINYVGG_FILES, default_tinyvgg_dir, load_tinyvgg
from glassnet.serve.playground.sessions import SessionError, encode_map

LENET_FILE = "lenet5-mnist-small.safetensors"
LENET_EPOCHS = 6
DIGITS = tuple(str(d) for d in range(10))
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


def cache_dir() -> Path:
    """Where the explorers keep trained models: $GLASSNET_CACHE, else $XDG_CACHE_HOME/glassnet, else
    ~/.cache/glassnet."""
    if os.environ.get("GLASSNET_CACHE"):
        return Path(os.environ["GLASSNET_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "glassnet"


def train_lenet(epochs: int = LENET_EPOCHS, seed: int = 0, batch_size: int = 64) -> tuple[LeNet5, float]:
    """A LeNet-5 trained with Adam on the bundled MNIST subset (3,000 images); (model in eval mode, test accuracy)."""
    x_train, y_train, x_test, y_test = (t.numpy() for t in load_mnist_small())
    model = LeNet5()
    generator = gn.Generator(seed)  # a private stream: the global one is shared with the server's other threads
    for module in model.modules():  # LeNet-5's parameters all live in its Conv2d and Linear layers
        if isinstance(module, (gn.nn.Conv2d, gn.nn.Linear)):
            gn.nn.init.layer_default_(module.weight, module.bias, generator=generator)
    optimizer = gn.optim.Adam(model.parameters(), lr=2e-3)
    rng = numpy.random.Generator(numpy.random.PCG64(seed))
    for _ in range(epochs):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            loss = F.cross_entropy(model(gn.Tensor(x_train[batch])), gn.Tensor(y_train[batch]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with gn.no_grad():
        accuracy = float((model(gn.Tensor(x_test)).numpy().argmax(1) == y_test).mean())
    return model, accuracy


def center_digit(image: numpy.ndarray) -> numpy.ndarray:
    """A drawn digit (28, 28) placed as MNIST's are: its bounding box scaled to fit 20x20, its centre of mass at
    the centre of the 28x28 frame. A blank image is returned as it is."""
    ink = numpy.argwhere(image > 0.05)
    if len(ink) == 0:
        return image
    (top, left), (bottom, right) = ink.min(0), ink.max(0) + 1
    crop = image[top:bottom, left:right]
    scale = 20.0 / max(crop.shape)
    size = (max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale)))
    crop = resize_bilinear(crop[None].astype(numpy.float64), size)[0]
    out = numpy.zeros((28, 28))
    r0, c0 = (28 - size[0]) // 2, (28 - size[1]) // 2
    out[r0 : r0 + size[0], c0 : c0 + size[1]] = crop
    rows, cols = numpy.indices(out.shape)
    total = out.sum()
    shift_r = int(round(13.5 - (rows * out).sum() / total))
    shift_c = int(round(13.5 - (cols * out).sum() / total))
    shifted = numpy.zeros_like(out)
    src = out[max(0, -shift_r) : 28 - max(0, shift_r), max(0, -shift_c) : 28 - max(0, shift_c)]
    shifted[max(0, shift_r) : max(0, shift_r) + src.shape[0], max(0, shift_c) : max(0, shift_c) + src.shape[1]] = src
    return numpy.clip(shifted, 0, 1).astype(numpy.float32)


def _unit_map(a: numpy.ndarray) -> str:
    """A map of values ≥ 0 scaled by its maximum, encoded for the page (0 → darkest, max → brightest)."""
    top = float(a.max()) if a.size else 0.0
    return encode_map(2 * (a / top if top > 0 else a) - 1)


def _signed_maps(a: numpy.ndarray) -> tuple[list[str], float]:
    """(channels, ...) maps scaled together by their largest magnitude, and that magnitude."""
    top = float(numpy.abs(a).max()) if a.size else 0.0
    return [encode_map(c / top if top > 0 else c) for c in a], top


class CNNExplorer:
    """The CNN explorer's models, loaded (or trained) on first use, each guarded by one lock."""

    def __init__(
        self,
        data_dir: str | os.PathLike | None = None,
        lenet_checkpoint: str | os.PathLike | None = None,
        lenet_epochs: int = LENET_EPOCHS,
    ) -> None:
        # default: $GLASSNET_DATA/cnn-explainer-tinyvgg, else ../shared/data beside the repository (as load_tinyvgg)
        self.tinyvgg_dir = Path(data_dir) / "cnn-explainer-tinyvgg" if data_dir else Path(default_tinyvgg_dir())
        self.lenet_checkpoint = Path(lenet_checkpoint) if lenet_checkpoint else None
        self.lenet_epochs = lenet_epochs
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.lenet_note = ""

    # ----- which models ------------------------------------------------------------------------------------------
    def available(self) -> list[str]:
        """ "lenet", and "tinyvgg" when CNN Explainer's files are in the data folder."""
        names = ["lenet"]
        if all((self.tinyvgg_dir / f).is_file() for f in TINYVGG_FILES):
            names.append("tinyvgg")
        return names

    def _model(self, name: str) -> Any:
        if name not in self.available():
            hint = (
                " (put CNN Explainer's files in $GLASSNET_DATA/cnn-explainer-tinyvgg or pass --data)"
                if name == "tinyvgg"
                else ""
            )
            raise SessionError(
                f"cnn explorer: unknown or unavailable model {name!r}; available: {', '.join(self.available())}{hint}",
                status=404,
            )
        with self._lock:
            if name not in self._models:
                self._models[name] = self._load_lenet() if name == "lenet" else load_tinyvgg(self.tinyvgg_dir)
            return self._models[name]

    def _load_lenet(self) -> LeNet5:
        model = LeNet5()
        path = self.lenet_checkpoint or cache_dir() / LENET_FILE
        if path.is_file():
            model.load_state_dict(gn.load(path))
            self.lenet_note = f"loaded from {path}"
            return model.eval()
        if self.lenet_checkpoint is not None:
            raise SessionError(f"cnn explorer: the LeNet-5 checkpoint {path} does not exist", status=404)
        start = time.perf_counter()
        model, accuracy = train_lenet(self.lenet_epochs)
        path.parent.mkdir(parents=True, exist_ok=True)
        gn.save(model.state_dict(), path)
        self.lenet_note = (
            f"trained at first launch in {time.perf_counter() - start:.1f} s on the bundled MNIST "
            f"subset ({accuracy:.1%} test accuracy), cached in {path}"
        )
        return model

    # ----- what the page asks for -------------------------------------------------------------------------------
    def info(self, name: str) -> dict[str, Any]:
        """The model's classes, input size, layers, filters and sample images."""
        model = self._model(name)
        if name == "lenet":
            _, _, x_test, y_test = (t.numpy() for t in load_mnist_small())
            picks = [int(numpy.flatnonzero(y_test == d)[0]) for d in range(10)]
            samples = [
                {
                    "name": f"test image {i} (a {int(y_test[i])})",
                    "pixels": numpy.rint(x_test[i, 0] * 255).astype(int).ravel().tolist(),
                }
                for i in picks
            ]
            classes, size, channels = DIGITS, 28, 1
        else:
            folder = self.tinyvgg_dir / "img"
            files = (
                sorted(p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
                if folder.is_dir()
                else []
            )
            samples = [{"name": f, "url": f"/api/explorer/cnn/images/{f}"} for f in files]
            classes, size, channels = TINYVGG_CLASSES, 64, 3
        filters = {}
        for layer_name, module in model.named_modules():
            if isinstance(module, gn.nn.Conv2d):
                w = module.weight.data  # (out, in, kh, kw), all drawn on the layer's one colour scale
                top = float(numpy.abs(w).max()) or 1.0
                filters[layer_name] = {
                    "shape": list(w.shape),
                    "scale": top,
                    "maps": [[encode_map(k / top) for k in w[o]] for o in range(w.shape[0])],
                }
        return {
            "model": name,
            "classes": list(classes),
            "size": size,
            "channels": channels,
            "samples": samples,
            "filters": filters,
            "note": self.lenet_note if name == "lenet" else "CNN Explainer's TinyVGG",
        }

    def image_path(self, filename: str) -> Path:
        """A sample image of the TinyVGG folder (a plain name only: no path leaves that folder)."""
        if (
            "tinyvgg" not in self.available()
            or os.path.basename(filename) != filename
            or not filename.lower().endswith(IMAGE_SUFFIXES)
        ):
            raise SessionError(f"cnn explorer: no sample image {filename!r}", status=404)
        path = self.tinyvgg_dir / "img" / filename
        if not path.is_file():
            raise SessionError(f"cnn explorer: no sample image {filename!r}", status=404)
        return path

    def analyze(self, name: str, pixels: Any, center: bool = False) -> dict[str, Any]:
        """Every layer's feature maps, the class probabilities, saliency and Grad-CAM for one image.

        `pixels`: integers 0..255, 28·28 grey for LeNet-5, 3·64·64 channels-first RGB for TinyVGG; `center` places a
        drawn digit as MNIST's digits are placed.
        """
        model = self._model(name)
        size, channels = (28, 1) if name == "lenet" else (64, 3)
        expected = channels * size * size
        if (
            not isinstance(pixels, list)
            or len(pixels) != expected
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 255 for v in pixels)
        ):
            got = f"a list of {len(pixels)} values" if isinstance(pixels, list) else type(pixels).__name__
            raise SessionError(
                f"cnn explorer: pixels for {name} must be {expected} numbers 0..255 "
                f"({channels}x{size}x{size}); got {got}"
            )
        image = numpy.asarray(pixels, dtype=numpy.float32).reshape(channels, size, size) / 255.0
        if center and name == "lenet":
            image = center_digit(image[0])[None]
        x = image[None]
        stages: list[tuple[str, Any]] = []
        layers = self._feature_layers(name, model)
        handles = [
            module.register_forward_hook(lambda m, a, out, n=layer_name: stages.append((n, out.numpy())))
            for layer_name, module in layers
        ]
        with self._lock:  # one image at a time per model: hooks are per module
            try:
                with gn.no_grad():
                    logits = model(gn.Tensor(x)).numpy()[0]
            finally:
                for h in handles:
                    h.remove()
            target = int(logits.argmax())
            sal = saliency(model, x, target=target)[0].max(axis=0)
            cam = grad_cam(model, self._cam_layer(name), x, target=target)[0]
        shifted = logits - logits.max()
        probs = numpy.exp(shifted) / numpy.exp(shifted).sum()
        out_layers = [
            {
                "name": "input",
                "kind": "input",
                "shape": list(image.shape),
                "maps": [encode_map(c) for c in image],
                "scale": 1.0,
            }
        ]
        for layer_name, act in stages:
            a = act[0]
            if a.ndim == 3:
                maps, top = _signed_maps(a)
                out_layers.append(
                    {
                        "name": layer_name,
                        "kind": self._kind(model, layer_name),
                        "shape": list(a.shape),
                        "maps": maps,
                        "scale": top,
                    }
                )
            else:
                top = float(numpy.abs(a).max()) or 1.0
                out_layers.append(
                    {
                        "name": layer_name,
                        "kind": self._kind(model, layer_name),
                        "shape": list(a.shape),
                        "values": (a / top).round(4).tolist(),
                        "scale": top,
                    }
                )
        return {
            "model": name,
            "prediction": target,
            "probabilities": probs.round(6).tolist(),
            "input": encode_map(image.mean(axis=0) * 2 - 1),
            "size": size,
            "layers": out_layers,
            "saliency": _unit_map(sal),
            "grad_cam": _unit_map(cam),
        }

    @staticmethod
    def _feature_layers(name: str, model: Any) -> list[tuple[str, Any]]:
        """The modules whose outputs the page draws, in forward order."""
        if name == "lenet":
            return [(n, m) for n, m in model.named_modules() if n.count(".") == 1 and not isinstance(m, gn.nn.Flatten)]
        return [(n, m) for n, m in model.named_modules() if n and n not in ("flatten",)]

    @staticmethod
    def _kind(model: Any, layer_name: str) -> str:
        return type(dict(model.named_modules())[layer_name]).__name__

    @staticmethod
    def _cam_layer(name: str) -> str:
        return "features.3" if name == "lenet" else "conv_2_2"  # the last convolution


class AttentionExplorer:
    """The tour's digit reverser, trained on demand; its attention for any 8 digits."""

    def __init__(self) -> None:
        self.model: Any = None
        self.summary: dict[str, Any] = {}
        self._lock = threading.Lock()

    def train(self, steps: int = 400, seed: int = 10) -> dict[str, Any]:
        """Train a fresh reverser with Adam for `steps` batches of 64 random strings; loss and accuracy."""
        from glassnet.tour.ch10_attention import LENGTH, Reverser

        start = time.perf_counter()
        rng = numpy.random.Generator(numpy.random.PCG64(seed))
        model = Reverser()  # initial weights from the default generator; the data from this call's own stream
        optimizer = gn.optim.Adam(model.parameters(), lr=3e-3)
        loss = None
        for _ in range(steps):
            x = rng.integers(0, 10, (64, LENGTH))
            logits = model(gn.Tensor(x))
            loss = F.cross_entropy(logits.reshape(-1, 10), gn.Tensor(x[:, ::-1].reshape(-1).copy()))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        test = rng.integers(0, 10, (500, LENGTH))
        with gn.no_grad():
            pred = model(gn.Tensor(test)).argmax(-1).numpy()
        summary = {
            "steps": steps,
            "loss": float(loss.item()),
            "length": LENGTH,
            "digit_accuracy": float((pred == test[:, ::-1]).mean()),
            "seconds": round(time.perf_counter() - start, 2),
        }
        with self._lock:
            self.model, self.summary = model, summary
        return summary

    def run(self, digits: Any) -> dict[str, Any]:
        """The model's output for `digits` and every attention layer's (heads, L, S) weights."""
        from glassnet.tour.ch10_attention import LENGTH

        if self.model is None:
            raise SessionError(
                "attention explorer: the model is not trained yet; POST /api/explorer/attention/train", status=409
            )
        if (
            not isinstance(digits, list)
            or len(digits) != LENGTH
            or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 9 for d in digits)
        ):
            raise SessionError(f"attention explorer: digits must be a list of {LENGTH} integers 0..9, got {digits!r}")
        with self._lock:
            with capture_attention(self.model) as maps, gn.no_grad():
                logits = self.model(gn.Tensor(numpy.array([digits])))
        probs = F.softmax(logits, dim=-1).numpy()[0]
        return {
            "input": digits,
            "output": probs.argmax(-1).tolist(),
            "confidence": probs.max(-1).round(4).tolist(),
            "layers": [{"name": name, "heads": weights[-1][0].round(4).tolist()} for name, weights in maps.items()],
            "summary": self.summary,
        }


__all__ = ["AttentionExplorer", "CNNExplorer", "cache_dir", "center_digit", "train_lenet"]
