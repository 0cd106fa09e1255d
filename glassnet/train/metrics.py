"""Metrics: plain functions on Tensors (or arrays), and streaming `Metric` objects the Trainer accumulates over batches.

Every function takes the model's `output` first and the `target` second, like a loss. Classification
functions accept scores of shape (..., C) with integer class targets of shape (...), or already-predicted
class indices of the target's shape. A streaming metric gives the same number over a whole epoch as the
function would over all its batches concatenated::

    acc = Accuracy()
    for output, target in batches:
        acc.update(output, target)
    acc.compute()            # == accuracy(cat(outputs), cat(targets))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy

from glassnet.tensor import Tensor

__all__ = [
    "Accuracy",
    "ConfusionMatrix",
    "F1Score",
    "FunctionMetric",
    "Mean",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metric",
    "Perplexity",
    "Precision",
    "Recall",
    "TopKAccuracy",
    "accuracy",
    "confusion_matrix",
    "f1_score",
    "get_metric",
    "mean_absolute_error",
    "mean_squared_error",
    "perplexity",
    "precision",
    "recall",
    "top_k_accuracy",
]


def _array(x: Any) -> numpy.ndarray:
    """A host NumPy array from a Tensor, an array or a list (never part of a graph)."""
    if isinstance(x, Tensor):
        x = x.detach().data
    if hasattr(x, "get") and not isinstance(x, numpy.ndarray):  # a CuPy array
        x = x.get()
    return numpy.asarray(x)


def _predictions(output: Any, target: Any, threshold: float = 0.5) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Predicted and true class indices, flattened: argmax over the last axis of scores, or a threshold."""
    out, tgt = _array(output), _array(target)
    if out.ndim == tgt.ndim + 1:
        pred = out.argmax(axis=-1)
    elif out.shape == tgt.shape:
        pred = (out >= threshold).astype(numpy.int64) if out.dtype.kind == "f" else out
    else:
        raise ValueError(
            f"metrics: output of shape {out.shape} does not match target of shape {tgt.shape}; expected scores of "
            f"shape {tgt.shape + ('C',)} or predictions of shape {tgt.shape}"
        )
    return pred.reshape(-1).astype(numpy.int64), tgt.reshape(-1).astype(numpy.int64)


# ----- functions ----------------------------------------------------------------------------------------------
def accuracy(output: Any, target: Any, threshold: float = 0.5) -> float:
    """Fraction of correct predictions (argmax of scores (..., C), or `output >= threshold` for binary outputs)."""
    pred, tgt = _predictions(output, target, threshold)
    return float((pred == tgt).mean()) if tgt.size else float("nan")


def top_k_accuracy(output: Any, target: Any, k: int = 5) -> float:
    """Fraction of samples whose true class is among the `k` highest scores of output (..., C)."""
    correct, total = _top_k_counts(output, target, k)
    return correct / total if total else float("nan")


def _top_k_counts(output: Any, target: Any, k: int) -> tuple[int, int]:
    out, tgt = _array(output), _array(target).astype(numpy.int64)
    if out.ndim != tgt.ndim + 1:
        raise ValueError(f"top_k_accuracy: expected scores of shape {tgt.shape + ('C',)}, got {out.shape}")
    out = out.reshape(-1, out.shape[-1])
    tgt = tgt.reshape(-1)
    k = min(k, out.shape[-1])
    true_score = numpy.take_along_axis(out, tgt[:, None], axis=-1)
    # the true class is in the top k when fewer than k classes score strictly higher (ties count in its favour)
    higher = (out > true_score).sum(axis=-1)
    return int((higher < k).sum()), int(tgt.size)


def confusion_matrix(output: Any, target: Any, num_classes: int | None = None) -> numpy.ndarray:
    """Counts `m[true, predicted]` (int64, shape (C, C)); C from the scores, `num_classes` or the largest label."""
    pred, tgt = _predictions(output, target)
    if num_classes is None:
        out = _array(output)
        num_classes = (
            out.shape[-1]
            if out.ndim == _array(target).ndim + 1
            else int(max(pred.max(initial=0), tgt.max(initial=0)) + 1)
        )
    if tgt.size and (min(pred.min(), tgt.min()) < 0 or max(pred.max(), tgt.max()) >= num_classes):
        raise ValueError(f"confusion_matrix: a label is outside 0..{num_classes - 1}")
    m = numpy.zeros((num_classes, num_classes), dtype=numpy.int64)
    numpy.add.at(m, (tgt, pred), 1)
    return m


def _from_confusion(m: numpy.ndarray, which: str, average: str | None) -> float | list[float]:
    """Precision, recall or F1 per class from a confusion matrix (0 where undefined), or their macro mean."""
    tp = numpy.diag(m).astype(numpy.float64)
    predicted = m.sum(axis=0).astype(numpy.float64)
    actual = m.sum(axis=1).astype(numpy.float64)
    with numpy.errstate(divide="ignore", invalid="ignore"):
        prec = numpy.where(predicted > 0, tp / predicted, 0.0)
        rec = numpy.where(actual > 0, tp / actual, 0.0)
        f1 = numpy.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    values = {"precision": prec, "recall": rec, "f1": f1}[which]
    if average is None:
        return [float(v) for v in values]
    if average == "macro":
        return float(values.mean()) if values.size else float("nan")
    if average == "micro":
        total = m.sum()
        return float(tp.sum() / total) if total else float("nan")
    raise ValueError(f"{which}: average must be 'macro', 'micro' or None, got {average!r}")


