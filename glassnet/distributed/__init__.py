"""Data-parallel training over MPI: the process group, collectives on Tensors, launch detection and fault handling.

Names and meanings follow `torch.distributed`, so that skills transfer::

    import glassnet.distributed as dist
    dist.init_process_group()            # implied when the script runs under mpiexec
    dist.get_rank(), dist.get_world_size()
    dist.all_reduce(t, op="mean")        # in place, on every rank

The engine underneath is MPI through mpi4py (the `mpi` extra brings mpi4py and the MPICH wheel, whose `mpiexec`
starts the ranks). MPI is imported only when a process group is created: `import glassnet` stays light.

Faults: once a group exists, an uncaught exception on any rank prints its traceback and calls MPI_Abort, which ends
every rank of the job with a non-zero exit status instead of leaving the others waiting in a collective forever.
A rank that wants to stop the job itself (an error it reports and exits on) calls `abort(message)`.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from typing import Any

import numpy

from glassnet.tensor import Tensor

__all__ = [
    "abort",
    "all_gather",
    "all_reduce",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "get_rank",
    "get_world_size",
    "in_parallel_job",
    "init_process_group",
    "is_available",
    "is_initialized",
    "launched_under_mpi",
]

MPI_EXTRA = "pip install 'glassnet[mpi]'"
# Environment variables through which launchers tell a process the size of its job: MPICH's Hydra and Slurm (PMI),
# PMIx launchers, Open MPI.
_WORLD_SIZE_VARIABLES = ("PMI_SIZE", "PMIX_SIZE", "OMPI_COMM_WORLD_SIZE")
_BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class _Group:
    """The world: the MPI communicator, this rank, the size, and the excepthook this module replaced."""

    def __init__(self, mpi: Any, comm: Any):
        self.MPI = mpi
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.previous_excepthook = None
        self.blas_threads: int | None = None


_group: _Group | None = None


def _import_mpi() -> Any:
    from glassnet.extras import require

    require("mpi", "glassnet.distributed")
    from mpi4py import MPI

    return MPI


def is_available() -> bool:
    """Whether mpi4py can be imported (the `mpi` extra is installed)."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def launched_under_mpi() -> bool:
    """Whether this process was started by an MPI launcher (mpiexec, srun) as one rank of a job of 2 or more."""
    for name in _WORLD_SIZE_VARIABLES:
        try:
            if int(os.environ.get(name, "1")) > 1:
                return True
        except ValueError:
            continue
    return False


def in_parallel_job() -> bool:
    """Whether this process is one of 2 or more ranks (a group of 2+ exists, or a launcher started it as one)."""
    if _group is not None:
        return _group.size > 1
    return launched_under_mpi()


def init_process_group(
    backend: str = "mpi", *, blas_threads: int | str | None = "auto", abort_on_exception: bool = True
) -> None:
    """Join the job's process group (MPI_COMM_WORLD); a second call is a no-op.

    Args:
        backend: only "mpi".
        blas_threads: BLAS threads for this rank: "auto" divides this machine's cores among the ranks on it (unless
            OPENBLAS_NUM_THREADS/OMP_NUM_THREADS/MKL_NUM_THREADS is set), an int sets it, None leaves it alone.
        abort_on_exception: install the excepthook that turns an uncaught exception into MPI_Abort.
    """
    global _group
    if backend != "mpi":
        raise ValueError(f"init_process_group: backend {backend!r} is not supported; glassnet runs over 'mpi'")
    if _group is not None:
        return
    mpi = _import_mpi()
    group = _Group(mpi, mpi.COMM_WORLD)
    if blas_threads is not None:
        group.blas_threads = _set_blas_threads(group, blas_threads)
    if abort_on_exception:
        group.previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_exception
    _group = group


