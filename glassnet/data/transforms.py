"""Image transforms: callables applied to one sample, an array or Tensor of shape (C, H, W) or (H, W).

`ToTensor` turns uint8 pixels (H, W) or (H, W, C) into a float32 (C, H, W) Tensor in [0, 1]; the others keep
the kind of input they get (array in, array out; Tensor in, Tensor out). Random transforms draw from the
`generator` they are given, or else from glassnet's default generator (`gn.manual_seed`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy

from glassnet.random import Generator, get_rng
from glassnet.tensor import Tensor


def _unwrap(x: Any) -> tuple[numpy.ndarray, bool]:
    if isinstance(x, Tensor):
        return x.data, True
    return numpy.asarray(x), False


def _wrap(a: numpy.ndarray, was_tensor: bool) -> Any:
    return Tensor(a) if was_tensor else a


def _check_image(name: str, a: numpy.ndarray) -> None:
    if a.ndim not in (2, 3):
        raise ValueError(f"{name}: expected an image of shape (C, H, W) or (H, W), got shape {a.shape}")


class Compose:
    """Apply transforms one after another."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]):
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


class ToTensor:
    """uint8 (H, W) or (H, W, C) pixels -> float32 (C, H, W) Tensor scaled to [0, 1]; float input is only
    reordered (H, W, C -> C, H, W) and not rescaled; a Tensor is passed through as float32."""

    def __call__(self, x: Any) -> Tensor:
        if isinstance(x, Tensor):
            return x.float()
        a = numpy.asarray(x)
        if a.ndim == 2:
            a = a[None]
        elif a.ndim == 3:
            a = a.transpose(2, 0, 1)
        else:
            raise ValueError(f"ToTensor: expected an image of shape (H, W) or (H, W, C), got shape {a.shape}")
        if a.dtype == numpy.uint8:
            return Tensor(numpy.ascontiguousarray(a, dtype=numpy.float32) / numpy.float32(255.0))
        return Tensor(numpy.ascontiguousarray(a, dtype=numpy.float32))

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """(x - mean[c]) / std[c] per channel of a (C, H, W) image (scalars apply to every channel)."""

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]):
        self.mean = numpy.atleast_1d(numpy.asarray(mean, dtype=numpy.float32))
        self.std = numpy.atleast_1d(numpy.asarray(std, dtype=numpy.float32))
        if numpy.any(self.std == 0):
            raise ValueError(f"Normalize: std must be non-zero, got {self.std.tolist()}")

    def __call__(self, x: Any) -> Any:
        a, was_tensor = _unwrap(x)
        _check_image("Normalize", a)
        c = a.shape[0] if a.ndim == 3 else 1
        if len(self.mean) not in (1, c) or len(self.std) not in (1, c):
            raise ValueError(f"Normalize: {len(self.mean)} means / {len(self.std)} stds for an image of shape "
                             f"{a.shape} with {c} channel(s)")
        shape = (-1, 1, 1) if a.ndim == 3 else (-1, 1)
        out = (a.astype(numpy.float32) - self.mean.reshape(shape)) / self.std.reshape(shape)
        return _wrap(out.astype(numpy.float32), was_tensor)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class RandomCrop:
    """Pad by `padding` (zeros) on every side, then cut a random `size` window."""

    def __init__(self, size: int | tuple[int, int], padding: int | None = None, generator: Generator | None = None):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding = padding or 0
        self.generator = generator

    def __call__(self, x: Any) -> Any:
        a, was_tensor = _unwrap(x)
        _check_image("RandomCrop", a)
        p = self.padding
        if p:
            pad = [(0, 0)] * (a.ndim - 2) + [(p, p), (p, p)]
            a = numpy.pad(a, pad)
        h, w = a.shape[-2:]
        th, tw = self.size
        if th > h or tw > w:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the (padded) image {(h, w)}")
        rng = get_rng(self.generator)
        i = int(rng.integers(0, h - th + 1))
        j = int(rng.integers(0, w - tw + 1))
        return _wrap(numpy.ascontiguousarray(a[..., i:i + th, j:j + tw]), was_tensor)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror the image left-right with probability `p`."""

    def __init__(self, p: float = 0.5, generator: Generator | None = None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = p
        self.generator = generator

    def __call__(self, x: Any) -> Any:
        a, was_tensor = _unwrap(x)
        _check_image("RandomHorizontalFlip", a)
        if get_rng(self.generator).random() < self.p:
            return _wrap(numpy.ascontiguousarray(a[..., ::-1]), was_tensor)
        return x

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class Lambda:
    """Wrap any function as a transform."""

    def __init__(self, fn: Callable[[Any], Any]):
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        return self.fn(x)