def precision(output: Any, target: Any, num_classes: int | None = None, average: str | None = "macro"):
    """Precision tp/(tp+fp) per class (`average=None`, a list) or its unweighted mean over classes ('macro')."""
    return _from_confusion(confusion_matrix(output, target, num_classes), "precision", average)


def recall(output: Any, target: Any, num_classes: int | None = None, average: str | None = "macro"):
    """Recall tp/(tp+fn) per class (`average=None`, a list) or its unweighted mean over classes ('macro')."""
    return _from_confusion(confusion_matrix(output, target, num_classes), "recall", average)


def f1_score(output: Any, target: Any, num_classes: int | None = None, average: str | None = "macro"):
    """F1 = 2·P·R/(P+R) per class (`average=None`, a list) or its unweighted mean over classes ('macro')."""
    return _from_confusion(confusion_matrix(output, target, num_classes), "f1", average)


def mean_squared_error(output: Any, target: Any) -> float:
    """Mean of (output − target)² over every element."""
    d = _array(output).astype(numpy.float64) - _array(target).astype(numpy.float64)
    return float((d * d).mean())


def mean_absolute_error(output: Any, target: Any) -> float:
    """Mean of |output − target| over every element."""
    return float(numpy.abs(_array(output).astype(numpy.float64) - _array(target).astype(numpy.float64)).mean())


def _nll_sum(output: Any, target: Any, ignore_index: int | None) -> tuple[float, int]:
    logits = _array(output).astype(numpy.float64)
    tgt = _array(target).astype(numpy.int64)
    if logits.ndim != tgt.ndim + 1:
        raise ValueError(f"perplexity: expected logits of shape {tgt.shape + ('C',)}, got {logits.shape}")
    logits = logits.reshape(-1, logits.shape[-1])
    tgt = tgt.reshape(-1)
    if ignore_index is not None:
        keep = tgt != ignore_index
        logits, tgt = logits[keep], tgt[keep]
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - numpy.log(numpy.exp(shifted).sum(axis=-1, keepdims=True))
    nll = -numpy.take_along_axis(log_probs, tgt[:, None], axis=-1)
    return float(nll.sum()), int(tgt.size)


def perplexity(output: Any, target: Any, ignore_index: int | None = None) -> float:
    """exp(mean cross-entropy) of logits (..., C) against integer targets (...): the effective branching factor."""
    total, count = _nll_sum(output, target, ignore_index)
    return math.exp(total / count) if count else float("nan")


