"""Linear layers and shape utilities: Linear, Bilinear, Identity, Flatten, Unflatten."""

from __future__ import annotations

import math

from glassnet.nn import init
from glassnet.nn._layer_utils import check_tensor, empty_parameter, factory_dtype, shape_str
from glassnet.nn.module import Module
from glassnet.ops import linalg as la
from glassnet.tensor import Tensor

__all__ = ["Identity", "Linear", "Bilinear", "Flatten", "Unflatten"]

_linear_op = la.Linear.apply


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to remove a layer from a network); ignores any arguments."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        """x"""
        return input


class Linear(Module):
    """y = x Wᵀ + b, applied to the last dimension: (..., in_features) → (..., out_features).

    weight has shape (out_features, in_features) and starts as kaiming_uniform(a=√5), i.e. U(±1/√in_features);
    bias starts as U(±1/√in_features), exactly as in PyTorch.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        dtype = factory_dtype(dtype, device)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = empty_parameter(out_features, in_features, dtype=dtype)
        if bias:
            self.bias = empty_parameter(out_features, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh initial values (PyTorch's default scheme)."""
        init.layer_default_(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        """x Wᵀ + b"""
        params = self._parameters  # read directly: two trips through Module.__getattr__ cost as much as the op
        if isinstance(input, Tensor):
            try:
                return _linear_op(input, params["weight"], params["bias"])  # F.linear's op, bound once
            except KeyError:  # a reparametrised weight (weight_norm, spectral_norm) is an attribute, not a parameter
                return _linear_op(input, self.weight, self.bias)
            except (ValueError, TypeError):
                self._explain_bad_input(input)
                raise
        self._explain_bad_input(input)

    def _explain_bad_input(self, input) -> None:
        """Raise the layer's own message (naming it and the shapes) for an input it cannot take."""
        name = f"Linear({self.in_features}→{self.out_features})"
        check_tensor(input, name)
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise ValueError(
                f"{name} got input of shape {shape_str(input.shape)}; "
                f"expected (..., {self.in_features}) (last dimension {self.in_features})"
            )

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """y_k = x₁ᵀ A_k x₂ + b_k: (..., in1) and (..., in2) → (..., out). weight (out, in1, in2), U(±1/√in1) init."""

    def __init__(
        self, in1_features: int, in2_features: int, out_features: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__()
        dtype = factory_dtype(dtype, device)
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = empty_parameter(out_features, in1_features, in2_features, dtype=dtype)
        if bias:
            self.bias = empty_parameter(out_features, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh initial values (PyTorch's default scheme)."""
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        """x₁ᵀ A_k x₂ + b_k for every output k"""
        name = f"Bilinear({self.in1_features}, {self.in2_features}→{self.out_features})"
        check_tensor(input1, name)
        check_tensor(input2, name)
        if (
            input1.ndim == 0
            or input1.shape[-1] != self.in1_features
            or input2.ndim == 0
            or input2.shape[-1] != self.in2_features
            or input1.shape[:-1] != input2.shape[:-1]
        ):
            raise ValueError(
                f"{name} got inputs of shapes {shape_str(input1.shape)} and {shape_str(input2.shape)}; "
                f"expected (..., {self.in1_features}) and (..., {self.in2_features}) with the same leading dims"
            )
        lead = input1.shape[:-1]
        x1 = input1.reshape(-1, self.in1_features)
        x2 = input2.reshape(-1, self.in2_features)
        # (N, in1) @ (in1, out·in2) → (N, out, in2); then contract in2 with x2.
        a = self.weight.permute(1, 0, 2).reshape(self.in1_features, -1)
        t = (x1 @ a).reshape(-1, self.out_features, self.in2_features)
        out = (t * x2.unsqueeze(1)).sum(-1)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*lead, self.out_features)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )


class Flatten(Module):
    """Merge dims start_dim..end_dim into one: (N, C, H, W) → (N, C·H·W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        """x.flatten(start_dim, end_dim)"""
        check_tensor(input, "Flatten")
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split one dim into several: Unflatten(1, (C, H, W)) turns (N, C·H·W) into (N, C, H, W)."""

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        """x.unflatten(dim, sizes)"""
        check_tensor(input, "Unflatten")
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
