"""Worker processes for `DataLoader(num_workers=N)`, as in PyTorch: the main process draws the batches' indices (so the
order is that of `num_workers=0`), N processes load and collate them, and the main process yields the batches in
order.

Each worker gets the dataset (inherited by fork, or pickled with spawn/forkserver: then the dataset and
`collate_fn` must be picklable and the script guarded by `if __name__ == "__main__":`, as with PyTorch), a queue of
(batch number, indices) tasks and a shared queue for results. At most `prefetch_factor` tasks per worker are in
flight. A worker seeds NumPy's global generator and glassnet's default generator with `seed + worker_id`, where
`seed` is derived from the loader's generator state at the start of the epoch *without drawing from it* (so a
shuffled epoch's order, and every later epoch's, is the same as with `num_workers=0`). An exception in a worker is
raised again in the main process with the worker's traceback; a worker that dies is reported by its exit code.
With `persistent_workers=True` the loader keeps its `WorkerPool` between epochs (the workers keep their seeds, as
in PyTorch).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import queue
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy

__all__ = ["Fetcher", "WorkerError", "WorkerInfo", "WorkerPool", "get_worker_info"]


@dataclass(frozen=True)
class WorkerInfo:
    """What `get_worker_info()` returns inside a worker: its id, how many there are, its seed and its dataset copy."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker process: its WorkerInfo (e.g. to shard an iterable source); None elsewhere."""
    return _worker_info


class Fetcher:
    """Turns one task into what the loader yields: a list of indices into a collated batch (one `get_batch` call
    on datasets that have it, else `collate_fn` over the samples), or with `batched=False` one index into a sample.
    The same object serves the main process (num_workers=0) and the workers."""

    def __init__(
        self, dataset: Any, collate_fn: Callable[[list], Any], fast: bool, batched: bool, collate_samples: bool
    ):
        self.dataset, self.collate_fn, self.fast = dataset, collate_fn, fast
        self.batched, self.collate_samples = batched, collate_samples

    def __call__(self, task: Any) -> Any:
        if not self.batched:
            sample = self.dataset[task]
            return self.collate_fn(sample) if self.collate_samples else sample
        if self.fast:
            return self.dataset.get_batch(task)
        return self.collate_fn([self.dataset[i] for i in task])


class StreamFetcher:
    """An IterableDataset's next batch (or, with batch_size=None, its next sample) from this process's own pass over
    it. The task is ("next", epoch): a new epoch starts a new pass. Returns ("batch", value), or ("end", None) once
    the pass is over (the last batch shorter unless drop_last). The main process (num_workers=0) and each worker use
    it alike; a worker's copy of the dataset is its own stream, to shard with get_worker_info() as in PyTorch."""

    def __init__(self, dataset: Any, collate_fn: Callable[[list], Any], batch_size: int | None, drop_last: bool,
                 collate_samples: bool):
        self.dataset, self.collate_fn, self.batch_size = dataset, collate_fn, batch_size
        self.drop_last, self.collate_samples = drop_last, collate_samples
        self.epoch: Any = None
        self.items: Iterator[Any] | None = None

    def __getstate__(self) -> dict:  # sent to spawned workers between passes: the open pass stays here
        return {**self.__dict__, "epoch": None, "items": None}

    def __call__(self, task: tuple[str, Any]) -> tuple[str, Any]:
        if task[1] != self.epoch:
            self.epoch, self.items = task[1], iter(self.dataset)
        if self.items is None:
            return ("end", None)
        if self.batch_size is None:
            for sample in self.items:
                return ("batch", self.collate_fn(sample) if self.collate_samples else sample)
            self.items = None
            return ("end", None)
        batch = list(itertools.islice(self.items, self.batch_size))
        if len(batch) < self.batch_size:
            self.items = None  # the pass is over
            if not batch or self.drop_last:
                return ("end", None)
        return ("batch", self.collate_fn(batch))


