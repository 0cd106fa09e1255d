"""MNIST and Fashion-MNIST from IDX files on disk (nothing is downloaded): `read_idx`, `MNIST`, `FashionMNIST`.

The directory comes from `root=` or the `GLASSNET_DATA` environment variable. File names are the standard
ones (`train-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, …), gzipped (`.gz`) or not, optionally with a
`mnist-` / `fashion-` prefix; Fashion-MNIST may also live in a `fashion-mnist/` or `FashionMNIST/`
subdirectory (and MNIST in `mnist/` or `MNIST/`).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from typing import Any

import numpy

from glassnet.data.dataset import Dataset
from glassnet.tensor import Tensor

# IDX type codes -> (numpy dtype, big-endian)
_IDX_TYPES = {
    0x08: numpy.dtype(numpy.uint8),
    0x09: numpy.dtype(numpy.int8),
    0x0B: numpy.dtype(">i2"),
    0x0C: numpy.dtype(">i4"),
    0x0D: numpy.dtype(">f4"),
    0x0E: numpy.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> numpy.ndarray:
    """Read one IDX file (raw, or gzip-compressed: detected from its first bytes) into a NumPy array.

    Raises ValueError naming the file if the magic number is wrong or the data is shorter or longer than the
    header says."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError(f"{path}: corrupt IDX file: gzip stream is damaged or truncated ({e})") from e
    if len(raw) < 4:
        raise ValueError(f"{path}: corrupt IDX file: {len(raw)} bytes, too short for an IDX header")
    zero, type_code, ndim = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    if zero != 0 or type_code not in _IDX_TYPES or ndim == 0:
        raise ValueError(f"{path}: corrupt IDX file: bad magic number 0x{raw[:4].hex()} "
                         "(expected 0x0000 then a type code 08/09/0B/0C/0D/0E and a dimension count)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: corrupt IDX file: header truncated ({len(raw)} bytes, need {header})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_TYPES[type_code]
    expected = int(numpy.prod(shape, dtype=numpy.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        problem = "truncated" if got < expected else "has trailing bytes"
        raise ValueError(f"{path}: corrupt IDX file: {problem}: header says shape {shape} ({expected} data bytes) "
                         f"but the file holds {got}")
    arr = numpy.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def data_root(root: str | os.PathLike | None = None) -> str:
    """The data directory: `root` if given, else $GLASSNET_DATA, else ./data."""
    if root is not None:
        return os.fspath(root)
    return os.environ.get("GLASSNET_DATA", "data")


class _IDXDataset(Dataset):
    """Images (N, 28, 28) uint8 and labels (N,) int64 read from IDX files; item i is (transform(image), label)."""

    name = "MNIST"
    prefixes = ("", "mnist-")
    subdirs = ("", "mnist", "MNIST", "MNIST/raw")
    classes: list[str] = [str(i) for i in range(10)]
    bundled = ("glassnet.data.load_mnist_small() (3,000 train + 1,000 test images shipped in the package, "
               "as_dataset=True for TensorDatasets)")

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True,
                 transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[Any], Any] | None = None, download: bool = False):
        self.root = data_root(root)
        self.download = download  # accepted for PyTorch's sake; nothing is ever downloaded (see _find)
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        split = "train" if train else "t10k"
        images_path = self._find(f"{split}-images-idx3-ubyte")
        labels_path = self._find(f"{split}-labels-idx1-ubyte")
        self.images = read_idx(images_path)
        self.labels = read_idx(labels_path).astype(numpy.int64)
        if self.images.ndim != 3 or self.labels.ndim != 1 or len(self.images) != len(self.labels):
            raise ValueError(f"{self.name}: {images_path} holds shape {self.images.shape} and {labels_path} "
                             f"holds shape {self.labels.shape}; expected (N, H, W) images and N labels")

    def _find(self, base: str) -> str:
        candidates = [os.path.join(self.root, sub, prefix + base + ext)
                      for sub in self.subdirs for prefix in self.prefixes for ext in (".gz", "")]
        for c in candidates:
            if os.path.isfile(c):
                return c
        names = " or ".join(f"{p}{base}[.gz]" for p in self.prefixes if p) or f"{base}[.gz]"
        why = ("download=True was given, but glassnet downloads nothing: "
               if self.download else "nothing is downloaded: ")
        bundled = f" Without the files, use {self.bundled}." if self.bundled else ""
        raise FileNotFoundError(
            f"{self.name}: cannot find {base}[.gz] (also tried {names}) in {os.path.abspath(self.root)}; {why}"
            f"put the {self.name} IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            f"t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz in that directory "
            f"(or pass root= / set GLASSNET_DATA).{bundled}"
        )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, label = self.images[index], int(self.labels[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def tensors(self) -> tuple[Tensor, Tensor]:
        """All images as float32 (N, 1, 28, 28) in [0, 1] and labels int64 (N,): for a fast TensorDataset."""
        x = (self.images[:, None].astype(numpy.float32) / numpy.float32(255.0))
        return Tensor(x), Tensor(self.labels)


class MNIST(_IDXDataset):
    """The MNIST handwritten digits (LeCun, Cortes, Burges) from IDX files in `root` or $GLASSNET_DATA."""


class FashionMNIST(_IDXDataset):
    """Zalando's Fashion-MNIST (same format as MNIST) from IDX files in `root` or $GLASSNET_DATA."""

    name = "FashionMNIST"
    prefixes = ("", "fashion-", "fashion-mnist-")
    subdirs = ("", "fashion-mnist", "fashion", "FashionMNIST", "FashionMNIST/raw")
    bundled = None
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
