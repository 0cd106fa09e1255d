"""Shape ops: reshape, permute, expand, indexing, concatenation, padding, repetition.

None of these change values, so each backward just routes the gradient back to where the value came from.
"""

from __future__ import annotations

from glassnet.autograd import Function, unbroadcast
from glassnet.backend import array_module, np, scatter_add


class Reshape(Function):
    """y = x viewed with a new shape;   dL/dx = dL/dy reshaped back"""

    def forward(self, x, shape=None):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, gy):
        return gy.reshape(self.in_shape)


class Permute(Function):
    """y = x with its axes reordered;   dL/dx = dL/dy with the inverse order"""

    def forward(self, x, axes=None):
        self.inverse = tuple(np.argsort(axes).tolist())
        return np.transpose(x, axes)

    def backward(self, gy):
        return np.transpose(gy, self.inverse)


class Expand(Function):
    """y = x broadcast to `shape` (no copy);   dL/dx = dL/dy summed over the broadcast axes"""

    def forward(self, x, shape=None):
        self.in_shape = x.shape
        return np.broadcast_to(x, shape)

    def backward(self, gy):
        return unbroadcast(gy, self.in_shape)


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in items)


class GetItem(Function):
    """y = x[index];   dL/dx = zeros with dL/dy added at the indexed places (repeated indices add up)

    Fast path (glassnet/fast_paths.py): for a basic index, when the walk already holds a gradient sum for x
    (attention's q, k, v read as qkv[0], qkv[1], qkv[2]; an LSTM's outputs read as y[:T] and y[T]), dL/dy is added
    into its indexed places there (`add_gradient_into`), with no zeros-sized array built and added: the same sums,
    up to the sign of a zero (−0 + 0 is +0). Reference: backward (IndexAdd).
    """

    scatters_gradient = True  # set per node: for basic indices (no element read twice), where the sums are the same

    def forward(self, x, index=None):
        self.index, self.in_shape = index, x.shape
        if not _is_basic(index):
            self.scatters_gradient = False  # repeated rows would be added one by one into the sum: other rounding
        return x[index]

    def backward(self, gy):
        return IndexAdd.call(gy, index=self.index, shape=self.in_shape)

    def add_gradient_into(self, buffer, gy) -> None:
        """buffer[index] += dL/dy for a basic index: backward's IndexAdd, added into a sum of dL/dx."""
        buffer[self.index] += gy


class IndexAdd(Function):
    """y = zeros(shape); y[index] += src (np.add.at for repeated indices);   dL/dsrc = dL/dy[index]"""

    def forward(self, src, index=None, shape=None):
        self.index = index
        out = array_module(src).zeros(shape, dtype=src.dtype)
        if _is_basic(index):
            out[index] = src  # basic indexing never repeats an element: plain assignment is enough
        else:
            scatter_add(out, index, src)
        return out

    def backward(self, gy):
        return GetItem.call(gy, index=self.index)


class Concat(Function):
    """y = [x₁, x₂, …] joined along `axis`;   dL/dxₖ = the slice of dL/dy where xₖ landed"""

    def forward(self, *xs, axis=0):
        self.axis = axis
        self.bounds = np.cumsum([0] + [x.shape[axis] for x in xs]).tolist()
        return np.concatenate(xs, axis=axis)

    def backward(self, gy):
        lead = (slice(None),) * (self.axis % gy.ndim)
        b = self.bounds
        return tuple(gy[lead + (slice(b[k], b[k + 1]),)] for k in range(len(b) - 1))


class Stack(Function):
    """y = [x₁, x₂, …] stacked along a new `axis`;   dL/dxₖ = dL/dy at position k of that axis"""

    def forward(self, *xs, axis=0):
        self.axis, self.count = axis, len(xs)
        return np.stack(xs, axis=axis)

    def backward(self, gy):
        lead = (slice(None),) * (self.axis % gy.ndim)
        return tuple(gy[lead + (k,)] for k in range(self.count))


class Pad(Function):
    """y = x surrounded by a constant border;   dL/dx = the centre of dL/dy"""

    def forward(self, x, widths=None, value=0.0):
        self.centre = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape))
        return np.pad(x, widths, mode="constant", constant_values=value)

    def backward(self, gy):
        return gy[self.centre]


class Tile(Function):
    """y = x repeated `reps` times along each axis (torch.repeat);   dL/dx = dL/dy summed over the copies"""

    def forward(self, x, reps=None):
        self.in_shape = x.shape
        self.reps = reps
        return np.tile(x, reps)

    def backward(self, gy):
        shape = (1,) * (len(self.reps) - len(self.in_shape)) + tuple(self.in_shape)
        split = []
        for r, n in zip(self.reps, shape):
            split += [r, n]
        g = gy.reshape(tuple(split))
        g = np.sum(g, axis=tuple(range(0, len(split), 2)))
        return g.reshape(self.in_shape)
