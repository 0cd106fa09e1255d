"""Character-level text data: `CharDataset` cuts a text into (x, y) windows where y is x shifted by one."""

from __future__ import annotations

import gzip
import os

import numpy

from glassnet.data.dataset import Dataset
from glassnet.tensor import Tensor


def _read_text(path: str | os.PathLike, encoding: str = "utf-8") -> str:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"CharDataset: no such text file {os.path.abspath(path)}")
    if path.endswith(".gz"):
        with gzip.open(path, "rt", encoding=encoding) as f:
            return f.read()
    with open(path, encoding=encoding) as f:
        return f.read()


class CharDataset(Dataset):
    """Windows of `block_size` character ids from `text`; item i is (ids[i:i+B], ids[i+1:i+B+1]) as int64 Tensors.

    The vocabulary is the sorted set of distinct characters (`chars`, `stoi`, `itos`, `vocab_size`)."""

    def __init__(self, text: str | os.PathLike, block_size: int, chars: str | list[str] | None = None):
        if isinstance(text, os.PathLike):  # a pathlib.Path: read the file (a plain str is always the text itself)
            text = _read_text(text)
        if not isinstance(text, str):
            raise TypeError(f"CharDataset: text must be a str or a path, got {type(text).__name__}")
        if not isinstance(block_size, int) or block_size <= 0:
            raise ValueError(f"CharDataset: block_size must be a positive int, got {block_size!r}")
        if len(text) < block_size + 1:
            raise ValueError(f"CharDataset: text of {len(text)} characters is too short for block_size {block_size} "
                             f"(need at least {block_size + 1})")
        self.text = text
        self.block_size = block_size
        self.chars = sorted(set(text)) if chars is None else list(chars)
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.itos = dict(enumerate(self.chars))
        self.data = self.encode(text)

    @classmethod
    def from_file(cls, path: str | os.PathLike, block_size: int, encoding: str = "utf-8") -> CharDataset:
        """Read a text file (gzip-compressed if its name ends in .gz) and build the dataset."""
        return cls(_read_text(path, encoding), block_size)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, s: str) -> numpy.ndarray:
        """Characters -> int64 ids."""
        try:
            return numpy.fromiter((self.stoi[c] for c in s), dtype=numpy.int64, count=len(s))
        except KeyError as e:
            raise ValueError(f"CharDataset.encode: character {e.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Tensor | numpy.ndarray | list[int]) -> str:
        """Ids -> text."""
        if isinstance(ids, Tensor):
            ids = ids.data
        return "".join(self.itos[int(i)] for i in numpy.asarray(ids).reshape(-1))

    def __len__(self) -> int:
        return len(self.data) - self.block_size

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"CharDataset: index {index} out of range for length {n}")
        chunk = self.data[index: index + self.block_size + 1]
        return Tensor(chunk[:-1]), Tensor(chunk[1:])

    def get_batch(self, indices: list[int] | numpy.ndarray) -> tuple[Tensor, Tensor]:
        """Windows at `indices` as (B, block_size) x and y in one gather (DataLoader's fast path)."""
        idx = numpy.asarray(indices, dtype=numpy.int64)
        n = len(self)
        idx = numpy.where(idx < 0, idx + n, idx)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"CharDataset: indices out of range for length {n}")
        chunk = self.data[idx[:, None] + numpy.arange(self.block_size + 1)]
        return Tensor(chunk[:, :-1]), Tensor(chunk[:, 1:])
