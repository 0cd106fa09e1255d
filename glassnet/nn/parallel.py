"""DistributedDataParallel: one model replica per rank, gradients averaged over the ranks during backward.

Each rank runs the same model on its own part of the batch. Backward computes the local gradients; as soon as every
gradient of a *bucket* (a group of parameters, in the order backward reaches them) is complete, the gradients are
written into one flat buffer already divided by the world size (one pass over the memory) and a non-blocking MPI
all-reduce starts on it, while backward goes on with the layers nearer the input. When the last bucket has started,
the walk waits for them all and each `.grad` becomes a view of its slice of the reduced buffer (nothing is copied
back); so when `loss.backward()` returns, every rank holds the same gradients and `optimizer.step()` keeps the
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
        self.inflight: list = []  # the requests of the started buckets not yet seen complete
        self.inflight_buckets: list = []  # their buckets, in the same order
        self.unreached: set[int] = set()  # parameters the forward did not reach (find_unused_parameters)


class _Bucket:
    """Parameters whose gradients travel together in one flat buffer (one dtype).

    Two ways to hold the buffer, as PyTorch's `gradient_as_bucket_view`:

    - False (the default): each step the bucket takes a fresh buffer (NumPy reuses the memory the previous step's
      gradients freed), writes every gradient into it already divided by the world size (the copy and the average
      in one pass), reduces it, and hands it over: each `.grad` becomes a view of its slice. A `.grad` kept from an
      earlier step is never written again. A bucket of one parameter whose gradient is contiguous needs no buffer:
      its gradient is divided in place and reduced where it lies.
    - True: the bucket keeps one buffer for the life of the wrapper and `.grad` stays a view of it; a gradient that
      already is that view (accumulated in place after `zero_grad(set_to_none=False)` or under `no_sync()`) is only
      divided in place, with no copy at all.
    """

    def __init__(self, indices: list[int], params: list, dtype: numpy.dtype, as_view: bool):
        self.indices = indices
        self.params = params
        self.dtype = numpy.dtype(dtype)
        self.shapes = [tuple(p.data.shape) for p in params]
        sizes = [int(p.data.size) for p in params]
        self.offsets = numpy.concatenate([[0], numpy.cumsum(sizes)]).astype(int).tolist()
        self.size = self.offsets[-1]
        self.nbytes = self.size * self.dtype.itemsize
        self.as_view = as_view
        self.single = len(params) == 1 and not as_view
        if as_view:  # the buffer, and the .grad Tensors viewing it, made once
            self.buffer = numpy.zeros(self.size, dtype=self.dtype)
            self.arrays = [
                self.buffer[start:end].reshape(shape)
                for start, end, shape in zip(self.offsets, self.offsets[1:], self.shapes)
            ]
            self.views = [Tensor._make(a, None) for a in self.arrays]
        else:
            self.buffer = None
            self.arrays = self.views = None
        self.array: numpy.ndarray | None = None  # the memory this step reduces
        self.targets: list | None = None  # each parameter's part of it, shaped as the parameter
        self.in_place = False  # this step reduces a single gradient where it lies
        # (as_view) gradients of parameters the forward did not reach, kept in case no rank used them
        self.saved: dict[int, numpy.ndarray] = {}
        self.missing = len(params)
        self.request: Any = None
        self.started = 0.0  # perf_counter when its reduction started
        self.seen_done = 0.0  # when the training thread first saw it complete (0: not yet)

    def fill(self, scale: Any, unreached: set[int]) -> numpy.ndarray:
        """The memory to reduce, holding each parameter's gradient times `scale` (zeros for one without a
        gradient)."""
        params = self.params
        if self.single:
            g = params[0]._grad
            if g is not None:
                data = g.data
                if not isinstance(data, numpy.ndarray):
                    _refuse(data, self, 0)
                if data.flags.c_contiguous and data.flags.writeable:
                    numpy.multiply(data, scale, out=data)
                    self.in_place = True
                    self.array = data
                    return data
        self.in_place = False
        if self.as_view:
            buffer, targets = self.buffer, self.arrays
        else:
            buffer = numpy.empty(self.size, dtype=self.dtype)
            targets = [
                buffer[start:end].reshape(shape)
                for start, end, shape in zip(self.offsets, self.offsets[1:], self.shapes)
            ]
        for k, p in enumerate(params):
            g = p._grad
            target = targets[k]
            if g is None:
                target.fill(0)
            elif g.data is target:  # (as_view) accumulated in the bucket already
                if self.indices[k] in unreached:
                    self.saved[k] = target.copy()
                numpy.multiply(target, scale, out=target)
            else:
                data = g.data
                if not isinstance(data, numpy.ndarray) or data.dtype != self.dtype:
                    _refuse(data, self, k)
                numpy.multiply(data, scale, out=target)
        self.array = buffer
        self.targets = targets
        return buffer

    def hand_over(self, used: numpy.ndarray | None) -> None:
        """After the reduction: each `.grad` the average (a parameter no rank used keeps its `.grad`)."""
        self.array = None
        if self.in_place:
            return  # the gradient itself now holds the average
        targets, views = self.targets, self.views
        for k, (i, p) in enumerate(zip(self.indices, self.params)):
            if used is not None and not used[i]:
                if k in self.saved:
                    targets[k][...] = self.saved[k]
                continue
            if views is None:
                p._grad = Tensor._make(targets[k], None)
            else:
                view = views[k]
                view.data = targets[k]  # (in case someone replaced it)
                p._grad = view
        self.saved.clear()
        self.targets = None


def _refuse(data: Any, bucket: _Bucket, k: int) -> None:
    """Raise the error for a gradient the bucket cannot take: not in host memory, or not of the bucket's dtype."""
    if isinstance(data, numpy.ndarray):
        raise TypeError(
            f"DistributedDataParallel: a gradient of shape {bucket.shapes[k]} is {data.dtype}, but its bucket was "
            f"made for {bucket.dtype} parameters: convert the model (model.to(dtype)) before wrapping it"
        )
    raise TypeError(
        f"DistributedDataParallel: a gradient of shape {bucket.shapes[k]} is a {type(data).__name__}, not a "
        "NumPy array; the MPI reduction sends host memory (copy the model to the CPU for data-parallel training)"
    )


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
        gradient_as_bucket_view: as PyTorch's: each `.grad` is a view of its bucket's one buffer, kept for the life
            of the wrapper, so that gradients accumulated in place (`zero_grad(set_to_none=False)`, `no_sync()`)
            are reduced with no copy. A `.grad` kept from one step to the next then changes with the buffer. False
            (the default) copies each gradient into a fresh buffer once per step (see `_Bucket`); either way the
            average is written in that one pass and nothing is copied back.

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
        gradient_as_bucket_view: bool = False,
    ):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a Module, got {type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb!r}")
        self.module = module
        self.find_unused_parameters = bool(find_unused_parameters)
        self.broadcast_buffers = bool(broadcast_buffers)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
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
        self._total_nbytes = max(1, sum(b.nbytes for b in self._buckets))
        self._bucket_of = [None] * len(self._params)
        for bucket in self._buckets:
            for i in bucket.indices:
                self._bucket_of[i] = bucket
        # What the coming backward's reduction has done so far (a plain object: written at every gradient, it
        # skips Module.__setattr__'s bookkeeping).
        self._state = _ReductionState(len(self._params))
        self._require_sync = True
        self._grad_ready_handles = [
            p.register_post_accumulate_grad_hook(self._make_hook(i)) for i, p in enumerate(self._params)
        ]
        # The last reduction (perf_counter seconds): when the first bucket started ("first_start"), when the walk
        # handed over the last one ("handed_over"), how long finishing then waited ("waited"), and the fractions of
        # the gradient bytes whose reduction had started ("started_fraction") and had been seen complete
        # ("overlapped_fraction") by then, i.e. while backward was still computing.
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

        def close() -> None:
            params = [self._params[j] for j in current]
            buckets.append(_Bucket(list(current), params, params[0].dtype, self.gradient_as_bucket_view))

        for i in reversed(range(len(self._params))):
            p = self._params[i]
            nbytes = int(p.data.nbytes)
            if current and (size + nbytes > cap_bytes or self._params[current[0]].dtype != p.dtype):
                close()
                current, size = [], 0
            current.append(i)
            size += nbytes
        if current:
            close()
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
        state = self._state
        state.ready = [False] * len(self._params)
        for bucket in self._buckets:
            bucket.missing = len(bucket.params)
            bucket.request = None
            bucket.seen_done = 0.0
        state.next_bucket = 0
        state.inflight, state.inflight_buckets = [], []
        state.unreached = set()
        state.expecting = True
        self.last_reduction.clear()
        if self.find_unused_parameters:
            reached = _leaves_reached(output)
            state.unreached = {i for i, p in enumerate(self._params) if id(p) not in reached}
            for i in sorted(state.unreached):
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
        state = self._state
        if state.ready[index]:
            raise RuntimeError(
                f"DistributedDataParallel: parameter {self._names[index]!r} got a second gradient after the same "
                "forward (two backward passes through one forward are not supported; run forward again)"
            )
        state.ready[index] = True
        bucket = self._bucket_of[index]
        bucket.missing -= 1
        if bucket.missing == 0:
            self._start_ready_buckets()
        elif state.inflight:  # MPI moves started reductions only inside MPI calls: one at every gradient
            self._poll()

    def _poll(self) -> None:
        """Test the reductions in flight (which moves them on) and note when each is first seen complete."""
        state = self._state
        done = self._mpi.Request.Testsome(state.inflight)
        if done:
            now = time.perf_counter()
            finished = set(done)
            for j in done:
                state.inflight_buckets[j].seen_done = now
            state.inflight = [r for j, r in enumerate(state.inflight) if j not in finished]
            state.inflight_buckets = [b for j, b in enumerate(state.inflight_buckets) if j not in finished]

    def _start_ready_buckets(self) -> None:
        # Buckets start strictly in order, so that every rank issues the same collectives in the same order.
        state, buckets, mpi = self._state, self._buckets, self._mpi
        n = len(buckets)
        while state.next_bucket < n and buckets[state.next_bucket].missing == 0:
            bucket = buckets[state.next_bucket]
            if state.next_bucket == n - 1 and state.inflight:  # the walk hands over: what is done by now?
                self._poll()
            array = bucket.fill(bucket.dtype.type(1.0 / self.world_size), state.unreached)
            bucket.started = time.perf_counter()
            bucket.request = self._comm.Iallreduce(mpi.IN_PLACE, array, op=mpi.SUM)
            state.inflight.append(bucket.request)
            state.inflight_buckets.append(bucket)
            state.next_bucket += 1
        if state.next_bucket == n:
            self._finish()
        else:  # give MPI a chance to move the started reductions forward while backward computes the next bucket
            if not self._progress.active.is_set():  # (and the progress thread, while backward computes)
                self._progress.active.set()
            self._poll()

    def _finish(self) -> None:
        """Wait for every bucket, then make each `.grad` the average."""
        buckets = self._buckets
        last = buckets[-1]
        handed_over = last.started
        used = None
        if self.find_unused_parameters:  # which parameters got a gradient on some rank
            used = numpy.array([p.grad is not None for p in self._params], dtype=numpy.int32)
            used_request = self._comm.Iallreduce(self._mpi.IN_PLACE, used, op=self._mpi.SUM)
        self._mpi.Request.Waitall(self._state.inflight)
        if used is not None:
            used_request.Wait()
        if self._progress.active.is_set():
            self._progress.active.clear()
        done = time.perf_counter()
        for bucket in buckets:
            bucket.hand_over(used)
        self._state.expecting = False
        self._state.inflight, self._state.inflight_buckets = [], []
        total = self._total_nbytes
        self.last_reduction.update(
            first_start=buckets[0].started,
            handed_over=handed_over,
            done=done,
            waited=done - handed_over,
            started_fraction=(total - last.nbytes) / total,
            overlapped_fraction=sum([b.nbytes for b in buckets[:-1] if 0 < b.seen_done <= handed_over]) / total,
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
