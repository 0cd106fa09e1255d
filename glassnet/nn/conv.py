"""Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d/3d (the arithmetic lives in F.conv*, these hold the
weights)."""

from __future__ import annotations

from glassnet.errors import ShapeError
from glassnet.nn import functional as F
from glassnet.nn import init
from glassnet.nn._layer_utils import check_tensor, empty_parameter, factory_dtype, ntuple, shape_str
from glassnet.nn.module import Module
from glassnet.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

_SPATIAL = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


class _ConvNd(Module):
    """Shared bookkeeping: weight (out, in/groups, *kernel) — (in, out/groups, *kernel) when transposed — and bias."""

    _dims = 2
    _transposed = False

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
        bias: bool = True, padding_mode: str = "zeros", output_padding=0, device=None, dtype=None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        n = self._dims
        dtype = factory_dtype(dtype, device)
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must both be divisible "
                f"by groups ({groups})"
            )
        if not self._transposed and output_padding != 0:
            raise TypeError(f"{name}: output_padding applies only to transposed convolutions")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{name}: padding_mode {padding_mode!r} is not supported yet (only 'zeros')")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
            if padding == "same" and any(s != 1 for s in ntuple(stride, n, "stride")):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = ntuple(kernel_size, n, "kernel_size")
        self.stride = ntuple(stride, n, "stride")
        self.padding = padding if isinstance(padding, str) else ntuple(padding, n, "padding")
        self.dilation = ntuple(dilation, n, "dilation")
        self.output_padding = ntuple(output_padding, n, "output_padding")
        self.groups = groups
        self.padding_mode = padding_mode
        if self._transposed:
            self.weight = empty_parameter(in_channels, out_channels // groups, *self.kernel_size, dtype=dtype)
        else:
            self.weight = empty_parameter(out_channels, in_channels // groups, *self.kernel_size, dtype=dtype)
        if bias:
            self.bias = empty_parameter(out_channels, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: weight kaiming_uniform(a=√5) = U(±1/√fan_in), bias U(±1/√fan_in)."""
        init.layer_default_(self.weight, self.bias)

    def _describe(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def _check_input(self, input: Tensor) -> None:
        """(N, C, *spatial) or, as in PyTorch, one unbatched sample (C, *spatial); anything else is refused naming
        the layer and the shape."""
        check_tensor(input, self._describe())
        n = self._dims
        if input.ndim in (n + 1, n + 2) and input.shape[-n - 1] == self.in_channels:
            self._check_kernel_fits(input)
            return
        spatial = ", ".join(_SPATIAL[n])  # the messages below are built only for a refused input
        layout = f"(N, {self.in_channels}, {spatial})"
        if input.ndim not in (n + 1, n + 2):
            hint = ""
            if input.ndim == n and self.in_channels == 1:
                hint = "; for one single-channel sample use x.unsqueeze(0)"
            raise ShapeError(
                f"{self._describe()} got input of shape {shape_str(input.shape)}; expected a {n + 2}-D input "
                f"{layout} or a {n + 1}-D unbatched one ({self.in_channels}, {spatial}){hint}"
            )
        channels = input.shape[-n - 1]
        if channels != self.in_channels:
            hint = ""
            if input.ndim == n + 1:
                hint = f"; a {n + 1}-D input is read as one unbatched sample (C, {spatial})"
                if self.in_channels == 1:
                    hint += ", for a batch without a channel dim use x.unsqueeze(1)"
            raise ShapeError(
                f"{self._describe()} got input of shape {shape_str(input.shape)} with {channels} channels; "
                f"expected {self.in_channels} input channels {layout} or unbatched ({self.in_channels}, {spatial})"
                f"{hint}"
            )

    def _check_kernel_fits(self, input: Tensor) -> None:
        """The kernel must fit in the padded input (PyTorch refuses the same)."""
        n = self._dims
        if not self._transposed and self.padding != "same":
            pad = (0,) * n if self.padding == "valid" else self.padding
            sizes = input.shape[-n:]
            for size, p, k, d in zip(sizes, pad, self.kernel_size, self.dilation):
                if size + 2 * p < d * (k - 1) + 1:
                    raise ShapeError(
                        f"{self._describe()} got input of shape {shape_str(input.shape)}: the kernel "
                        f"{self.kernel_size} (dilation {self.dilation}) is larger than the padded input "
                        f"{tuple(s + 2 * q for s, q in zip(sizes, pad))}"
                    )

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._dims:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    """1-D convolution (cross-correlation) over (N, C_in, L) → (N, C_out, L_out)."""

    _dims = 1

    def forward(self, input: Tensor) -> Tensor:
        """y[n, o, l] = b[o] + Σ_{c,k} w[o, c, k] · x[n, c, l·stride + k·dilation − padding]"""
        self._check_input(input)
        return F.conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation) over (N, C_in, H, W) → (N, C_out, H_out, W_out)."""

    _dims = 2

    def forward(self, input: Tensor) -> Tensor:
        """y[n, o, i, j] = b[o] + Σ_{c,p,q} w[o, c, p, q] · x[n, c, i·s + p·d − pad, j·s + q·d − pad]"""
        self._check_input(input)
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv3d(_ConvNd):
    """3-D convolution (cross-correlation) over (N, C_in, D, H, W) → (N, C_out, D_out, H_out, W_out), for volumes
    and video; weight (C_out, C_in/groups, kd, kh, kw)."""

    _dims = 3

    def forward(self, input: Tensor) -> Tensor:
        """y[n, o, t, i, j] = b[o] + Σ_{c,r,p,q} w[o, c, r, p, q] · x[n, c, t·s + r·d − pad, i·s + p·d − pad, …]"""
        self._check_input(input)
        return F.conv3d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class _ConvTransposeNd(_ConvNd):
    """Transposed convolution (the gradient of the plain convolution w.r.t. its input), used to upsample.

    Each spatial size: out = (in − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1.
    """

    _transposed = True

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
        groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None, dtype=None,
    ) -> None:
        name = type(self).__name__
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a tuple, got {padding!r}")
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
            output_padding=output_padding, device=device, dtype=dtype,
        )
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                raise ValueError(
                    f"{name}: output_padding {self.output_padding} must be smaller than either stride "
                    f"{self.stride} or dilation {self.dilation}"
                )

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        """The output_padding that makes the output exactly `output_size` (its last spatial sizes are used, so
        (N, C, *spatial) works too; the input may be batched or not), or the configured one."""
        if output_size is None:
            return self.output_padding
        n = self._dims
        output_size = tuple(output_size)[-n:]
        if len(output_size) != n:
            raise ValueError(f"{self._describe()}: output_size {output_size} must have {n} spatial sizes")
        result = []
        for i in range(n):
            smallest = (
                (input.shape[i - n] - 1) * self.stride[i] - 2 * self.padding[i]
                + self.dilation[i] * (self.kernel_size[i] - 1) + 1
            )
            extra = output_size[i] - smallest
            if not 0 <= extra < max(self.stride[i], self.dilation[i]):
                raise ValueError(
                    f"{self._describe()}: output_size {output_size} is not reachable from input of shape "
                    f"{shape_str(input.shape)} (dim {input.ndim - n + i} can be {smallest} to "
                    f"{smallest + max(self.stride[i], self.dilation[i]) - 1})"
                )
            result.append(extra)
        return tuple(result)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        """Scatter each input pixel times the kernel into the (strided) output and sum the overlaps."""
        self._check_input(input)
        output_padding = self._output_padding(input, output_size)
        function = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[self._dims]
        return function(
            input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups, self.dilation
        )


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution (N, C_in, L) → (N, C_out, L_out), weight (C_in, C_out/groups, k).

    L_out = (L − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1.
    """

    _dims = 1


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution (the gradient of Conv2d w.r.t. its input), used to upsample.

    H_out = (H − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1.
    """

    _dims = 2


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution (N, C_in, D, H, W) → (N, C_out, D_out, H_out, W_out), weight
    (C_in, C_out/groups, kd, kh, kw); each size as for ConvTranspose2d."""

    _dims = 3
