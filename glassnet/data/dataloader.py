"""DataLoader: turns a Dataset into batches, with samplers for order and a collate function for stacking.

Shuffling draws from the `generator` it is given, or else from glassnet's default generator (seeded by
`gn.manual_seed`); so saving and restoring that generator's state (`Generator.get_state`/`set_state`)
reproduces the order of every later epoch. `loader.state_dict()` adds the position inside the current
epoch, for resuming mid-epoch.
"""

from __future__ import annotations

import copy
import itertools
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy

from glassnet.data.dataset import Dataset, IterableDataset
from glassnet.data.workers import Fetcher, StreamFetcher
from glassnet.random import Generator, default_generator
from glassnet.tensor import Tensor


# ----- samplers ------------------------------------------------------------------------------------------------
class Sampler:
    """Yields dataset indices in some order; `len(sampler)` is how many."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, …, len(data_source) - 1."""

    def __init__(self, data_source: Sequence | Dataset):
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of the indices (or `num_samples` draws with replacement), drawn afresh each epoch."""

    def __init__(self, data_source: Sequence | Dataset, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if num_samples is not None and (not isinstance(num_samples, int) or num_samples <= 0):
            raise ValueError(f"RandomSampler: num_samples must be a positive int, got {num_samples!r}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _rng(self) -> numpy.random.Generator:
        return (self.generator or default_generator).rng

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        rng = self._rng()
        if self.replacement:
            return iter(rng.integers(0, n, size=self.num_samples).tolist())
        order: list[int] = []
        while len(order) < self.num_samples:
            order.extend(rng.permutation(n).tolist())
        return iter(order[: self.num_samples])

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices, in a random order each epoch."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None):
        self.indices = list(indices)
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        rng = (self.generator or default_generator).rng
        return iter([self.indices[i] for i in rng.permutation(len(self.indices)).tolist()])

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """`num_samples` indices drawn afresh each epoch, index i with probability wᵢ / Σw (PyTorch's sampler for
    unbalanced classes: give each sample the inverse of its class's frequency). With replacement=False each index
    is drawn at most once, so num_samples may not exceed the number of non-zero weights."""

    def __init__(self, weights: Sequence[float] | Tensor, num_samples: int, replacement: bool = True,
                 generator: Generator | None = None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"WeightedRandomSampler: num_samples must be a positive int, got {num_samples!r}")
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement must be a bool, got {replacement!r}")
        w = numpy.asarray(weights.data if isinstance(weights, Tensor) else weights, dtype=numpy.float64)
        if w.ndim != 1 or w.size == 0:
            raise ValueError(f"WeightedRandomSampler: weights must be a non-empty 1-D sequence, got shape {w.shape}")
        if not (numpy.isfinite(w).all() and (w >= 0).all() and w.sum() > 0):
            raise ValueError("WeightedRandomSampler: weights must be finite and ≥ 0 with a positive sum")
        if not replacement and num_samples > numpy.count_nonzero(w):
            raise ValueError(
                f"WeightedRandomSampler: {num_samples} samples without replacement, but only "
                f"{numpy.count_nonzero(w)} of the {w.size} weights are non-zero"
            )
        self.weights, self.num_samples, self.replacement, self.generator = w, num_samples, replacement, generator

    def __iter__(self) -> Iterator[int]:
        rng = (self.generator or default_generator).rng
        p = self.weights / self.weights.sum()
        return iter(rng.choice(p.size, size=self.num_samples, replace=self.replacement, p=p).tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups a sampler's indices into lists of `batch_size` (the last shorter unless `drop_last`)."""

    def __init__(self, sampler: Sampler | Sequence[int], batch_size: int, drop_last: bool = False):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size must be a positive int, got {batch_size!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# ----- collate -------------------------------------------------------------------------------------------------
def _check_iterable_options(shuffle: bool, sampler: Any, batch_sampler: Any) -> None:
    """A stream has no indices to shuffle or sample (PyTorch refuses the same options)."""
    for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
        if value:
            raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, but got "
                             f"{name}={value!r}")


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch: Tensors/arrays/numbers -> one Tensor with a new first dimension;
    tuples, lists and dicts are collated field by field; strings are returned as a list."""
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        if any(b.requires_grad for b in batch):
            from glassnet.tensor import stack

            return stack(batch)
        return Tensor(_stack_arrays([b.data for b in batch]))
    if isinstance(elem, numpy.ndarray):
        return Tensor(_stack_arrays([numpy.asarray(b) for b in batch]))
    if isinstance(elem, (bool, numpy.bool_)):
        return Tensor(numpy.asarray(batch, dtype=bool))
    if isinstance(elem, numbers.Integral):
        return Tensor(numpy.asarray(batch, dtype=numpy.int64))
    if isinstance(elem, numbers.Real):
        return Tensor(numpy.asarray(batch, dtype=numpy.float32) if isinstance(elem, float) else numpy.asarray(batch))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        return {key: default_collate([b[key] for b in batch]) for key in elem}
    if isinstance(elem, Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise ValueError(f"default_collate: samples have different lengths {sorted({len(b) for b in batch})}")
        fields = [default_collate(list(field)) for field in zip(*batch)]
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(f"default_collate: don't know how to batch samples of type {type(elem).__name__}")


def _stack_arrays(arrays: list) -> numpy.ndarray:
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"default_collate: samples in a batch must share one shape, got {sorted(shapes)}")
    return numpy.stack(arrays)


# ----- loader --------------------------------------------------------------------------------------------------
class DataLoader:
    """Iterate over `dataset` in batches (PyTorch's DataLoader).

    `shuffle=True` draws a fresh permutation each epoch from `generator` (or gn's default generator).
    When the dataset has a `get_batch(indices)` method (TensorDataset, a Subset of one, CharDataset) and no
    `collate_fn` is given, each batch is one fancy index per tensor instead of a Python loop over samples
    (the fast path; same result, 7-20x faster on MNIST-sized data).

    `num_workers=N` loads batches in N worker processes (glassnet/data/workers.py): the same batches in the same
    order as `num_workers=0`, worth it when preparing a sample costs more than moving it between processes
    (decoding, augmenting; see bench/dataloader.py), not for tensors already in memory. `worker_init_fn`,
    `prefetch_factor`, `timeout`, `multiprocessing_context` and `persistent_workers` (keep the processes between
    epochs) are PyTorch's. `pin_memory` is accepted and does
    nothing: pinned (page-locked) memory speeds copies to a GPU, and on the CPU there is no copy to speed.
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool = False,
                 sampler: Sampler | Sequence[int] | None = None, batch_sampler: Sampler | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: str | None = None, generator: Generator | None = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False):
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be an int >= 0, got {num_workers!r}")
        if prefetch_factor is not None and num_workers == 0:
            raise ValueError("DataLoader: prefetch_factor is for worker processes; it needs num_workers > 0")
        if prefetch_factor is not None and (not isinstance(prefetch_factor, int) or prefetch_factor < 1):
            raise ValueError(f"DataLoader: prefetch_factor must be a positive int, got {prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers=True needs num_workers > 0")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout must be >= 0 seconds, got {timeout!r}")
        if isinstance(dataset, IterableDataset):
            _check_iterable_options(shuffle, sampler, batch_sampler)
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler and drop_last")
            batch_size, drop_last = None, False
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_size is not None and (not isinstance(batch_size, int) or isinstance(batch_size, bool)
                                       or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size must be a positive int or None, got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.generator = generator
        if isinstance(dataset, IterableDataset):  # no indices: __iter__ batches the stream (samplers unused)
            sampler = []
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        if batch_sampler is None and batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_sampler = batch_sampler
        self.collate_fn = collate_fn if collate_fn is not None else default_collate
        # Fast path: datasets that can hand over a whole collated batch (TensorDataset, subsets of one,
        # CharDataset) skip the per-sample loop when collation is the default.
        self._fast = collate_fn is None and callable(getattr(dataset, "get_batch", None))
        self.fetcher: Any = Fetcher(dataset, self.collate_fn, self._fast, batched=self.batch_sampler is not None,
                                    collate_samples=self.collate_fn is not default_collate)
        if isinstance(dataset, IterableDataset):
            self.fetcher = StreamFetcher(dataset, self.collate_fn, batch_size, drop_last,
                                         collate_samples=self.collate_fn is not default_collate)
        self._passes = 0  # an IterableDataset's passes so far: each epoch's is told apart by its number
        self.num_workers = num_workers
        self.pin_memory = bool(pin_memory)  # accepted for PyTorch's sake: nothing to pin on the CPU
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = 2 if prefetch_factor is None else prefetch_factor
        self.persistent_workers = bool(persistent_workers)
        self._pool: Any = None  # the worker processes kept between epochs when persistent_workers=True
        self._epoch_start_state: dict | None = None
        self._batches_done = 0
        self._skip = 0

    def _generator_obj(self) -> Generator:
        return self.generator or default_generator

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):  # as PyTorch: from the dataset's own length, if it has one
            n = len(self.dataset)  # a TypeError for a stream without __len__
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def _fetch(self, indices: list[int]) -> Any:
        return self.fetcher(indices)

    def __iter__(self) -> Iterator[Any]:
        # Remember where the generator stood before this epoch drew its order: that is the resume point.
        self._epoch_start_state = self._generator_obj().get_state()
        skip, self._skip = self._skip, 0
        self._batches_done = 0
        if isinstance(self.dataset, IterableDataset):
            yield from self._iter_stream(skip)
            return
        tasks = self.batch_sampler if self.batch_sampler is not None else self.sampler
        if self.num_workers == 0:
            for k, task in enumerate(tasks):
                self._batches_done = k + 1
                if k < skip:
                    continue
                yield self.fetcher(list(task) if self.batch_sampler is not None else task)
            return

        def numbered():  # the order is drawn here, in the main process, exactly as with num_workers=0
            for k, task in enumerate(tasks):
                if k >= skip:
                    yield k, (list(task) if self.batch_sampler is not None else task)

        self._batches_done = skip
        for batch in self._pooled(numbered()):
            self._batches_done += 1
            yield batch

    def _pooled(self, numbered: Iterator[tuple[int, Any]]) -> Iterator[Any]:
        """The worker processes' results for (batch number, task) pairs, in that order (one epoch); a persistent
        pool is kept for the next epoch, any other closed at the end."""
        from glassnet.data.workers import WorkerPool, epoch_seed

        pool = self._pool if self._pool is not None else WorkerPool(self, epoch_seed(self._epoch_start_state))
        if self.persistent_workers:
            self._pool = pool
        try:
            yield from pool.run(numbered)
        except GeneratorExit:  # the epoch was left early: a persistent pool stays (it drops that epoch's results)
            if not self.persistent_workers:
                pool.close()
            raise
        except BaseException:  # a failed pool is not reused
            pool.close()
            self._pool = None
            raise
        if not self.persistent_workers:
            pool.close()

    def _iter_stream(self, skip: int) -> Iterator[Any]:
        """An IterableDataset's batches (StreamFetcher): with num_workers=0 one pass in this process; with N workers
        each worker makes its own pass over its copy, and their batches come in turn (worker 0's first, worker 1's
        first, …), a worker whose pass is over being skipped, as in PyTorch. `skip` batches are passed over (resume)."""
        self._passes += 1
        task = ("next", self._passes)
        if self.num_workers == 0:
            fetch = copy.copy(self.fetcher)  # this pass's position stays out of the loader (and of spawned workers)
            results: Iterator[tuple[str, Any]] = (fetch(task) for _ in itertools.count())
        else:
            results = self._pooled((k, task) for k in itertools.count())
        ended: set[int] = set()
        try:
            for k, (kind, value) in enumerate(results):
                if kind == "end":
                    ended.add(k % max(self.num_workers, 1))
                    if len(ended) == max(self.num_workers, 1):
                        return
                    continue
                self._batches_done += 1
                if self._batches_done > skip:
                    yield value
        finally:
            results.close()  # the tasks still in flight belong to a finished pass: their results are dropped

    # ----- resume ----------------------------------------------------------------------------------------------
    @property
    def state(self) -> dict:
        """Where the loader stands: the generator state at the start of the current epoch and the number of batches
        already yielded in it (JSON-serialisable; see `load_state_dict`)."""
        gen_state = self._epoch_start_state
        if gen_state is None:
            gen_state = self._generator_obj().get_state()
        return {"generator_state": gen_state, "batches_done": self._batches_done}

    def state_dict(self) -> dict:
        """The resume point, as `state`."""
        return self.state

    def load_state_dict(self, state: dict) -> None:
        """Resume: rewind the generator to the saved epoch start; the next iteration redraws the same order and
        skips the batches already done."""
        self._generator_obj().set_state(state["generator_state"])
        self._skip = int(state.get("batches_done", 0))
        self._epoch_start_state = state["generator_state"]
        self._batches_done = self._skip
