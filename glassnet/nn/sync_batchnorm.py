"""SyncBatchNorm: batch normalisation whose statistics are taken over the global batch of a data-parallel job."""

from __future__ import annotations

import numpy

from glassnet import distributed
from glassnet.autograd import no_grad
from glassnet.nn.module import Module
from glassnet.nn.normalization import _BatchNorm
from glassnet.ops.collective import AllReduceSum
from glassnet.tensor import Tensor

__all__ = ["SyncBatchNorm"]


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation over (N, C, *) inputs with the mean and variance of every rank's batch together.

    In training, with 2 or more ranks::

        mean = Σ_ranks Σ x / n,   var = Σ_ranks Σ (x − mean)² / n      (n: samples × positions on all ranks)

    each sum an all-reduce that is itself differentiable (ops/collective.py), so the gradient flows through the
    statistics of the global batch exactly as through a BatchNorm on one process with the whole batch. In
    evaluation, or in a single process, it is a BatchNorm. Build one directly or turn every BatchNorm of a model into
    one with `SyncBatchNorm.convert_sync_batchnorm(model)`.
    """

    _ndims = (2, 3, 4, 5)
    _layout = "(N, C, *)"

    def forward(self, input: Tensor) -> Tensor:
        """Normalise each channel by the global batch's statistics (training, several ranks), else as BatchNorm."""
        if not self.training or not distributed.is_initialized() or distributed.get_world_size() == 1:
            return super().forward(input)
        self._check_input(input)
        channels = self.num_features
        axes = (0,) + tuple(range(2, input.ndim))
        shape = (1, channels) + (1,) * (input.ndim - 2)
        count = distributed.reduce_array(numpy.array([input.numel() // channels], dtype=numpy.int64), "sum")
        n = int(count[0])
        mean = AllReduceSum.apply(input.sum(axis=axes)) / n
        centered = input - mean.reshape(shape)
        var = AllReduceSum.apply((centered * centered).sum(axis=axes)) / n
        out = centered / (var + self.eps).sqrt().reshape(shape)
        if self.weight is not None:
            out = out * self.weight.reshape(shape)
        if self.bias is not None:
            out = out + self.bias.reshape(shape)
        if self.track_running_stats:
            self.num_batches_tracked.data += 1
            factor = 1.0 / float(self.num_batches_tracked.item()) if self.momentum is None else self.momentum
            with no_grad():  # running variance unbiased, as BatchNorm's
                unbiased = var.data * (n / max(n - 1, 1))
                self.running_mean.data[...] = (1 - factor) * self.running_mean.data + factor * mean.data
                self.running_var.data[...] = (1 - factor) * self.running_var.data + factor * unbiased
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module: Module) -> Module:
        """Replace every BatchNorm1d/2d inside `module` (or `module` itself) by a SyncBatchNorm that keeps its
        parameters, running statistics and settings; returns the converted module."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
            converted.weight, converted.bias = module.weight, module.bias
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                setattr(converted, name, getattr(module, name))
            converted.train(module.training)
            return converted
        for name, child in list(module._modules.items()):
            if child is not None:
                replaced = cls.convert_sync_batchnorm(child)
                if replaced is not child:
                    setattr(module, name, replaced)
        return module
