"""Dropout: zero a random fraction p of the values during training and scale the rest by 1/(1 − p)."""

from __future__ import annotations

from glassnet.autograd import Function
from glassnet.backend import array_like, np
from glassnet.random import get_rng


class Dropout(Function):
    """Inverted dropout:  y = x · m / (1 − p),  m ~ Bernoulli(1 − p);   dL/dx = dL/dy · m / (1 − p)

    Scaling the kept values by 1/(1 − p) keeps E[y] = x, so evaluation needs no rescaling. The mask
    is drawn from `generator` (the default one, seeded by gn.manual_seed, when None). With
    `mask_shape` smaller than x's (size-1 axes), whole slices share one draw: (N, C, 1, 1) drops
    whole channels (dropout2d).
    """

    def forward(self, x, p=0.5, generator=None, mask_shape=None):
        shape = x.shape if mask_shape is None else mask_shape
        # drawn on the host by the same generator on every device (the same numbers), then moved next to x
        keep = get_rng(generator).random(shape, dtype=np.float32) >= p
        self.mask = array_like(keep, x, x.dtype)
        if p < 1:
            self.mask *= 1.0 / (1.0 - p)
        return x * self.mask

    def backward(self, gy):
        return gy * self.mask
