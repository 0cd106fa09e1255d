"""Pooling layers: MaxPool1d/2d/3d, AvgPool1d/2d/3d, AdaptiveAvgPool1d/2d/3d and LPPool1d/2d/3d (the arithmetic
lives in F.*_pool*)."""

from __future__ import annotations

from glassnet.errors import ShapeError
from glassnet.nn import functional as F
from glassnet.nn._layer_utils import check_tensor, ntuple, shape_str
from glassnet.nn.module import Module
from glassnet.tensor import Tensor

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "LPPool1d", "LPPool2d", "LPPool3d"]

_SPATIAL = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


class _Pool(Module):
    """Input checks shared by the pooling layers (an unbatched input (C, *spatial) is allowed, as in PyTorch)."""

    _dims = 2

    def _check(self, input: Tensor, dilation=1) -> None:
        """Validate the input, naming the layer and the shapes in any error."""
        name = f"{type(self).__name__}({self.extra_repr()})"
        check_tensor(input, name)
        n = self._dims
        spatial = _SPATIAL[n]
        if input.ndim not in (n + 1, n + 2):
            raise ShapeError(
                f"{name} got input of shape {shape_str(input.shape)}; expected (N, C, {', '.join(spatial)}) "
                f"or (C, {', '.join(spatial)})"
            )
        if hasattr(self, "kernel_size"):
            k = ntuple(self.kernel_size, n, "kernel_size")
            p = ntuple(getattr(self, "padding", 0), n, "padding")
            d = ntuple(dilation, n, "dilation")
            if any(2 * pi > ki for pi, ki in zip(p, k)):
                raise ValueError(f"{name}: padding {p} must be at most half of kernel_size {k}")
            sizes = input.shape[-n:]
            if any(s + 2 * pi < di * (ki - 1) + 1 for s, pi, ki, di in zip(sizes, p, k, d)):
                raise ShapeError(
                    f"{name} got input of shape {shape_str(input.shape)}: the pooling window {k} is larger than "
                    f"the padded input {tuple(s + 2 * pi for s, pi in zip(sizes, p))}"
                )


class _MaxPoolNd(_Pool):
    def __init__(
        self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False, ceil_mode: bool = False
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """The maximum over each window of length kernel_size: (N, C, L) → (N, C, L_out)."""

    _dims = 1

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        """y[n, c, l] = max_k x[n, c, l·stride + k·dilation − padding]"""
        self._check(input, self.dilation)
        return F.max_pool1d(
            input, self.kernel_size, self.stride, self.padding, self.dilation,
            ceil_mode=self.ceil_mode, return_indices=self.return_indices,
        )


class MaxPool2d(_MaxPoolNd):
    """The maximum over each kernel_size window: (N, C, H, W) → (N, C, H_out, W_out)."""

    _dims = 2

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        """y[n, c, i, j] = max over the window at (i·stride − padding, j·stride − padding)"""
        self._check(input, self.dilation)
        return F.max_pool2d(
            input, self.kernel_size, self.stride, self.padding, self.dilation,
            ceil_mode=self.ceil_mode, return_indices=self.return_indices,
        )


class MaxPool3d(_MaxPoolNd):
    """The maximum over each kernel_size window of a volume: (N, C, D, H, W) → (N, C, D_out, H_out, W_out)."""

    _dims = 3

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        """y[n, c, t, i, j] = max over the window at (t·stride − padding, i·stride − padding, j·stride − padding)"""
        self._check(input, self.dilation)
        return F.max_pool3d(
            input, self.kernel_size, self.stride, self.padding, self.dilation,
            ceil_mode=self.ceil_mode, return_indices=self.return_indices,
        )


class AvgPool1d(_Pool):
    """The mean over each window of length kernel_size: (N, C, L) → (N, C, L_out)."""

    _dims = 1

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True
    ) -> None:
        super().__init__()
        self.kernel_size = ntuple(kernel_size, 1, "kernel_size")
        self.stride = ntuple(stride if stride is not None else kernel_size, 1, "stride")
        self.padding = ntuple(padding, 1, "padding")
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        """y[n, c, l] = mean_k x[n, c, l·stride + k − padding]"""
        self._check(input)
        return F.avg_pool1d(
            input, self.kernel_size, self.stride, self.padding,
            ceil_mode=self.ceil_mode, count_include_pad=self.count_include_pad,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPoolNd(_Pool):
    """AvgPool2d/3d: PyTorch keeps their arguments as given (an int stays an int, as in the repr)."""

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        """y[n, c, i, j] = mean over the window at (i·stride − padding, j·stride − padding) (one more index in 3-D)"""
        self._check(input)
        options = {"ceil_mode": self.ceil_mode, "count_include_pad": self.count_include_pad}
        if self.divisor_override is not None:
            options["divisor_override"] = self.divisor_override
        function = F.avg_pool2d if self._dims == 2 else F.avg_pool3d
        return function(input, self.kernel_size, self.stride, self.padding, **options)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """The mean over each kernel_size window: (N, C, H, W) → (N, C, H_out, W_out)."""

    _dims = 2


class AvgPool3d(_AvgPoolNd):
    """The mean over each kernel_size window of a volume: (N, C, D, H, W) → (N, C, D_out, H_out, W_out)."""

    _dims = 3


class _AdaptiveAvgPoolNd(_Pool):
    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        """Each output cell is the mean of the input cells [⌊i·H/H_out⌋, ⌈(i+1)·H/H_out⌉) along every axis."""
        self._check(input)
        function = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}[self._dims]
        return function(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average-pool (N, C, L) to a fixed length L_out whatever L."""

    _dims = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average-pool to a fixed output size (H_out, W_out) whatever the input size (None keeps that dim)."""

    _dims = 2


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Average-pool a volume to a fixed output size (D_out, H_out, W_out) whatever the input size (None keeps
    that dim)."""

    _dims = 3


class _LPPoolNd(_Pool):
    """Power-average pooling (Σ_window x^p)^(1/p): p = 1 is sum pooling, p = ∞ max pooling (of |x|); no padding."""

    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> None:
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        """y = (Σ_window x^p)^(1/p), as avg_pool(x^p) · window size, then the p-th root"""
        self._check(input)
        function = {1: F.lp_pool1d, 2: F.lp_pool2d, 3: F.lp_pool3d}[self._dims]
        return function(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """Power-average pooling over windows of length kernel_size: (N, C, L) → (N, C, L_out)."""

    _dims = 1


class LPPool2d(_LPPoolNd):
    """Power-average pooling over kernel_size windows: (N, C, H, W) → (N, C, H_out, W_out)."""

    _dims = 2


class LPPool3d(_LPPoolNd):
    """Power-average pooling over kernel_size windows of a volume: (N, C, D, H, W) → (N, C, D_out, H_out, W_out)."""

    _dims = 3