def _set_blas_threads(group: _Group, blas_threads: int | str) -> int | None:
    """Limit this rank's BLAS threads so that the ranks sharing a machine do not oversubscribe its cores."""
    if blas_threads == "auto":
        if any(os.environ.get(name) for name in (*_BLAS_VARIABLES, "GLASSNET_NUM_THREADS")):
            return None  # the user (or `glassnet train --ranks`) chose already
        local = group.comm.Split_type(group.MPI.COMM_TYPE_SHARED)
        on_this_machine = local.Get_size()
        local.Free()
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        blas_threads = max(1, cores // on_this_machine)
    if not isinstance(blas_threads, int) or blas_threads < 1:
        raise ValueError(
            f"init_process_group: blas_threads must be 'auto', a positive int or None, got {blas_threads!r}"
        )
    from glassnet.threads import set_num_threads  # the one place that sets thread counts

    set_num_threads(blas_threads)
    return blas_threads


def _abort_on_exception(exc_type, exc, tb) -> None:
    """sys.excepthook while a group exists: print the error as usual, then end every rank (MPI_Abort)."""
    group = _group
    hook = group.previous_excepthook if group is not None and group.previous_excepthook else sys.__excepthook__
    hook(exc_type, exc, tb)
    if group is None or group.size == 1:
        return
    abort(f"rank {group.rank} raised {exc_type.__name__}", 1)


def abort(message: str = "", code: int = 1) -> None:
    """End every rank of the job now (MPI_Abort) with exit status `code`, after printing `message` on stderr."""
    group = _group
    rank = f"rank {group.rank} of {group.size}: " if group is not None else ""
    sys.stderr.write(f"glassnet.distributed: {rank}{message}; ending every rank (MPI_Abort, exit status {code})\n")
    sys.stderr.flush()
    sys.stdout.flush()
    if group is not None:
        # The launcher forwards each rank's output through a pipe; MPI_Abort tears the job down at once, so first let
        # it read what was just printed (the traceback, the message): wait until it has emptied the pipes, then a
        # moment more for it to pass them on (a fixed pause alone was cut short on a loaded machine).
        _wait_until_read((2, 1), ABORT_DRAIN_S)
        time.sleep(0.5)
        group.comm.Abort(code)
    os._exit(code)  # MPI_Abort does not return; without MPI, end this process the same way


ABORT_DRAIN_S = 10.0  # at most this long for the launcher to read a failing rank's last output


def _wait_until_read(fds: tuple[int, ...], timeout: float) -> bool:
    """Wait until nothing written to these file descriptors is still unread in a pipe (FIONREAD; a file or a
    terminal counts as read), at most `timeout` seconds; whether it was all read."""
    try:
        import fcntl
        import termios
    except ImportError:  # not a POSIX system: nothing to ask
        return True
    deadline = time.monotonic() + timeout
    pending = list(fds)
    while pending:
        unread = []
        for fd in pending:
            try:
                if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                    continue  # a file or a terminal: nothing waits to be read by the launcher
                count = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
            except OSError:
                continue  # closed: nothing waits in it
            if int.from_bytes(count, sys.byteorder, signed=True) > 0:
                unread.append(fd)
        pending = unread
        if not pending:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def is_initialized() -> bool:
    """Whether this process has joined a process group."""
    return _group is not None


def _world() -> _Group:
    """The process group, created on first use when the process runs under an MPI launcher."""
    if _group is None:
        if not launched_under_mpi():
            raise RuntimeError(
                "glassnet.distributed: no process group: call init_process_group(), or start the script with "
                "`mpiexec -n N python script.py`"
            )
        init_process_group()
    assert _group is not None
    return _group


def get_rank() -> int:
    """This process's rank, 0 … world size − 1."""
    return _world().rank


def get_world_size() -> int:
    """How many ranks the job has."""
    return _world().size


def barrier() -> None:
    """Wait until every rank has reached this call."""
    _world().comm.Barrier()


def destroy_process_group() -> None:
    """Leave the process group (restores the excepthook; MPI itself is finalised when the process exits)."""
    global _group
    if _group is not None and sys.excepthook is _abort_on_exception:
        sys.excepthook = _group.previous_excepthook or sys.__excepthook__
    _group = None


# ----- collectives on Tensors ----------------------------------------------------------------------------------------
_OPS = ("sum", "mean", "max", "min")


def _buffer(tensor: Tensor, what: str) -> numpy.ndarray:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what}: expected a Tensor, got {type(tensor).__name__}")
    data = tensor.data
    if not isinstance(data, numpy.ndarray):
        raise TypeError(
            f"{what}: the Tensor's data is a {type(data).__name__}, not a NumPy array; copy it to the host first "
            "(MPI here sends host memory)"
        )
    return data


