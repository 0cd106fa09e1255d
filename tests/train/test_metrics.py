"""Metrics against values worked out by hand (no sklearn), and streaming metrics against the functions."""

import math

import numpy as np
import pytest

import glassnet as gn
from glassnet.train import metrics as M

# 6 samples, 3 classes. Predicted (argmax): 0, 1, 1, 2, 2, 0   true: 0, 1, 2, 2, 1, 0
SCORES = gn.tensor(
    [
        [0.9, 0.05, 0.05],
        [0.1, 0.8, 0.1],
        [0.2, 0.5, 0.3],
        [0.1, 0.2, 0.7],
        [0.3, 0.3, 0.4],
        [0.6, 0.1, 0.3],
    ]
)
TARGET = gn.tensor([0, 1, 2, 2, 1, 0])


def test_accuracy():
    assert M.accuracy(SCORES, TARGET) == pytest.approx(4 / 6)
    assert M.accuracy(gn.tensor([0, 1, 1]), gn.tensor([0, 1, 0])) == pytest.approx(2 / 3)  # class indices
    assert M.accuracy(gn.tensor([0.2, 0.7, 0.6]), gn.tensor([0, 1, 0])) == pytest.approx(2 / 3)  # binary probs


def test_top_k_accuracy():
    # true-class ranks: 1, 1, 2, 1, 2 (0.3 vs 0.3 tie counts in favour), 1
    assert M.top_k_accuracy(SCORES, TARGET, k=1) == pytest.approx(4 / 6)
    assert M.top_k_accuracy(SCORES, TARGET, k=2) == pytest.approx(1.0)
    assert M.top_k_accuracy(gn.tensor([[0.1, 0.2, 0.7]]), gn.tensor([0]), k=2) == 0.0


def test_confusion_matrix():
    m = M.confusion_matrix(SCORES, TARGET)
    # rows are true classes 0, 1, 2; columns predicted classes 0, 1, 2
    expected = [[2, 0, 0], [0, 1, 1], [0, 1, 1]]
    assert m.tolist() == expected and m.dtype == np.int64
    assert M.confusion_matrix(gn.tensor([1, 1]), gn.tensor([1, 0]), num_classes=4).shape == (4, 4)


def test_precision_recall_f1():
    # class 0: tp 2, fp 0, fn 0 -> P 1, R 1;  class 1: tp 1, fp 1, fn 1 -> 1/2, 1/2;  class 2: same as 1
    assert M.precision(SCORES, TARGET, average=None) == pytest.approx([1, 0.5, 0.5])
    assert M.recall(SCORES, TARGET, average=None) == pytest.approx([1, 0.5, 0.5])
    assert M.f1_score(SCORES, TARGET, average=None) == pytest.approx([1, 0.5, 0.5])
    assert M.precision(SCORES, TARGET) == pytest.approx(2 / 3)
    assert M.f1_score(SCORES, TARGET) == pytest.approx(2 / 3)
    # asymmetric case: pred 0,0,0,1  true 0,1,1,1
    pred, true = gn.tensor([0, 0, 0, 1]), gn.tensor([0, 1, 1, 1])
    assert M.precision(pred, true, average=None) == pytest.approx([1 / 3, 1.0])
    assert M.recall(pred, true, average=None) == pytest.approx([1.0, 1 / 3])
    assert M.f1_score(pred, true, average=None) == pytest.approx([0.5, 0.5])
    # a class never predicted has precision 0 (not NaN)
    assert M.precision(gn.tensor([0, 0]), gn.tensor([0, 1]), average=None) == pytest.approx([0.5, 0.0])


def test_regression_errors():
    out, tgt = gn.tensor([1.0, 2.0, 4.0]), gn.tensor([1.0, 0.0, 1.0])
    assert M.mean_squared_error(out, tgt) == pytest.approx((0 + 4 + 9) / 3)
    assert M.mean_absolute_error(out, tgt) == pytest.approx((0 + 2 + 3) / 3)


def test_perplexity():
    # uniform logits over 4 classes: CE = log 4, perplexity 4
    assert M.perplexity(gn.zeros(5, 4), gn.tensor([0, 1, 2, 3, 0])) == pytest.approx(4.0)
    logits = gn.tensor([[math.log(3.0), 0.0]])  # p(class 0) = 3/4
    assert M.perplexity(logits, gn.tensor([0])) == pytest.approx(4 / 3)
    assert M.perplexity(gn.zeros(2, 3, 4), gn.tensor([[0, 1, 2], [3, -1, -1]]), ignore_index=-1) == pytest.approx(4)
    # matches exp(CrossEntropyLoss)
    x, y = gn.randn(8, 5), gn.randint(0, 5, (8,))
    assert M.perplexity(x, y) == pytest.approx(math.exp(gn.nn.CrossEntropyLoss()(x, y).item()), rel=1e-5)


@pytest.mark.parametrize(
    "metric, fn",
    [
        (M.Accuracy(), M.accuracy),
        (M.TopKAccuracy(2), lambda o, t: M.top_k_accuracy(o, t, 2)),
        (M.Precision(), M.precision),
        (M.Recall(average=None), lambda o, t: M.recall(o, t, average=None)),
        (M.F1Score(), M.f1_score),
        (M.ConfusionMatrix(), lambda o, t: M.confusion_matrix(o, t).ravel().tolist()),
        (M.Perplexity(), M.perplexity),
    ],
)
def test_streaming_equals_whole(metric, fn):
    metric.reset()
    for i in range(0, 6, 4):  # uneven batches: 4 then 2
        metric.update(SCORES[i : i + 4], TARGET[i : i + 4])
    assert np.ravel(metric.compute()).tolist() == pytest.approx(np.ravel(fn(SCORES, TARGET)).tolist())
    metric.reset()
    metric.update(SCORES[:3], TARGET[:3])
    assert np.ravel(metric.compute()).tolist() == pytest.approx(np.ravel(fn(SCORES[:3], TARGET[:3])).tolist())


def test_streaming_regression_and_function_metric():
    out, tgt = gn.tensor([[1.0], [2.0], [4.0]]), gn.tensor([[1.0], [0.0], [1.0]])
    for metric, fn in ((M.MeanSquaredError(), M.mean_squared_error), (M.MeanAbsoluteError(), M.mean_absolute_error)):
        metric.update(out[:1], tgt[:1])
        metric.update(out[1:], tgt[1:])
        assert metric.compute() == pytest.approx(fn(out, tgt))
    fm = M.get_metric(M.mean_absolute_error)
    fm.update(out[:1], tgt[:1])
    fm.update(out[1:], tgt[1:])
    assert fm.name == "mean_absolute_error" and fm.compute() == pytest.approx(5 / 3)


def test_confusion_matrix_grows_with_new_labels():
    cm = M.ConfusionMatrix()
    cm.update(gn.tensor([0, 1]), gn.tensor([0, 1]))
    cm.update(gn.tensor([2]), gn.tensor([1]))
    assert cm.compute() == [[1, 0, 0], [0, 1, 1], [0, 0, 0]]


def test_get_metric_names():
    assert isinstance(M.get_metric("acc"), M.Accuracy)
    assert M.get_metric("top3").k == 3
    assert M.get_metric("mse").name == "mse"
    with pytest.raises(ValueError, match="unknown metric"):
        M.get_metric("nope")
    with pytest.raises(ValueError, match="does not match"):
        M.accuracy(gn.zeros(3, 2, 2), gn.tensor([0, 1, 1]))
