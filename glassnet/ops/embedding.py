"""Embedding lookup: rows of a weight matrix picked by integer indices, and the scatter-add that is its gradient."""

from __future__ import annotations

from glassnet.autograd import Function
from glassnet.backend import array_module, scatter_add


class Embedding(Function):
    """y[..., :] = W[index[...], :];   dL/dW[r] = Σ dL/dy[i] over the positions i with index[i] = r

    Repeated indices add up their gradients; the row `padding_idx` gets none (it stays a fixed pad
    vector). With `scale` (PyTorch's scale_grad_by_freq), each position's gradient is divided by how
    often its index occurs in the batch.
    """

    def forward(self, weight, index=None, padding_idx=None, scale=None):
        self.index, self.padding_idx, self.scale = index, padding_idx, scale
        self.rows = weight.shape[0]
        return weight[index]

    def backward(self, gy):
        return EmbeddingGrad.call(gy, index=self.index, rows=self.rows, padding_idx=self.padding_idx, scale=self.scale)


class EmbeddingGrad(Function):
    """dW = zeros(rows, D) with each dL/dy[i] added to row index[i] (then row padding_idx zeroed);
    it is linear in dL/dy, and its own gradient is the lookup again: d/d(dL/dy)[i] = G[index[i]]."""

    def forward(self, gy, index=None, rows=0, padding_idx=None, scale=None):
        self.index, self.padding_idx, self.scale = index, padding_idx, scale
        g = gy.reshape(-1, gy.shape[-1])
        if scale is not None:
            g = g * scale.reshape(-1, 1)
        out = array_module(gy).zeros((rows, gy.shape[-1]), dtype=gy.dtype)
        scatter_add(out, index.reshape(-1), g)
        if padding_idx is not None:
            out[padding_idx] = 0
        return out

    def backward(self, g):
        gg = Embedding.call(g, index=self.index)
        keep = None if self.scale is None else self.scale[..., None]
        if self.padding_idx is not None:
            pad = (self.index != self.padding_idx)[..., None]
            keep = pad if keep is None else keep * pad
        return gg if keep is None else gg * keep.astype(g.dtype)
