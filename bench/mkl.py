"""Intel MKL through ctypes, for the benchmarks only: the `mkl` wheel from PyPI (`pip install mkl`, about 230 MB)
ships libmkl_rt but no Python API, and no NumPy on PyPI is built on it. glassnet never loads MKL; these benchmarks
use it to measure what another BLAS and vector-maths library would give on this machine (packed-weight GEMM, the
idea behind oneDNN's RNN, and VML's exp and tanh).

`load()` looks for libmkl_rt in this environment's lib/ (where the wheel puts it) unless a path is given (`--mkl
PATH` on the benchmarks' command lines); it returns None when there is none, and the benchmarks then say so in a
line and leave those rows out.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS enums
PACK_B, PACKED = 162, 151  # cblas_sgemm_pack identifier for B; "this operand is packed"
VML_HA = 0x2  # vmsExp/vmsTanh mode: high accuracy (MKL's default)


def find(path: str | None = None) -> str | None:
    """The libmkl_rt to load: `path` if given, else the newest in sys.prefix/lib, else None ("" means none)."""
    if path is not None:
        return path or None
    found = sorted(glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*")))
    return found[-1] if found else None


def load(path: str | None = None):
    """libmkl_rt with its sequential layer (one thread unless MKL_NUM_THREADS says otherwise), or None."""
    lib = find(path)
    if lib is None:
        return None
    os.environ.setdefault("MKL_THREADING_LAYER", "SEQUENTIAL")
    os.environ.setdefault("MKL_INTERFACE_LAYER", "LP64")
    mkl = ctypes.CDLL(lib)
    p, i, f = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
    mkl.cblas_sgemm.argtypes = [i, i, i, i, i, i, f, p, i, p, i, f, p, i]
    mkl.cblas_sgemm_pack_get_size.restype = ctypes.c_size_t
    mkl.cblas_sgemm_pack_get_size.argtypes = [i, i, i, i]
    mkl.cblas_sgemm_pack.argtypes = [i, i, i, i, i, i, f, p, i, p]
    mkl.cblas_sgemm_compute.argtypes = [i, i, i, i, i, i, p, i, p, i, f, p, i]
    mkl.vmsExp.argtypes = mkl.vmsTanh.argtypes = [i, p, p, ctypes.c_int64]
    return mkl


def packed_right(mkl, b, transposed: bool, m: int):
    """B (k × n, or its transpose when `transposed`) packed once for products with m-row left operands."""
    import numpy as np

    k, n = (b.shape[1], b.shape[0]) if transposed else b.shape
    size = mkl.cblas_sgemm_pack_get_size(PACK_B, m, n, k)
    buffer = np.empty(size // 4 + 16, np.float32)
    mkl.cblas_sgemm_pack(ROW_MAJOR, PACK_B, TRANS if transposed else NO_TRANS, m, n, k, 1.0, b.ctypes.data,
                         b.shape[1], buffer.ctypes.data)
    return buffer, k, n


def packed_product(mkl, a, packed, out) -> None:
    """out = a @ B for a B packed by `packed_right` (a: m × k, row-major; out: m × n)."""
    buffer, k, n = packed
    mkl.cblas_sgemm_compute(ROW_MAJOR, NO_TRANS, PACKED, a.shape[0], n, k, a.ctypes.data, a.shape[1],
                            buffer.ctypes.data, n, 0.0, out.ctypes.data, n)


def sgemm(mkl, a, b, out, b_transposed: bool = False) -> None:
    """out = a @ B with MKL's plain cblas_sgemm (B = b.T when `b_transposed`); row-major float32 operands."""
    k, n = (b.shape[1], b.shape[0]) if b_transposed else b.shape
    mkl.cblas_sgemm(ROW_MAJOR, NO_TRANS, TRANS if b_transposed else NO_TRANS, a.shape[0], n, k, 1.0, a.ctypes.data,
                    a.shape[1], b.ctypes.data, b.shape[1], 0.0, out.ctypes.data, n)
