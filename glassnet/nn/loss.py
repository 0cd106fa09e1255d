"""Loss layers: a Module for every loss in `glassnet.nn.functional`, checking shapes and naming itself in errors."""

from __future__ import annotations

import warnings

import numpy

from glassnet import backend
from glassnet.errors import ShapeError
from glassnet.nn import functional as F
from glassnet.nn._layer_utils import check_tensor, shape_str
from glassnet.nn.module import Module
from glassnet.tensor import Tensor

__all__ = [
    "CrossEntropyLoss",
    "NLLLoss",
    "MSELoss",
    "L1Loss",
    "SmoothL1Loss",
    "HuberLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "KLDivLoss",
    "CosineSimilarity",
]


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """PyTorch's old size_average/reduce flags, translated to a reduction string."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce are deprecated; use reduction='mean'|'sum'|'none'", stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "mean" if size_average and reduce else "sum" if reduce else "none"


class _Loss(Module):
    _reductions = ("none", "mean", "sum")

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        reduction = _legacy_reduction(size_average, reduce, reduction)
        if reduction not in self._reductions:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {self._reductions}, got {reduction!r}"
            )
        self.reduction = reduction

    def _inputs(self, input, target) -> None:
        check_tensor(input, type(self).__name__)
        check_tensor(target, type(self).__name__)

    def _broadcastable(self, input: Tensor, target: Tensor) -> None:
        """Same shape, or shapes that broadcast (the functional form warns, as PyTorch does); else an error."""
        self._inputs(input, target)
        try:
            numpy.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise ShapeError(
                f"{type(self).__name__} got input of shape {shape_str(input.shape)} and target of shape "
                f"{shape_str(target.shape)}; they must have the same shape"
            ) from None

    def _same_shape(self, input: Tensor, target: Tensor) -> None:
        self._inputs(input, target)
        if input.shape != target.shape:
            raise ShapeError(
                f"{type(self).__name__} got input of shape {shape_str(input.shape)} and target of shape "
                f"{shape_str(target.shape)}; they must have the same shape"
            )


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


def _check_class_targets(
    loss: Module, input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, allow_probs: bool
) -> bool:
    """Check (C)/(N, C, d…) inputs against class-index (or probability) targets; return True for probabilities."""
    name = type(loss).__name__
    if input.ndim == 0:
        raise ShapeError(f"{name} got a 0-d input; expected scores of shape (C,), (N, C) or (N, C, d1, ...)")
    classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    index_shape = () if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:])
    if weight is not None and tuple(weight.shape) != (classes,):
        raise ShapeError(f"{name}: weight of shape {shape_str(weight.shape)} does not match {classes} classes")
    if target.dtype.kind == "f" and allow_probs:
        if target.shape != input.shape:
            raise ShapeError(
                f"{name} got input of shape {shape_str(input.shape)} and probability target of shape "
                f"{shape_str(target.shape)}; class probabilities must have the input's shape "
                f"(or pass class indices of shape {shape_str(index_shape)})"
            )
        return True
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices (int64), got dtype {target.dtype}")
    if tuple(target.shape) != index_shape:
        also = f" or class probabilities of shape {shape_str(input.shape)}" if allow_probs else ""
        raise ShapeError(
            f"{name} got input of shape {shape_str(input.shape)} and target of shape {shape_str(target.shape)}; "
            f"expected class indices of shape {shape_str(index_shape)}{also}"
        )
    # The values are checked on the host only: on a device the check would read them back on every step.
    if not backend.on_host(target.data):
        return False
    values = target.data[target.data != ignore_index]
    if values.size and (values.min() < 0 or values.max() >= classes):
        bad = int(values.min()) if values.min() < 0 else int(values.max())
        raise IndexError(
            f"{name}: target holds class {bad}, out of range for input of shape {shape_str(input.shape)} with "
            f"{classes} classes (valid: 0..{classes - 1}, or ignore_index={ignore_index})"
        )
    return False


class CrossEntropyLoss(_WeightedLoss):
    """−log softmax(x)[target], fused and stable; targets are class indices or class probabilities."""

    def __init__(
        self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100, reduce=None,
        reduction: str = "mean", label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """mean over samples of −Σ_c y_c · log softmax(x)_c"""
        self._inputs(input, target)
        _check_class_targets(self, input, target, self.weight, self.ignore_index, allow_probs=True)
        return F.cross_entropy(
            input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_WeightedLoss):
    """−input[target]: the negative log-likelihood of the target class given log-probabilities."""

    def __init__(
        self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100, reduce=None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """−Σ w[yₙ] · input[n, yₙ] / Σ w[yₙ]"""
        self._inputs(input, target)
        _check_class_targets(self, input, target, self.weight, self.ignore_index, allow_probs=False)
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(_Loss):
    """(x − y)², averaged (or summed)."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """mean((x − y)²)"""
        self._broadcastable(input, target)
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """|x − y|, averaged (or summed)."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """mean(|x − y|)"""
        self._broadcastable(input, target)
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """0.5·d²/β where |d| < β, else |d| − 0.5·β (d = x − y)."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {beta}")
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """quadratic near zero, linear beyond β"""
        self._broadcastable(input, target)
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """0.5·d² where |d| < δ, else δ·(|d| − 0.5·δ) (d = x − y)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """quadratic near zero, linear beyond δ"""
        self._broadcastable(input, target)
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """−[y·log p + (1 − y)·log(1 − p)] for probabilities p in [0, 1]."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """mean of −[y log p + (1 − y) log(1 − p)]"""
        self._same_shape(input, target)
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """BCE on σ(x), computed stably from the logits x; pos_weight scales the positive term per class."""

    def __init__(
        self, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """mean of −[p_w·y·log σ(x) + (1 − y)·log(1 − σ(x))]"""
        self._same_shape(input, target)
        return F.binary_cross_entropy_with_logits(
            input, target, weight=self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class KLDivLoss(_Loss):
    """KL(target ‖ q) = Σ target·(log target − input), where input holds log q (log-probabilities)."""

    _reductions = ("none", "mean", "sum", "batchmean")

    def __init__(
        self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Σ target · (log target − input), reduced"""
        self._broadcastable(input, target)
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CosineSimilarity(Module):
    """x₁·x₂ / max(‖x₁‖·‖x₂‖, eps) along `dim`."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        """cosine of the angle between x1 and x2 along dim"""
        check_tensor(x1, "CosineSimilarity")
        check_tensor(x2, "CosineSimilarity")
        try:
            shape = numpy.broadcast_shapes(x1.shape, x2.shape)
        except ValueError:
            raise ValueError(
                f"CosineSimilarity got inputs of shapes {shape_str(x1.shape)} and {shape_str(x2.shape)}, which "
                "cannot be broadcast together"
            ) from None
        if not -len(shape) <= self.dim < max(len(shape), 1):
            raise ValueError(f"CosineSimilarity: dim {self.dim} is out of range for inputs of shape {shape_str(shape)}")
        return F.cosine_similarity(x1, x2, dim=self.dim, eps=self.eps)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, eps={self.eps}"


# ----- more of PyTorch's losses (each the module of the function of the same name in glassnet.nn.functional) ---------
class MarginRankingLoss(_Loss):
    """max(0, −y·(x₁ − x₂) + margin)."""

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


class HingeEmbeddingLoss(_Loss):
    """x where y = 1, max(0, margin − x) where y = −1."""

    def __init__(self, margin: float = 1.0, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.hinge_embedding_loss(input, target, self.margin, self.reduction)


class SoftMarginLoss(_Loss):
    """log(1 + e^{−y·x})."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.soft_margin_loss(input, target, self.reduction)


