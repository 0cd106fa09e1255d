"""Datasets: the indexable collections a DataLoader draws from (`Dataset`, `TensorDataset`, `Subset`, …)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Any

import numpy

from glassnet.random import Generator, get_rng
from glassnet.tensor import Tensor


class Dataset:
    """A map from an index in `range(len(self))` to one sample; subclasses define `__getitem__` and `__len__`."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset:
    """A stream of samples (PyTorch's `IterableDataset`): subclasses define `__iter__`; the DataLoader batches
    what it yields, in order (no indices, so no shuffling or sampler). For data read as it comes (lines of a
    large file, generated samples) rather than looked up by index."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(numpy.asarray(x))


class TensorDataset(Dataset):
    """Samples are rows of tensors that share their first dimension: item i is `(t[i] for t in tensors)`."""

    def __init__(self, *tensors: Tensor | numpy.ndarray):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.tensors = tuple(_as_tensor(t) for t in tensors)
        sizes = [t.shape[0] if t.ndim else None for t in self.tensors]
        if any(s is None for s in sizes) or len(set(sizes)) != 1:
            shapes = ", ".join(str(tuple(t.shape)) for t in self.tensors)
            raise ValueError(f"TensorDataset: all tensors must share their first dimension; got shapes {shapes}")

    def _take(self, index: Any) -> tuple[Tensor, ...]:
        # Samples are data, not graph nodes: index the arrays directly unless a tensor asks for gradients.
        return tuple(t[index] if t.requires_grad else Tensor(t.data[index]) for t in self.tensors)

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return self._take(index)

    def get_batch(self, indices: Sequence[int]) -> tuple[Tensor, ...]:
        """A whole collated batch at once (one fancy index per tensor): DataLoader's fast path.

        Equal to `default_collate([self[i] for i in indices])`, without the per-sample Python loop."""
        return self._take(numpy.asarray(indices, dtype=numpy.int64))

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index: int) -> Any:
        return self.dataset[self.indices[index]]

    def __getattr__(self, name: str) -> Any:
        # A subset of a dataset with a batched fast path keeps it (e.g. random_split of a TensorDataset).
        if name == "get_batch" and hasattr(self.__dict__.get("dataset"), "get_batch"):
            return lambda indices: self.dataset.get_batch([self.indices[i] for i in indices])
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several datasets one after another."""

    def __init__(self, datasets: Sequence[Dataset]):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: needs at least one dataset")
        self.cumulative_sizes = list(numpy.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"ConcatDataset: index {index} out of range for length {n}")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def random_split(dataset: Dataset, lengths: Sequence[int | float], generator: Generator | None = None) -> list[Subset]:
    """Split `dataset` into non-overlapping random `Subset`s of the given lengths (or fractions summing to 1)."""
    n = len(dataset)
    if lengths and all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1.0, abs_tol=1e-6):
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):  # hand the remainder out round-robin, as PyTorch does
            counts[i % len(counts)] += 1
        lengths = counts
    if any(int(x) != x or x < 0 for x in lengths) or sum(lengths) != n:
        raise ValueError(
            f"random_split: lengths {list(lengths)} must be non-negative integers summing to the dataset's length {n}"
            " (or fractions summing to 1)"
        )
    order = get_rng(generator).permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, order[start:start + int(length)].tolist()))
        start += int(length)
    return out
