"""The array module behind every Tensor (NumPy now; CuPy can be swapped in here), dtypes and promotion."""

from __future__ import annotations

import numpy

# The one place that chooses the array library. Ops write `np.` and never import numpy themselves
# for array math, so a GPU backend only has to change this binding.
np = numpy

float16 = numpy.dtype("float16")
float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
int8 = numpy.dtype("int8")
int16 = numpy.dtype("int16")
int32 = numpy.dtype("int32")
int64 = numpy.dtype("int64")
uint8 = numpy.dtype("uint8")
bool_ = numpy.dtype("bool")

_default_float = float32


def get_default_dtype() -> numpy.dtype:
    """The floating dtype new tensors get from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(dtype) -> None:
    """Change the floating dtype used for Python floats and `rand`/`zeros`-style factories."""
    global _default_float
    dtype = numpy.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype}")
    _default_float = dtype


def to_dtype(dtype) -> numpy.dtype | None:
    """Normalise a user's dtype argument (None, a NumPy dtype, a string, `float`, `int`, `bool`)."""
    if dtype is None:
        return None
    if dtype is float:
        return _default_float
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    return numpy.dtype(dtype)


def _category(dtype: numpy.dtype) -> int:
    """bool < integer < floating: the order in which PyTorch lets a category win promotion."""
    if dtype.kind == "b":
        return 0
    if dtype.kind in "iu":
        return 1
    if dtype.kind == "f":
        return 2
    raise TypeError(f"unsupported dtype {dtype}")


def _scalar_category(value) -> int:
    if isinstance(value, (bool, numpy.bool_)):
        return 0
    if isinstance(value, (int, numpy.integer)):
        return 1
    if isinstance(value, (float, numpy.floating)):
        return 2
    raise TypeError(f"unsupported scalar {value!r} of type {type(value).__name__}")


def result_dtype(*operands) -> numpy.dtype:
    """PyTorch's promotion: dimensioned tensors > zero-dim tensors > Python scalars, within a category.

    A higher category (bool < int < float) always wins; when it is won by a lower-priority operand,
    the result is that operand's dtype (zero-dim tensor) or the default dtype (Python scalar).
    Operands are `(dtype, ndim)` pairs for tensors and plain Python numbers for scalars.
    """
    tiers: list[list] = [[], [], []]  # dimensioned, zero-dim, scalars
    for op in operands:
        if isinstance(op, tuple):
            tiers[0 if op[1] > 0 else 1].append(op[0])
        else:
            tiers[2].append(op)
    best_cat = -1
    result = None
    for tier, items in enumerate(tiers):
        if not items:
            continue
        if tier < 2:
            cat = max(_category(d) for d in items)
            if cat > best_cat:
                same = [d for d in items if _category(d) == cat]
                result = numpy.result_type(*same)
                best_cat = cat
        else:
            cat = max(_scalar_category(s) for s in items)
            if cat > best_cat:
                result = (bool_, int64, _default_float)[cat]
                best_cat = cat
    return result


def _keep_freed_memory() -> None:
    """Let glibc's malloc keep and reuse the large temporaries of a training step instead of unmapping each one.

    By default every array over ~128 KiB-32 MiB comes from a fresh mmap and its pages fault in again on every step.
    Measured (CPU time per step, 1 BLAS thread): LeNet (W2) 14 → 9 ms, GPT (W4) 116 → 93 ms. PyTorch keeps its own
    caching allocator for the same reason. The cost: memory freed by a step stays with the process for the next one.
    Set GLASSNET_MALLOC_DEFAULTS=1 to leave malloc alone; off Linux/glibc this does nothing.
    """
    import ctypes
    import os
    import sys

    if not sys.platform.startswith("linux") or os.environ.get("GLASSNET_MALLOC_DEFAULTS"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: heap-allocate blocks up to 32 MiB (glibc's maximum)
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: give the heap's top back to the OS only above 1 GiB free
    except (OSError, AttributeError):  # not glibc (musl, …): keep the defaults
        pass


_keep_freed_memory()
