"""Parameter: a Tensor that a Module registers as one of its learnable weights."""

from __future__ import annotations

from typing import Any

import numpy

from glassnet import backend
from glassnet.tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor that requires grad and is registered automatically when assigned to a Module attribute."""

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True):
        if data is None:
            data = numpy.empty(0, dtype=backend.get_default_dtype())
        elif isinstance(data, Tensor):
            data = data.data  # share the values, like torch.nn.Parameter; the graph is cut
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(self.data.copy(), requires_grad=self.requires_grad)
        if self.grad is not None:
            result.grad = Tensor(self.grad.data.copy())
        memo[id(self)] = result
        return result
