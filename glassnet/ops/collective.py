"""Collective communication as differentiable ops: a sum over the ranks of a data-parallel job (SyncBatchNorm's
statistics over the global batch are built from it)."""

from __future__ import annotations

from glassnet.autograd import Function
from glassnet.backend import np


def _sum_over_ranks(x):
    """A fresh array: the element-wise sum of `x` over every rank (MPI Allreduce)."""
    from glassnet import distributed

    if not isinstance(x, np.ndarray):  # a device array: MPI here sends host memory (as DDP says for its buckets)
        raise TypeError(
            f"AllReduceSum (SyncBatchNorm's statistics over the ranks): the array is a {type(x).__name__} of shape "
            f"{tuple(x.shape)}, not a NumPy array; MPI here sends host memory: keep the model on the CPU"
        )
    return distributed.reduce_array(np.array(x, order="C"), "sum")  # on a copy: the input stays as it was


class AllReduceSum(Function):
    """y = Σ_r x_r, the same on every rank r;   dL/dx_r = Σ_r' dL_r'/dy.

    Every rank's part L_r' of the job's loss depends on y, and y on each x_r, so the gradient reaching x_r is the sum
    of what every rank sends back to y: the backward is the same all-reduce applied to the gradients.
    """

    def forward(self, x):
        return _sum_over_ranks(x)

    def backward(self, grad_y):
        if isinstance(grad_y, np.ndarray):
            return _sum_over_ranks(grad_y)
        return AllReduceSum.apply(grad_y)  # create_graph: the backward is recorded as the same op
