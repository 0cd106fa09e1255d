"""The functional interface (`import glassnet.nn.functional as F`): activations, padding, and the ops layers use."""

from __future__ import annotations

import functools
import inspect

from glassnet.creation import rand
from glassnet.nn import _functional_resample as _resample
from glassnet.ops import activation as act
from glassnet.ops import linalg as la
from glassnet.ops import shape as sh
from glassnet.tensor import Tensor, _floating, where

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def relu(input: Tensor) -> Tensor:
    """max(x, 0)"""
    return act.Relu.apply(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x if x > 0 else negative_slope·x"""
    return act.LeakyRelu.apply(_floating(input), slope=negative_slope)


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """x if x > 0 else α(eˣ − 1)"""
    return act.Elu.apply(_floating(input), alpha=alpha)


def selu(input: Tensor) -> Tensor:
    """scale · elu(x, α) with the self-normalising constants of Klambauer et al. (2017)"""
    return act.Elu.apply(_floating(input), alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x·Φ(x) (approximate='tanh' for the tanh formula used by GPT-2)"""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return act.Gelu.apply(_floating(input), approximate=approximate)


def silu(input: Tensor) -> Tensor:
    """x·σ(x) (also called swish)"""
    return act.Silu.apply(_floating(input))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^{βx})/β, a smooth ReLU"""
    return act.Softplus.apply(_floating(input), beta=beta, threshold=threshold)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + e⁻ˣ)"""
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    """tanh x"""
    return input.tanh()


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """clip(x, min_val, max_val)"""
    return act.Hardtanh.apply(_floating(input), lo=min_val, hi=max_val)


def softmax(input: Tensor, dim: int) -> Tensor:
    """e^{xᵢ} / Σⱼ e^{xⱼ} along `dim`"""
    return input.softmax(dim)


def log_softmax(input: Tensor, dim: int) -> Tensor:
    """xᵢ − log Σⱼ e^{xⱼ} along `dim` (numerically stable)"""
    return input.log_softmax(dim)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x Wᵀ + b over the last dimension, as one op (W: (out, in)); the op checks the shapes and dtypes."""
    for what, value in (("weight", weight), ("bias", bias)):
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"F.linear: expected a Tensor as {what}, got {type(value).__name__}")
    return la.Linear.apply(input, weight, bias) if bias is not None else la.Linear.apply(input, weight)


def pad(input: Tensor, pad: tuple, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last len(pad)/2 dims: pad=(left, right, top, bottom, ...) starting from the last dim. mode "constant"
    fills with `value`; "reflect", "replicate" and "circular" read the border from the input. Negative widths crop."""
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: {pad} must hold a (before, after) pair for each of at most {input.ndim} dims")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if any(lo < 0 or hi < 0 for lo, hi in widths):  # cropping: slice off the negative widths first
        crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(widths, input.shape))
        if any(c.start > c.stop for c in crop):
            raise ValueError(f"pad: negative padding {pad} removes more than the input of shape {input.shape} has")
        input = input[crop]
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if mode != "constant":
        if value not in (None, 0, 0.0):
            raise ValueError(f"pad: value applies to mode 'constant' only, not {mode!r}")
        return _resample.pad_indexed(input, widths, mode)
    if not any(lo or hi for lo, hi in widths):
        return input
    return sh.Pad.apply(input, widths=tuple(widths), value=0.0 if value is None else value)


# (star imports of modules with an __all__, so that the API reference lists these functions on this page)
from glassnet.nn._functional_attention import *  # noqa: E402,F401,F403
from glassnet.nn._functional_conv import *  # noqa: E402,F401,F403
from glassnet.nn._functional_layers import *  # noqa: E402,F401,F403
from glassnet.nn._functional_more import *  # noqa: E402,F401,F403
from glassnet.nn._functional_pool_more import *  # noqa: E402,F401,F403
from glassnet.nn._functional_resample import *  # noqa: E402,F401,F403
from glassnet.nn._functional_sparse import *  # noqa: E402,F401,F403


# ----- more activations: compositions of the ops above, so their derivatives follow from those ops' -------------------
def relu6(input: Tensor) -> Tensor:
    """min(max(x, 0), 6)"""
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input: Tensor) -> Tensor:
    """relu6(x + 3) / 6: 0 below −3, 1 above 3, linear between"""
    return hardtanh(_floating(input) + 3.0, 0.0, 6.0) / 6.0


def hardswish(input: Tensor) -> Tensor:
    """x · relu6(x + 3) / 6 (MobileNetV3)"""
    return input * hardsigmoid(input)


def mish(input: Tensor) -> Tensor:
    """x · tanh(softplus(x)) (Misra, 2019)"""
    return input * softplus(input).tanh()


def logsigmoid(input: Tensor) -> Tensor:
    """log σ(x) = −softplus(−x), computed stably"""
    return -softplus(-_floating(input))


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)"""
    return input / (input.abs() + 1)


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """max(0, x) + min(0, α(e^{x/α} − 1)) = α · elu(x / α)"""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return elu(_floating(input) / alpha) * alpha


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a · σ(b), where a and b are the two halves of x along `dim` (a gated linear unit)"""
    n = input.shape[dim] if input.ndim else 0
    if n % 2:
        raise ValueError(f"glu: dim {dim} of shape {input.shape} must have an even size to split in halves")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def softmin(input: Tensor, dim: int) -> Tensor:
    """softmax(−x) along `dim`"""
    return softmax(-_floating(input), dim)


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    """x where x > threshold, else `value`"""
    return where(input > threshold, input, value)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > λ, else 0"""
    return where(input.abs() > lambd, input, 0.0)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x − λ above λ, x + λ below −λ, 0 between"""
    return where(input > lambd, input - lambd, where(input < -lambd, input + lambd, 0.0))


def tanhshrink(input: Tensor) -> Tensor:
    """x − tanh x"""
    return input - input.tanh()


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          generator=None) -> Tensor:
    """Randomized leaky ReLU: negative inputs are scaled by a slope drawn from U(lower, upper) for each element
    while training, and by the mean slope (lower + upper) / 2 in evaluation."""
    if not 0 <= lower <= upper:
        raise ValueError(f"rrelu: expected 0 <= lower <= upper, got lower={lower}, upper={upper}")
    x = _floating(input)
    if not training:
        return leaky_relu(x, (lower + upper) / 2)
    slope = rand(*x.shape, generator=generator, dtype=x.dtype, device=x.device) * (upper - lower) + lower
    return where(x >= 0, x, x * slope)


def _refuse_non_tensors(fn):
    """`fn`, refusing a first argument that is not a Tensor with a TypeError naming `fn` (as torch.nn.functional
    does) instead of an AttributeError from deep inside."""

    @functools.wraps(fn)
    def checked(input, *args, **kwargs):  # noqa: A002
        if not isinstance(input, Tensor):
            raise TypeError(f"F.{fn.__name__}: expected a Tensor as input, got {type(input).__name__}")
        return fn(input, *args, **kwargs)

    return checked


# Every public function whose first parameter is a tensor called `input` gets the check (one place, not one line
# in each function).
for _name, _fn in list(globals().items()):
    if (
        not _name.startswith("_")
        and inspect.isfunction(_fn)
        and _fn.__module__.startswith("glassnet")
        and next(iter(inspect.signature(_fn).parameters), None) == "input"
    ):
        globals()[_name] = _refuse_non_tensors(_fn)
del _name, _fn
