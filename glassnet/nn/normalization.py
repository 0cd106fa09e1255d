"""Normalisation layers: BatchNorm1d/2d (with running statistics), LayerNorm and GroupNorm."""

from __future__ import annotations

import numpy

from glassnet.nn import functional as F
from glassnet.nn import init
from glassnet.nn._layer_utils import check_tensor, empty_parameter, factory_dtype, shape_str
from glassnet.nn.module import Module
from glassnet.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm"]


def _affine_parameters(module: Module, shape: tuple, affine: bool, bias: bool, dtype) -> None:
    """Register the per-feature scale γ (weight) and shift β (bias) of a norm layer, or None for each."""
    module.register_parameter("weight", empty_parameter(*shape, dtype=dtype) if affine else None)
    module.register_parameter("bias", empty_parameter(*shape, dtype=dtype) if affine and bias else None)


def _reset_affine(module: Module) -> None:
    """γ = 1, β = 0."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _BatchNorm(Module):
    """y = (x − mean) / √(var + eps) · γ + β per channel, with batch statistics in training and running ones in eval.

    running_mean/running_var follow r ← (1 − momentum)·r + momentum·batch_stat (the variance unbiased);
    momentum=None gives the cumulative average, momentum = 1/num_batches_tracked.
    """

    _ndims: tuple = (2, 3)
    _layout = "(N, C) or (N, C, L)"

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
        track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True,
    ) -> None:
        super().__init__()
        dtype = factory_dtype(dtype, device)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _affine_parameters(self, (num_features,), affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(numpy.zeros(num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(numpy.ones(num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(numpy.array(0, dtype=numpy.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0, variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """γ = 1, β = 0, and fresh running statistics."""
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input(self, input: Tensor) -> None:
        name = f"{type(self).__name__}({self.num_features})"
        check_tensor(input, name)
        if input.ndim not in self._ndims:
            raise ValueError(
                f"{name} got input of shape {shape_str(input.shape)}; expected {self._layout} "
                f"({' or '.join(f'{d}-D' for d in self._ndims)} input, got {input.ndim}-D)"
            )
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"{name} got input of shape {shape_str(input.shape)}; expected {self.num_features} channels "
                f"at dim 1, got {input.shape[1]}"
            )
        if self.training and input.numel() // max(input.shape[1], 1) == 1:
            raise ValueError(
                f"{name} got input of shape {shape_str(input.shape)}: expected more than 1 value per channel "
                "when training (use a batch of 2 or more, or call .eval())"
            )

    def forward(self, input: Tensor) -> Tensor:
        """Normalise each channel over the batch (and spatial) dims, then scale by γ and shift by β."""
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            factor = 1.0 / float(self.num_batches_tracked.item()) if self.momentum is None else self.momentum
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation (Ioffe & Szegedy, 2015) over (N, C) or (N, C, L) inputs."""

    _ndims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation (Ioffe & Szegedy, 2015) over (N, C, H, W) inputs, one mean/variance per channel."""

    _ndims = (4,)
    _layout = "(N, C, H, W)"


class LayerNorm(Module):
    """Normalise over the last len(normalized_shape) dims of each sample, then scale and shift (Ba et al., 2016)."""

    def __init__(
        self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
        device=None, dtype=None,
    ) -> None:
        super().__init__()
        dtype = factory_dtype(dtype, device)
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """γ = 1, β = 0."""
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        """(x − mean) / √(var + eps) · γ + β over the trailing normalized_shape dims"""
        name = f"LayerNorm({self.normalized_shape})"
        check_tensor(input, name)
        n = len(self.normalized_shape)
        if input.ndim < n or tuple(input.shape[input.ndim - n :]) != self.normalized_shape:
            raise ValueError(
                f"{name} got input of shape {shape_str(input.shape)}; expected (..., "
                f"{', '.join(str(s) for s in self.normalized_shape)})"
            )
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Normalise each sample over groups of channels (Wu & He, 2018), then scale and shift per channel."""

    def __init__(
        self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None, dtype=None,
        *, bias: bool = True,
    ) -> None:
        super().__init__()
        dtype = factory_dtype(dtype, device)
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _affine_parameters(self, (num_channels,), affine, bias, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """γ = 1, β = 0."""
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        """Normalise over (channels of a group, spatial dims) per sample, then γ·x̂ + β per channel"""
        name = f"GroupNorm({self.num_groups}, {self.num_channels})"
        check_tensor(input, name)
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ValueError(
                f"{name} got input of shape {shape_str(input.shape)}; expected (N, {self.num_channels}, *)"
            )
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )
