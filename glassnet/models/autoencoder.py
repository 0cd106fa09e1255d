"""Autoencoder: an encoder squeezes the input through a narrow code, a mirrored decoder rebuilds it."""

from __future__ import annotations

from glassnet import nn
from glassnet.tensor import Tensor


class Autoencoder(nn.Module):
    """A deep autoencoder (Hinton & Salakhutdinov 2006, "Reducing the dimensionality of data with neural networks").

    The idea it shows: training a network to reproduce its input through a bottleneck learns a low-dimensional
    code — a nonlinear generalisation of PCA. Encoder in_features → hidden[0] → … → hidden[-1] (ReLU between,
    linear code); the decoder mirrors it and ends in a sigmoid, so outputs lie in [0, 1] like pixel intensities.
    forward returns the reconstruction in the input's shape (e.g. (batch, 1, 28, 28) in, same out).
    """

    def __init__(self, in_features: int = 784, hidden: tuple[int, ...] = (256, 64)) -> None:
        super().__init__()
        hidden = tuple(hidden)
        if not hidden:
            raise ValueError("Autoencoder: hidden must name at least the code size")
        self.in_features = in_features
        sizes = (in_features, *hidden)
        enc: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            enc.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                enc.append(nn.ReLU())
        dec: list[nn.Module] = []
        back = sizes[::-1]
        for i, (a, b) in enumerate(zip(back[:-1], back[1:])):
            dec.append(nn.Linear(a, b))
            dec.append(nn.ReLU() if i < len(back) - 2 else nn.Sigmoid())
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: Tensor) -> Tensor:
        """(batch, in_features) or (batch, ...) flattening to in_features → (batch, code) codes."""
        if not isinstance(x, Tensor):
            raise TypeError(f"Autoencoder: expected a Tensor, got {type(x).__name__}")
        flat = x.flatten(1) if x.ndim > 2 else x
        if flat.ndim != 2 or flat.shape[1] != self.in_features:
            raise ValueError(f"Autoencoder({self.in_features}) got input of shape {tuple(x.shape)}; "
                             f"expected (batch, {self.in_features}) or (batch, ...) with {self.in_features} values")
        return self.encoder(flat)

    def decode(self, code: Tensor) -> Tensor:
        """(batch, code) → (batch, in_features) reconstructions in [0, 1]."""
        return self.decoder(code)

    def forward(self, x: Tensor) -> Tensor:
        """Reconstruction of x, in x's shape."""
        return self.decode(self.encode(x)).reshape(*x.shape)
