"""Rebuild the small data files bundled in glassnet/data from the full public data sets (run once, by hand).

    python -m glassnet.data.make_bundles /work/shared/data

Provenance:
- `mnist_small.npz`: from the official MNIST IDX files (Y. LeCun, C. Cortes, C. Burges; freely available for
  research) `mnist-train-*-ubyte.gz` and `mnist-t10k-*-ubyte.gz`. For each class c = 0..9 take the first
  300 training images with label c (in file order) and the first 100 test images with label c, then keep them
  in file order: 3,000 train + 1,000 test images, class-balanced, uint8 (N, 28, 28), labels uint8.
  Stored with numpy.savez_compressed (keys x_train, y_train, x_test, y_test, train_index, test_index — the
  indices into the original files).
- `shakespeare_small.txt.gz`: the first 99,842 characters (up to the last blank line before 100,000) of
  tiny Shakespeare (char-rnn's `input.txt`; public-domain text), gzip level 9, mtime 0 (byte-reproducible).
"""

from __future__ import annotations

import gzip
import os
import sys

import numpy

from glassnet.data.idx import read_idx

HERE = os.path.dirname(os.path.abspath(__file__))
PER_CLASS_TRAIN, PER_CLASS_TEST = 300, 100
TEXT_CHARS = 100_000


def balanced_first(labels: numpy.ndarray, per_class: int) -> numpy.ndarray:
    """Indices of the first `per_class` samples of every class, in file order."""
    picks = [numpy.flatnonzero(labels == c)[:per_class] for c in range(10)]
    if any(len(p) < per_class for p in picks):
        raise ValueError(f"not enough samples for {per_class} per class")
    return numpy.sort(numpy.concatenate(picks))


def make_mnist_small(src: str, out: str) -> None:
    """Write the class-balanced MNIST subset to `out`."""
    parts = {}
    for split, name, per in (("train", "train", PER_CLASS_TRAIN), ("test", "t10k", PER_CLASS_TEST)):
        x = read_idx(os.path.join(src, f"mnist-{name}-images-idx3-ubyte.gz"))
        y = read_idx(os.path.join(src, f"mnist-{name}-labels-idx1-ubyte.gz"))
        idx = balanced_first(y, per)
        parts[f"x_{split}"] = x[idx].astype(numpy.uint8)
        parts[f"y_{split}"] = y[idx].astype(numpy.uint8)
        parts[f"{split}_index"] = idx.astype(numpy.int32)
    numpy.savez_compressed(out, **parts)


def make_shakespeare_small(src: str, out: str) -> None:
    """Write the first ~100 KB of tiny Shakespeare (cut at a blank line) gzip-compressed to `out`."""
    with open(os.path.join(src, "tinyshakespeare.txt"), encoding="utf-8") as f:
        text = f.read()
    cut = text.rfind("\n\n", 0, TEXT_CHARS)
    text = text[:cut + 1]
    with open(out, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
        f.write(text.encode("utf-8"))


def main(argv: list[str] | None = None) -> None:
    """Rebuild both bundles from the directory given (default: $GLASSNET_DATA, else ../shared/data)."""
    argv = sys.argv[1:] if argv is None else argv
    src = argv[0] if argv else os.environ.get("GLASSNET_DATA", "../shared/data")
    make_mnist_small(src, os.path.join(HERE, "mnist_small.npz"))
    make_shakespeare_small(src, os.path.join(HERE, "shakespeare_small.txt.gz"))
    for name in ("mnist_small.npz", "shakespeare_small.txt.gz"):
        print(f"{name}: {os.path.getsize(os.path.join(HERE, name)):,} bytes")


if __name__ == "__main__":
    main()