# ----- streaming metrics ------------------------------------------------------------------------------------
class Metric:
    """A metric accumulated over batches: `reset()`, `update(output, target)` per batch, `compute()` at the end."""

    name: str = "metric"

    def reset(self) -> None:
        """Forget everything seen so far."""
        raise NotImplementedError

    def update(self, output: Any, target: Any) -> None:
        """Add one batch."""
        raise NotImplementedError

    def compute(self) -> Any:
        """The metric over every batch since the last reset (a float, or a list for per-class values)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Mean(Metric):
    """A (weighted) running mean of numbers: `update(value, weight=1)`."""

    def __init__(self, name: str = "mean"):
        self.name = name
        self.reset()

    def reset(self) -> None:
        self.total, self.weight = 0.0, 0.0

    def update(self, value: Any, weight: float = 1.0) -> None:  # type: ignore[override]
        self.total += float(_array(value)) * weight
        self.weight += weight

    def compute(self) -> float:
        return self.total / self.weight if self.weight else float("nan")


class FunctionMetric(Metric):
    """Wraps a function `fn(output, target) -> number` as a streaming metric: the batch-size-weighted mean."""

    def __init__(self, fn: Callable[[Any, Any], Any], name: str | None = None):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "metric")
        self._mean = Mean(self.name)

    def reset(self) -> None:
        self._mean.reset()

    def update(self, output: Any, target: Any) -> None:
        n = _array(target).shape[0] if _array(target).ndim else 1
        self._mean.update(self.fn(output, target), weight=n)

    def compute(self) -> float:
        return self._mean.compute()


class Accuracy(Metric):
    """Streaming `accuracy`: correct predictions / predictions."""

    def __init__(self, threshold: float = 0.5, name: str = "accuracy"):
        self.threshold, self.name = threshold, name
        self.reset()

    def reset(self) -> None:
        self.correct, self.total = 0, 0

    def update(self, output: Any, target: Any) -> None:
        pred, tgt = _predictions(output, target, self.threshold)
        self.correct += int((pred == tgt).sum())
        self.total += int(tgt.size)

    def compute(self) -> float:
        return self.correct / self.total if self.total else float("nan")


class TopKAccuracy(Metric):
    """Streaming `top_k_accuracy`."""

    def __init__(self, k: int = 5, name: str | None = None):
        self.k, self.name = k, name or f"top{k}_accuracy"
        self.reset()

    def reset(self) -> None:
        self.correct, self.total = 0, 0

    def update(self, output: Any, target: Any) -> None:
        c, t = _top_k_counts(output, target, self.k)
        self.correct += c
        self.total += t

    def compute(self) -> float:
        return self.correct / self.total if self.total else float("nan")


class ConfusionMatrix(Metric):
    """Streaming `confusion_matrix`; `compute()` gives it as nested lists (JSON-friendly), `.matrix` as an array."""

    def __init__(self, num_classes: int | None = None, name: str = "confusion_matrix"):
        self.num_classes, self.name = num_classes, name
        self.reset()

    def reset(self) -> None:
        self.matrix: numpy.ndarray | None = None

    def update(self, output: Any, target: Any) -> None:
        n = self.num_classes
        if n is None:
            out = _array(output)
            if out.ndim == _array(target).ndim + 1:
                n = out.shape[-1]
            else:
                pred, tgt = _predictions(output, target)
                n = int(max(pred.max(initial=0), tgt.max(initial=0)) + 1)
                if self.matrix is not None:
                    n = max(n, self.matrix.shape[0])
        m = confusion_matrix(output, target, n)
        if self.matrix is None:
            self.matrix = m
        else:
            if m.shape[0] > self.matrix.shape[0]:  # labels seen for the first time: grow
                grown = numpy.zeros_like(m)
                k = self.matrix.shape[0]
                grown[:k, :k] = self.matrix
                self.matrix = grown
            self.matrix = self.matrix + m

    def compute(self) -> list[list[int]]:
        return [] if self.matrix is None else self.matrix.tolist()


class _FromConfusion(ConfusionMatrix):
    which = ""

    def __init__(self, num_classes: int | None = None, average: str | None = "macro", name: str | None = None):
        self.average = average
        suffix = "" if average == "macro" else f"_{average or 'per_class'}"
        super().__init__(num_classes, name or f"{self.which}{suffix}")

    def compute(self):
        if self.matrix is None:
            return float("nan") if self.average else []
        return _from_confusion(self.matrix, self.which, self.average)


class Precision(_FromConfusion):
    """Streaming `precision` (macro mean, or per class with `average=None`)."""

    which = "precision"


class Recall(_FromConfusion):
    """Streaming `recall` (macro mean, or per class with `average=None`)."""

    which = "recall"


class F1Score(_FromConfusion):
    """Streaming `f1_score` (macro mean, or per class with `average=None`)."""

    which = "f1"


class MeanSquaredError(Metric):
    """Streaming `mean_squared_error` (over every element of every batch)."""

    def __init__(self, name: str = "mse"):
        self.name = name
        self.reset()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def _diff(self, output: Any, target: Any) -> numpy.ndarray:
        return _array(output).astype(numpy.float64) - _array(target).astype(numpy.float64)

    def update(self, output: Any, target: Any) -> None:
        d = self._diff(output, target)
        self.total += float((d * d).sum())
        self.count += d.size

    def compute(self) -> float:
        return self.total / self.count if self.count else float("nan")


class MeanAbsoluteError(MeanSquaredError):
    """Streaming `mean_absolute_error` (over every element of every batch)."""

    def __init__(self, name: str = "mae"):
        super().__init__(name)

    def update(self, output: Any, target: Any) -> None:
        d = self._diff(output, target)
        self.total += float(numpy.abs(d).sum())
        self.count += d.size


class Perplexity(Metric):
    """Streaming `perplexity`: exp of the mean cross-entropy over every target token of every batch."""

    def __init__(self, ignore_index: int | None = None, name: str = "perplexity"):
        self.ignore_index, self.name = ignore_index, name
        self.reset()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, output: Any, target: Any) -> None:
        t, c = _nll_sum(output, target, self.ignore_index)
        self.total += t
        self.count += c

    def compute(self) -> float:
        return math.exp(self.total / self.count) if self.count else float("nan")


_BY_NAME: dict[str, Callable[[], Metric]] = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "top5": lambda: TopKAccuracy(5),
    "top_k_accuracy": lambda: TopKAccuracy(5),
    "precision": Precision,
    "recall": Recall,
    "f1": F1Score,
    "f1_score": F1Score,
    "confusion_matrix": ConfusionMatrix,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "perplexity": Perplexity,
}


def get_metric(spec: str | Metric | Callable) -> Metric:
    """A streaming metric from a name ('accuracy', 'top5', 'f1', 'mse', …), a Metric, or a function."""
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, str):
        key = spec.lower()
        if key.startswith("top") and key[3:].isdigit():
            return TopKAccuracy(int(key[3:]))
        if key not in _BY_NAME:
            raise ValueError(f"unknown metric {spec!r}; known: {', '.join(sorted(_BY_NAME))}, topK, or a function")
        return _BY_NAME[key]()
    if callable(spec):
        return FunctionMetric(spec)
    raise TypeError(f"a metric must be a name, a Metric or a function, got {type(spec).__name__}")