class TripletMarginLoss(_Loss):
    """max(0, d(a, p) − d(a, n) + margin)."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False, size_average=None,
                 reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps, self.swap,
                                     self.reduction)


class PoissonNLLLoss(_Loss):
    """eˣ − y·x (log_input), or x − y·log(x + ε)."""

    def __init__(self, log_input: bool = True, full: bool = False, size_average=None, eps: float = 1e-8, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input: Tensor, target: Tensor) -> Tensor:
        return F.poisson_nll_loss(log_input, target, self.log_input, self.full, eps=self.eps, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """½(log v + (x − y)²/v)."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(None, None, reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Tensor, target: Tensor, var: Tensor) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)


class MultiLabelSoftMarginLoss(_Loss):
    """−mean over classes of y·log σ(x) + (1 − y)·log σ(−x)."""

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multilabel_soft_margin_loss(input, target, self.weight, reduction=self.reduction)


__all__ += ["MarginRankingLoss", "HingeEmbeddingLoss", "SoftMarginLoss", "TripletMarginLoss", "PoissonNLLLoss",
            "GaussianNLLLoss", "MultiLabelSoftMarginLoss"]


class CTCLoss(_Loss):
    """Connectionist temporal classification: −log Σ over the alignments of each target to its input frames
    (F.ctc_loss; the alpha/beta recursions are in glassnet/ops/ctc.py)."""

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        super().__init__(None, None, reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs: Tensor, targets, input_lengths, target_lengths) -> Tensor:
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                          self.zero_infinity)


__all__ += ["CTCLoss"]
