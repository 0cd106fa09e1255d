"""DistributedDataParallel: one model replica per rank, gradients averaged over the ranks during backward.

Each rank runs the same model on its own part of the batch. Backward computes the local gradients; as soon as every
gradient of a *bucket* (a group of parameters, in the order backward reaches them) is complete, the bucket is copied
into one flat buffer and a non-blocking MPI all-reduce starts on it, while backward goes on with the layers nearer
the input. When the last bucket has started, the walk waits for them all and writes the averaged gradients back into
each `.grad`; so when `loss.backward()` returns, every rank holds the same gradients and `optimizer.step()` keeps the
replicas identical. As in PyTorch (whose DDP this follows), 2 ranks with batch 32 each train exactly as 1 process
with batch 64 when the loss is a mean over the batch.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy

from glassnet import distributed
from glassnet.autograd import is_grad_enabled
from glassnet.nn.module import Module
from glassnet.tensor import Tensor

__all__ = ["DistributedDataParallel"]


class _Progress:
    """A background thread that enters MPI every `interval` seconds while reductions are in flight.

    MPI moves a non-blocking all-reduce forward only inside MPI calls. Backward spends most of its time in NumPy,
    which releases the GIL, so this thread can make those calls meanwhile: it probes the communicator (which runs
    MPI's progress engine for every pending operation) and sleeps, using a few microseconds of CPU per wake-up
    instead of a spinning core. It never touches the requests themselves; the training thread waits for those.
    """

    def __init__(self, comm: Any, interval: float = 500e-6):
        self.comm = comm
        self.interval = interval
        self.active = threading.Event()
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="glassnet-mpi-progress", daemon=True)
        self.thread.start()
        atexit.register(self.close)  # before mpi4py's own exit handler finalises MPI (handlers run newest first)

    def _run(self) -> None:
        while not self.closed:
            self.active.wait()
            while self.active.is_set() and not self.closed:
                self.comm.Iprobe()
                time.sleep(self.interval)

    def close(self) -> None:
        """Stop the thread (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self.active.set()
        self.thread.join()
        atexit.unregister(self.close)


class _ReductionState:
    """Where the reduction of the current backward stands."""

    def __init__(self, n_params: int):
        self.ready = [False] * n_params  # which parameters' gradients are complete
        self.expecting = False  # a forward ran whose gradients must be reduced
        self.next_bucket = 0  # buckets before this one have started


class _Bucket:
    """Parameters whose gradients travel together in one flat buffer (one dtype)."""

    def __init__(self, indices: list[int], params: list, dtype: numpy.dtype):
        self.indices = indices
        self.params = params
        sizes = [int(p.data.size) for p in params]
        self.offsets = numpy.concatenate([[0], numpy.cumsum(sizes)]).astype(int).tolist()
        self.buffer = numpy.zeros(self.offsets[-1], dtype=dtype)
        self.missing = len(params)
        self.request: Any = None

    def fill(self) -> None:
        """Copy the parameters' gradients into the buffer (zeros for a parameter without one)."""
        for p, start, end in zip(self.params, self.offsets, self.offsets[1:]):
            g = p.grad
            if g is None:
                self.buffer[start:end] = 0
            else:
                self.buffer[start:end] = g.data.reshape(-1)


class DistributedDataParallel(Module):
    """Wrap `module` for data-parallel training over the ranks of the process group.

    At construction every rank checks that all ranks hold the same architecture (parameter and buffer names, shapes
    and dtypes; a mismatch raises the same error on every rank) and takes rank 0's parameters and buffers.

    Args:
        module: the model; its parameters are shared, not copied (the optimiser keeps working on them).
        bucket_cap_mb: the largest bucket, in MiB (PyTorch's default 25; smaller buckets start sooner).
        find_unused_parameters: after each forward, walk the graph from the outputs and mark the parameters it does
            not reach as ready (with a zero gradient), so that their buckets do not wait forever. Parameters that got
            no gradient on any rank keep their `.grad` unchanged, as in PyTorch.
        broadcast_buffers: before each training forward, copy rank 0's buffers (BatchNorm running statistics) to
            every rank (evaluation forwards, in eval mode or under no_grad, communicate nothing).

    `no_sync()` skips the all-reduce (gradient accumulation: the gradients of several backward passes add up
    locally and are averaged by the first backward outside the block). `state_dict()` keys start with "module.",
    as in PyTorch; save `ddp.module.state_dict()` for a checkpoint that loads without the wrapper.
    """

    def __init__(
        self,
        module: Module,
        bucket_cap_mb: float = 25.0,
        find_unused_parameters: bool = False,
        broadcast_buffers: bool = True,
    ):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a Module, got {type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb!r}")
        self.module = module
        self.find_unused_parameters = bool(find_unused_parameters)
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = float(bucket_cap_mb)
        self.world_size = distributed.get_world_size()
        self.rank = distributed.get_rank()
        self._mpi = distributed._world().MPI
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._names = [n for n, _ in named]
        self._params = [p for _, p in named]
        self._buffers_to_sync = [b for _, b in module.named_buffers() if b is not None]
        self._check_same_architecture()
        # The reductions run on a communicator of their own, so that collectives the training thread makes meanwhile
        # (SyncBatchNorm's, during the same backward) cannot be matched with them.
        self._comm = distributed._world().comm.Dup()
        self._progress = _Progress(self._comm)
        for tensor in [p for _, p in module.named_parameters()] + self._buffers_to_sync:
            distributed.broadcast(tensor, src=0)
        self._buckets = self._make_buckets(int(self.bucket_cap_mb * 2**20))
        self._bucket_of = {i: b for b, bucket in enumerate(self._buckets) for i in bucket.indices}
        # What the coming backward's reduction has done so far (a plain object: written at every gradient, it
        # skips Module.__setattr__'s bookkeeping).
        self._state = _ReductionState(len(self._params))
        self._require_sync = True
        self._grad_ready_handles = [
            p.register_post_accumulate_grad_hook(self._make_hook(i)) for i, p in enumerate(self._params)
        ]
        # The last reduction (perf_counter seconds): when the first bucket started, when the walk had handed over
        # the last one, how long finishing waited for the network after that, and the fraction of the gradient
        # bytes already reduced by then (reduced while backward was computing).
        self.last_reduction: dict[str, float] = {}

    # ----- construction -------------------------------------------------------------------------------------------
    def _check_same_architecture(self) -> None:
        mine = [["parameter", n, list(p.shape), str(p.dtype)] for n, p in self.module.named_parameters()]
        mine += [["buffer", n, list(b.shape), str(b.dtype)] for n, b in self.module.named_buffers() if b is not None]
        everyone = distributed.all_gather_json(mine)
        for rank, theirs in enumerate(everyone):
            if theirs == everyone[0]:
                continue
            raise RuntimeError(
                "DistributedDataParallel: the ranks hold different models; rank "
                f"{rank} differs from rank 0: {_first_difference(everyone[0], theirs, rank)}"
            )

    def _make_buckets(self, cap_bytes: int) -> list[_Bucket]:
        """Buckets in the reverse order of registration, which is about the order backward completes gradients
        (the last layer first); one dtype per bucket."""
        buckets: list[_Bucket] = []
        current: list[int] = []
        size = 0
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            nbytes = int(p.data.nbytes)
            if current and (size + nbytes > cap_bytes or self._params[current[0]].dtype != p.dtype):
                buckets.append(_Bucket(current, [self._params[j] for j in current], self._params[current[0]].dtype))
                current, size = [], 0
            current.append(i)
            size += nbytes
        if current:
            buckets.append(_Bucket(current, [self._params[j] for j in current], self._params[current[0]].dtype))
        return buckets

    # ----- the forward pass -----------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the module; when gradients will be needed, get ready to reduce them during the coming backward."""
        if self._state.expecting:
            self._raise_unfinished()
        # Collectives only in a training step (every rank runs the same number of those): an evaluation forward
        # communicates nothing, so ranks may evaluate shards of different lengths.
        training_step = self.training and is_grad_enabled()
        if training_step and self.broadcast_buffers and self._buffers_to_sync:
            for b in self._buffers_to_sync:
                distributed.broadcast(b, src=0)
        output = self.module(*args, **kwargs)
        if is_grad_enabled() and self._require_sync and self._params:
            self._prepare(output)
        return output

    def _prepare(self, output: Any) -> None:
        self._state.ready = [False] * len(self._params)
        for bucket in self._buckets:
            bucket.missing = len(bucket.params)
            bucket.request = None
        self._state.next_bucket = 0
        self._state.expecting = True
        self.last_reduction.clear()
        if self.find_unused_parameters:
            reached = _leaves_reached(output)
            for i, p in enumerate(self._params):
                if id(p) not in reached:
                    self._mark_ready(i)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside this block gradients are not reduced: they accumulate locally until a backward outside it."""
        previous = self._require_sync
        self._require_sync = False
        try:
            yield
        finally:
            self._require_sync = previous

    # ----- during backward --------------------------------------------------------------------------------------
    def _make_hook(self, index: int):
        def hook(_param: Tensor) -> None:
            if self._state.expecting:
                self._mark_ready(index)

        return hook

    def _mark_ready(self, index: int) -> None:
        if self._state.ready[index]:
            raise RuntimeError(
                f"DistributedDataParallel: parameter {self._names[index]!r} got a second gradient after the same "
                "forward (two backward passes through one forward are not supported; run forward again)"
            )
        self._state.ready[index] = True
        bucket = self._buckets[self._bucket_of[index]]
        bucket.missing -= 1
        if bucket.missing == 0:
            self._start_ready_buckets()
        elif self._state.next_bucket:  # MPI moves started reductions only inside MPI calls: one at every gradient
            self._mpi.Request.Testall([b.request for b in self._buckets[: self._state.next_bucket]])

    def _start_ready_buckets(self) -> None:
        # Buckets start strictly in order, so that every rank issues the same collectives in the same order.
        buckets, mpi = self._buckets, self._mpi
        while self._state.next_bucket < len(buckets) and buckets[self._state.next_bucket].missing == 0:
            bucket = buckets[self._state.next_bucket]
            bucket.fill()
            if self._state.next_bucket == 0:
                self.last_reduction["first_start"] = time.perf_counter()
            bucket.request = self._comm.Iallreduce(mpi.IN_PLACE, bucket.buffer, op=mpi.SUM)
            self._state.next_bucket += 1
        if not self._progress.active.is_set():
            self._progress.active.set()
        if self._state.next_bucket == len(buckets):
            self._finish()
        else:  # give MPI a chance to move the started reductions forward while backward computes the next bucket
            mpi.Request.Testall([b.request for b in buckets[: self._state.next_bucket]])

    def _finish(self) -> None:
        """Wait for every bucket, then write the averaged gradients into `.grad`."""
        handed_over = time.perf_counter()
        # How much had been reduced while backward was still computing: the buckets already complete now.
        overlapped = sum(b.buffer.nbytes for b in self._buckets[:-1] if b.request.Test())
        used = None
        if self.find_unused_parameters:  # which parameters got a gradient on some rank
            used = numpy.array([p.grad is not None for p in self._params], dtype=numpy.int32)
            used_request = self._comm.Iallreduce(self._mpi.IN_PLACE, used, op=self._mpi.SUM)
        self._mpi.Request.Waitall([b.request for b in self._buckets])
        if used is not None:
            used_request.Wait()
        self._progress.active.clear()
        done = time.perf_counter()
        for bucket in self._buckets:
            scale = bucket.buffer.dtype.type(1.0 / self.world_size)  # in the bucket's dtype: grads keep theirs
            for i, p, start, end in zip(bucket.indices, bucket.params, bucket.offsets, bucket.offsets[1:]):
                if used is not None and not used[i]:
                    continue
                summed = bucket.buffer[start:end].reshape(p.shape)
                if p.grad is None:
                    p.grad = Tensor(summed * scale)
                else:  # the average, written in one pass over the memory
                    numpy.multiply(summed, scale, out=p.grad.data)
        self._state.expecting = False
        self.last_reduction.update(
            handed_over=handed_over,
            done=done,
            waited=done - handed_over,
            overlapped_fraction=overlapped / max(1, sum(b.buffer.nbytes for b in self._buckets)),
        )

    def _raise_unfinished(self) -> None:
        missing = [self._names[i] for i, ready in enumerate(self._state.ready) if not ready]
        self._state.expecting = False
        raise RuntimeError(
            "DistributedDataParallel: the previous forward's gradients were never all reduced; parameters without a "
            f"gradient: {', '.join(missing[:8])}{' …' if len(missing) > 8 else ''}. Every training forward must be "
            "followed by backward on every rank; if some parameters take no part in the loss, pass "
            "find_unused_parameters=True"
        )

    def _release(self) -> None:
        """Unregister the gradient hooks and stop the progress thread (the Trainer's wrapper, when its fit ends);
        the wrapper is then spent."""
        for handle in self._grad_ready_handles:
            handle.remove()
        self._grad_ready_handles = []
        self._progress.close()
        self._comm.Free()

    def extra_repr(self) -> str:
        return (
            f"world_size={self.world_size}, buckets={len(self._buckets)}, bucket_cap_mb={self.bucket_cap_mb}, "
            f"find_unused_parameters={self.find_unused_parameters}"
        )


def _leaves_reached(output: Any) -> set[int]:
    """The ids of the leaf tensors the graph behind `output` (a Tensor or nested tuples/lists/dicts) reaches."""
    roots: list = []
    stack = [output]
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            roots.append(item)
        elif isinstance(item, (tuple, list)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    reached: set[int] = set()
    nodes = [t.grad_fn for t in roots if t.grad_fn is not None]
    reached.update(id(t) for t in roots if t.grad_fn is None)
    seen = {id(n) for n in nodes}
    while nodes:
        node = nodes.pop()
        for inp in node.inputs:
            if not isinstance(inp, Tensor):
                continue
            if inp.grad_fn is None:
                reached.add(id(inp))
            elif id(inp.grad_fn) not in seen:
                seen.add(id(inp.grad_fn))
                nodes.append(inp.grad_fn)
    return reached


def _first_difference(reference: list, theirs: list, rank: int) -> str:
    for ref, other in zip(reference, theirs):
        if ref != other:
            kind, name = other[0], other[1]
            if ref[1] != name:
                return f"{kind} {name!r} on rank {rank} where rank 0 has {ref[0]} {ref[1]!r}"
            return (
                f"{kind} {name!r} has shape {tuple(other[2])} and dtype {other[3]} on rank {rank}, "
                f"shape {tuple(ref[2])} and dtype {ref[3]} on rank 0"
            )
    longer, count = ("rank 0", len(reference)) if len(reference) > len(theirs) else (f"rank {rank}", len(theirs))
    return (
        f"rank 0 has {len(reference)} parameters and buffers, rank {rank} has {len(theirs)} "
        f"({longer} has {count - min(len(reference), len(theirs))} more)"
    )
