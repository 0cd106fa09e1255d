"""How many threads the BLAS library (OpenBLAS, MKL) and OpenMP may use: `gn.set_num_threads`, `gn.get_num_threads`.

glassnet's arithmetic runs in NumPy, whose matrix products go to a BLAS library with its own thread pool. By default
glassnet sets that pool to **one thread** when it is imported, because that is what the measurements in
`bench/threads.py` favour (README, "Threads"): on the project's 2-core machine one thread is as fast as two or faster
for the tour's small models and the reference workloads W1, W2 and W4 when the machine is quiet, and 3 to 25 times
faster for all of them as soon as one other CPU-bound process runs, because OpenBLAS's waiting threads spin on the
cores that the other process needs. Call `gn.set_num_threads(os.cpu_count())` for large matrix products on a machine
you have to yourself.

The default is left alone when the user has chosen: if OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS or
GLASSNET_NUM_THREADS is set, glassnet uses that (GLASSNET_NUM_THREADS through `set_num_threads`, the others as the
libraries read them). The setting is process state: it applies to every thread of the process, and to NumPy code
outside glassnet too, as `torch.set_num_threads` does for PyTorch.
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["DEFAULT_NUM_THREADS", "apply_default", "get_num_threads", "set_num_threads"]

DEFAULT_NUM_THREADS = 1  # chosen from bench/threads.py; see the module docstring
_USER_SETTINGS = ("GLASSNET_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_controller: Any = None


def _libraries() -> Any:
    """threadpoolctl's view of the BLAS/OpenMP libraries loaded in this process (rescanned when new ones appear)."""
    global _controller
    from threadpoolctl import ThreadpoolController

    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


def set_num_threads(n: int) -> None:
    """Let BLAS and OpenMP use `n` threads (as `torch.set_num_threads`); applies to the libraries loaded so far."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    global _controller
    from threadpoolctl import ThreadpoolController

    _controller = ThreadpoolController()  # rescan: a library loaded since the last call (torch's OpenMP) is included
    _controller.limit(limits=n)
    numba = sys.modules.get("numba")  # glassnet.kernels' thread pool, when loaded (GLASSNET_KERNELS=numba)
    if numba is not None:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def get_num_threads() -> int:
    """The number of threads the BLAS library uses now (the largest, if several are loaded; 1 if none is)."""
    counts = [lib.num_threads for lib in _libraries().lib_controllers if lib.user_api == "blas"]
    return max(counts, default=1)


def apply_default() -> None:
    """Set the default at import: GLASSNET_NUM_THREADS if given, nothing if another *_NUM_THREADS variable is set
    (the libraries have read it), else `DEFAULT_NUM_THREADS`."""
    requested = os.environ.get("GLASSNET_NUM_THREADS", "").strip()
    if requested:
        try:
            n = int(requested)
        except ValueError:
            raise ValueError(f"GLASSNET_NUM_THREADS={requested!r}: expected a positive integer") from None
        set_num_threads(n)
    elif not any(os.environ.get(name, "").strip() for name in _USER_SETTINGS):
        set_num_threads(DEFAULT_NUM_THREADS)