def epoch_seed(generator_state: Any) -> int:
    """A 63-bit seed that depends only on the generator's state at the start of the epoch (nothing is drawn)."""
    text = json.dumps(generator_state, sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def _worker_loop(
    worker_id: int,
    num_workers: int,
    seed: int,
    dataset: Any,
    fetch: Callable[[Any], Any],
    init_fn: Callable[[int], None] | None,
    tasks: Any,
    results: Any,
) -> None:
    global _worker_info
    from glassnet import random as gn_random

    _worker_info = WorkerInfo(worker_id, num_workers, seed + worker_id, dataset)
    numpy.random.seed((seed + worker_id) % 2**32)
    gn_random.manual_seed(seed + worker_id)
    try:
        if init_fn is not None:
            init_fn(worker_id)
    except Exception:  # reported on the first task, where the main process is listening
        failure = traceback.format_exc()
    else:
        failure = None
    while True:
        task = tasks.get()
        if task is None:  # the loader is done with this worker
            break
        epoch, number, indices = task
        if failure is not None:
            results.put((epoch, number, False, f"worker_init_fn failed:\n{failure}"))
            continue
        try:
            results.put((epoch, number, True, fetch(indices)))
        except Exception:
            results.put((epoch, number, False, traceback.format_exc()))


class WorkerError(RuntimeError):
    """A DataLoader worker failed (its traceback is in the message) or died."""


class WorkerPool:
    """`loader.num_workers` processes serving `loader.fetcher`; `run(tasks)` is one epoch. A persistent loader keeps
    one pool across epochs (tasks and results carry the epoch, so results of an epoch left early are dropped)."""

    def __init__(self, loader: Any, seed: int):
        context = multiprocessing.get_context(loader.multiprocessing_context)
        self.num_workers, self.prefetch_factor, self.timeout = (
            loader.num_workers,
            loader.prefetch_factor,
            loader.timeout,
        )
        self.results = context.Queue()
        self.task_queues = [context.Queue() for _ in range(self.num_workers)]
        self.workers = [
            context.Process(
                target=_worker_loop,
                daemon=True,
                args=(
                    i,
                    self.num_workers,
                    seed,
                    loader.dataset,
                    loader.fetcher,
                    loader.worker_init_fn,
                    self.task_queues[i],
                    self.results,
                ),
            )
            for i in range(self.num_workers)
        ]
        for w in self.workers:
            w.start()
        self.epoch = 0
        self.closed = False

    def _get(self, wanted: int, worker: int) -> tuple[int, int, bool, Any]:
        """The next result, or WorkerError when a worker died or `timeout` passed."""
        while True:
            try:
                return self.results.get(timeout=self.timeout or 1.0)
            except queue.Empty:
                dead = [(i, w.exitcode) for i, w in enumerate(self.workers) if not w.is_alive()]
                if dead:
                    i, code = dead[0]
                    raise WorkerError(
                        f"DataLoader worker {i} (pid {self.workers[i].pid}) exited unexpectedly with exit code "
                        f"{code} while loading batch {wanted}"
                    ) from None
                if self.timeout:
                    raise WorkerError(
                        f"DataLoader: timed out after {self.timeout} s waiting for batch {wanted} from worker {worker}"
                    ) from None

    def run(self, tasks_in_order: Iterable[tuple[int, Any]]) -> Iterator[Any]:
        """Yield the fetched result of each (batch number, task), in the order given; one epoch."""
        self.epoch += 1
        epoch, n = self.epoch, self.num_workers
        pending = iter(tasks_in_order)
        in_flight: dict[int, int] = {}  # batch number -> worker
        done: dict[int, Any] = {}
        order: list[int] = []
        next_worker = 0
        exhausted = False

        def dispatch() -> None:
            nonlocal next_worker, exhausted
            while not exhausted and len(in_flight) < n * self.prefetch_factor:
                try:
                    number, task = next(pending)
                except StopIteration:
                    exhausted = True
                    return
                self.task_queues[next_worker].put((epoch, number, task))
                in_flight[number] = next_worker
                order.append(number)
                next_worker = (next_worker + 1) % n

        dispatch()
        for wanted in order:  # `order` grows as dispatch() adds tasks
            while wanted not in done:
                result_epoch, number, ok, value = self._get(wanted, in_flight[wanted])
                if result_epoch != epoch:
                    continue  # from an epoch that was left early
                if not ok:
                    raise WorkerError(
                        f"DataLoader worker {in_flight[number]} failed on batch {number}; its traceback:\n{value}"
                    )
                done[number] = value
            del in_flight[wanted]
            dispatch()
            yield done.pop(wanted)

    def close(self) -> None:
        """Stop the workers (each finishes its current task) and release the queues."""
        if self.closed:
            return
        self.closed = True
        for q in self.task_queues:
            q.put(None)
        for w in self.workers:
            w.join(timeout=5)
            if w.is_alive():
                w.terminate()
                w.join()
        for q in (*self.task_queues, self.results):
            q.cancel_join_thread()  # unread results must not keep this process from exiting
            q.close()

    def __del__(self) -> None:
        if not getattr(self, "closed", True):
            self.close()
