"""The optional extras (pyproject.toml's `[project.optional-dependencies]`) and the one check that a feature's extra is
installed: `require("plots", "glassnet.lens.plots")` raises `MissingExtra`, one line naming what to install.

Commands and features call `require` *before* their work starts, so a missing extra is a one-line message, never a
traceback after an epoch. The check looks for the modules (`importlib.util.find_spec`) without importing them.
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRAS", "MissingExtra", "available", "missing_modules", "require"]

# extra -> the modules it provides (import names; e.g. Pillow is imported as PIL)
EXTRAS: dict[str, tuple[str, ...]] = {
    "plots": ("matplotlib",),
    "graph": ("graphviz",),
    "images": ("PIL",),
    "bert": ("tokenizers",),
    "onnx": ("onnx", "onnxruntime"),
    "serve": ("starlette", "uvicorn"),
    "mpi": ("mpi4py",),
    "gpu": ("cupy",),
    "accel": ("numba",),
    "docs": ("mkdocs", "mkdocstrings"),
    "notebooks": ("nbclient", "nbformat", "ipykernel", "matplotlib"),
}


class MissingExtra(ImportError):
    """A feature needs an optional extra that is not installed; the message is one line saying what to install."""


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-installed package counts as missing
        return False


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported (empty when the extra is installed)."""
    if extra not in EXTRAS:
        raise KeyError(f"unknown extra {extra!r}; the extras are {', '.join(EXTRAS)}")
    return [m for m in EXTRAS[extra] if not _importable(m)]


def available(extra: str) -> bool:
    """Whether every module of `extra` can be imported."""
    return not missing_modules(extra)


def require(extra: str, feature: str) -> None:
    """Raise `MissingExtra` ("FEATURE needs matplotlib: pip install 'glassnet[plots]'") unless `extra` is installed."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtra(f"{feature} needs {' and '.join(missing)}: pip install 'glassnet[{extra}]'")
