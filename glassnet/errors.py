"""glassnet's own error classes: each derives from the built-in error glassnet always raised (so `except ValueError`
keeps working) and from RuntimeError, which PyTorch raises in the same places (so ported `except RuntimeError`
code catches them too)."""

from __future__ import annotations


class OpValueError(ValueError, RuntimeError):
    """An op was given a value it cannot take (an integer to a negative power, a negative size, a bad equation)."""


class ShapeError(OpValueError):
    """Shapes that do not fit the op: matmul's inner dims, a reshape's element count, a permutation, a gather's
    index, a kernel larger than its input, a loss's target."""


class OpIndexError(IndexError, RuntimeError):
    """An index out of range for the op (a gather index, a class target): IndexError as before, RuntimeError as
    PyTorch's gather raises."""


class OpTypeError(TypeError, RuntimeError):
    """A dtype the op does not take (bitwise ops on floats, linspace to bool): PyTorch raises NotImplementedError,
    a RuntimeError, there."""
