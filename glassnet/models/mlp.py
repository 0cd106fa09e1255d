"""MLP: the multi-layer perceptron, a stack of Linear layers with a nonlinearity between them."""

from __future__ import annotations

from glassnet import nn
from glassnet.models._utils import make_activation
from glassnet.tensor import Tensor


class MLP(nn.Module):
    """A multi-layer perceptron sizes[0] → sizes[1] → … → sizes[-1] (Rumelhart, Hinton & Williams 1986).

    The idea it shows: composing affine maps with a pointwise nonlinearity gives a universal function
    approximator (Cybenko 1989; Hornik 1991), trained end to end by backpropagation. Hidden layers are
    Linear → activation → Dropout (Srivastava et al. 2014, when dropout > 0); the last layer is plain Linear,
    so the output is logits (or a regression value). Inputs with more than 2 dims are flattened after the batch dim.
    """

    def __init__(self, sizes: list[int] | tuple[int, ...], activation: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        sizes = tuple(sizes)
        if len(sizes) < 2 or any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in sizes):
            raise ValueError(f"MLP: sizes must be at least two positive ints (in, ..., out), got {sizes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        self.sizes = sizes
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(make_activation(activation, "MLP"))
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, sizes[0]) or (batch, ...) flattening to sizes[0] → (batch, sizes[-1])."""
        if not isinstance(x, Tensor):
            raise TypeError(f"MLP: expected a Tensor, got {type(x).__name__}")
        if x.ndim > 2:
            x = x.flatten(1)
        if x.ndim == 0 or x.shape[-1] != self.sizes[0]:
            raise ValueError(f"MLP({self.sizes[0]}→{self.sizes[-1]}) got input of shape {tuple(x.shape)}; "
                             f"expected (batch, {self.sizes[0]})")
        return self.net(x)
