"""Small helpers shared by the model zoo: activation lookup, shape checks and top-k / temperature sampling."""

from __future__ import annotations

import numpy

from glassnet import nn
from glassnet.random import Generator, get_rng
from glassnet.tensor import Tensor

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
}


def make_activation(name: str, owner: str) -> nn.Module:
    """A fresh activation module for `name` ('relu', 'tanh', 'gelu', ...); `owner` names the model in errors."""
    if name not in _ACTIVATIONS:
        raise ValueError(f"{owner}: unknown activation {name!r}; expected one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]()


def check_input(x, owner: str, ndim: int, expected: str, channels: tuple[int, int] | None = None) -> None:
    """Raise a ValueError naming `owner` unless x is a Tensor of `ndim` dims (and, if given, channels[1] at dim
    channels[0])."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{owner}: expected a Tensor, got {type(x).__name__}")
    if x.ndim != ndim or (channels is not None and x.shape[channels[0]] != channels[1]):
        raise ValueError(f"{owner} got input of shape {tuple(x.shape)}; expected {expected}")


def sample_next(logits: numpy.ndarray, temperature: float, top_k: int | None, generator: Generator | None,
                owner: str) -> numpy.ndarray:
    """Draw one id per row of `logits` (batch, vocab) after dividing by temperature and keeping the top_k.

    temperature 0 means greedy (argmax). Tokens outside the k largest logits get probability exactly 0.
    """
    if temperature < 0:
        raise ValueError(f"{owner}.generate: temperature must be >= 0, got {temperature}")
    vocab = logits.shape[-1]
    if top_k is not None and (not isinstance(top_k, (int, numpy.integer)) or top_k < 1):
        raise ValueError(f"{owner}.generate: top_k must be a positive integer, got {top_k!r}")
    logits = logits.astype(numpy.float64)
    if temperature == 0:
        return logits.argmax(axis=-1)
    logits = logits / temperature
    if top_k is not None and top_k < vocab:
        kth = numpy.sort(logits, axis=-1)[:, -top_k][:, None]
        logits = numpy.where(logits < kth, -numpy.inf, logits)
    logits = logits - logits.max(axis=-1, keepdims=True)
    probs = numpy.exp(logits)
    probs /= probs.sum(axis=-1, keepdims=True)
    rng = get_rng(generator)
    u = rng.random((probs.shape[0], 1))
    cdf = probs.cumsum(axis=-1)
    ids = (cdf < u * cdf[:, -1:]).sum(axis=-1)
    ids = numpy.minimum(ids, vocab - 1)
    # never land on a zero-probability id through rounding at the top of the cdf
    bad = probs[numpy.arange(len(ids)), ids] == 0
    if bad.any():
        ids[bad] = probs[bad].argmax(axis=-1)
    return ids