def _contiguous(data: numpy.ndarray) -> numpy.ndarray:
    return data if data.flags.c_contiguous else numpy.ascontiguousarray(data)


def all_reduce(tensor: Tensor, op: str = "sum") -> Tensor:
    """Reduce `tensor` over all ranks, in place on every rank: op is "sum", "mean", "max" or "min". Returns it."""
    if op == "sum" and isinstance(tensor, Tensor):  # the common case, checked in a few steps: one MPI call
        data = tensor.data
        if type(data) is numpy.ndarray and data.flags.c_contiguous:
            group = _group or _world()
            group.comm.Allreduce(group.MPI.IN_PLACE, data, op=group.MPI.SUM)
            return tensor
    reduce_array(_buffer(tensor, "all_reduce"), op)
    return tensor


def reduce_array(data: numpy.ndarray, op: str = "sum") -> numpy.ndarray:
    """`all_reduce` on a NumPy array, in place; returns it."""
    if op not in _OPS:
        raise ValueError(f"all_reduce: op must be one of {', '.join(_OPS)}, got {op!r}")
    if op == "mean" and data.dtype.kind not in "fc":
        raise TypeError(f"all_reduce: op='mean' needs a floating-point tensor, got dtype {data.dtype}")
    group = _group or _world()
    buf = _contiguous(data)
    mpi_op = {"sum": group.MPI.SUM, "mean": group.MPI.SUM, "max": group.MPI.MAX, "min": group.MPI.MIN}[op]
    group.comm.Allreduce(group.MPI.IN_PLACE, buf, op=mpi_op)
    if op == "mean":
        buf /= group.size
    if buf is not data:
        data[...] = buf
    return data


def broadcast(tensor: Tensor, src: int = 0) -> Tensor:
    """Overwrite `tensor` on every rank with rank `src`'s values (same shape and dtype everywhere). Returns it."""
    data = _buffer(tensor, "broadcast")
    group = _world()
    if not 0 <= src < group.size:
        raise ValueError(f"broadcast: src must be a rank in 0 … {group.size - 1}, got {src}")
    buf = _contiguous(data)
    group.comm.Bcast(buf, root=src)
    if buf is not data:
        data[...] = buf
    return tensor


def all_gather(tensor_list: list | None, tensor: Tensor) -> list[Tensor]:
    """Every rank's `tensor` (same shape and dtype on all ranks), in rank order; written into `tensor_list` when it
    is a list (as in PyTorch) and returned."""
    data = _contiguous(_buffer(tensor, "all_gather"))
    group = _world()
    out = numpy.empty((group.size,) + data.shape, dtype=data.dtype)
    group.comm.Allgather(data, out)
    gathered = [Tensor(out[r]) for r in range(group.size)]
    if tensor_list is not None:
        tensor_list[:] = gathered
    return gathered


def all_gather_json(value: Any) -> list[Any]:
    """Every rank's JSON-serialisable `value`, in rank order (for descriptions and logs; no pickle involved)."""
    group = _world()
    payload = numpy.frombuffer(json.dumps(value).encode(), dtype=numpy.uint8)
    sizes = numpy.zeros(group.size, dtype=numpy.int64)
    group.comm.Allgather(numpy.array([payload.size], dtype=numpy.int64), sizes)
    out = numpy.empty(int(sizes.sum()), dtype=numpy.uint8)
    group.comm.Allgatherv(payload, [out, sizes.tolist()])
    ends = numpy.cumsum(sizes)
    return [json.loads(out[end - size : end].tobytes()) for size, end in zip(sizes.tolist(), ends.tolist())]
