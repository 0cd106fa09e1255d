"""Loss modules: the same values and gradients as PyTorch's; shape errors name the loss and both shapes."""

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn as nn

from .helpers import compare

RNG = np.random.default_rng(0)
N, C = 6, 4
LOGITS = RNG.standard_normal((N, C)) * 2
CLASSES = RNG.integers(0, C, N)
CLASSES_IGNORED = np.where(np.arange(N) % 3 == 0, -100, CLASSES)
PROBS = RNG.dirichlet(np.ones(C), N)
WEIGHT = RNG.uniform(0.5, 2, C)
PRED, TARGET = RNG.standard_normal((N, 3)), RNG.standard_normal((N, 3)) * 2
P, Y = RNG.uniform(0.05, 0.95, (N, 3)), RNG.integers(0, 2, (N, 3)).astype(float)


def _both(name, *args, **kwargs):
    def convert(v, lib):
        return (gn.tensor(v) if lib == "gn" else torch.tensor(v)) if isinstance(v, np.ndarray) else v

    ours = getattr(nn, name)(*[convert(a, "gn") for a in args], **{k: convert(v, "gn") for k, v in kwargs.items()})
    theirs = getattr(torch.nn, name)(*[convert(a, "t") for a in args],
                                     **{k: convert(v, "t") for k, v in kwargs.items()})
    return ours, theirs


CASES = [
    ("CrossEntropyLoss", {}, [LOGITS, CLASSES]),
    ("CrossEntropyLoss", {"reduction": "sum", "label_smoothing": 0.1}, [LOGITS, CLASSES]),
    ("CrossEntropyLoss", {"weight": WEIGHT, "ignore_index": -100}, [LOGITS, CLASSES_IGNORED]),
    ("CrossEntropyLoss", {"reduction": "none"}, [RNG.standard_normal((2, C, 3, 2)), RNG.integers(0, C, (2, 3, 2))]),
    ("CrossEntropyLoss", {}, [LOGITS, PROBS]),
    ("CrossEntropyLoss", {}, [LOGITS[0], CLASSES[0]]),
    ("NLLLoss", {}, [LOGITS, CLASSES]),
    ("NLLLoss", {"weight": WEIGHT, "reduction": "sum"}, [LOGITS, CLASSES_IGNORED]),
    ("MSELoss", {}, [PRED, TARGET]),
    ("MSELoss", {"reduction": "sum"}, [PRED, TARGET]),
    ("L1Loss", {"reduction": "none"}, [PRED, TARGET]),
    ("L1Loss", {}, [PRED, TARGET]),
    ("SmoothL1Loss", {}, [PRED, TARGET]),
    ("SmoothL1Loss", {"beta": 0.5, "reduction": "sum"}, [PRED, TARGET]),
    ("HuberLoss", {}, [PRED, TARGET]),
    ("HuberLoss", {"delta": 2.0, "reduction": "none"}, [PRED, TARGET]),
    ("BCELoss", {}, [P, Y]),
    ("BCELoss", {"weight": RNG.uniform(0.5, 2, 3), "reduction": "sum"}, [P, Y]),
    ("BCEWithLogitsLoss", {}, [PRED * 3, Y]),
    ("BCEWithLogitsLoss", {"pos_weight": np.array([1.0, 2.0, 3.0]), "weight": RNG.uniform(0.5, 2, (N, 3))},
     [PRED * 3, Y]),
    ("KLDivLoss", {"reduction": "batchmean"}, [np.log(PROBS), PROBS[::-1].copy()]),
    ("KLDivLoss", {"reduction": "sum", "log_target": True}, [np.log(PROBS), np.log(PROBS[::-1])]),
    ("CosineSimilarity", {}, [PRED, TARGET]),
    ("CosineSimilarity", {"dim": 0, "eps": 1e-6}, [PRED, TARGET]),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, kwargs, inputs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_loss_matches_pytorch(name, kwargs, inputs, dtype):
    kwargs = {k: v.astype(dtype) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    ours, theirs = _both(name, **kwargs)
    assert repr(ours) == repr(theirs) or name == "CosineSimilarity"
    assert list(ours.state_dict()) == list(theirs.state_dict())
    target_grad = name in ("MSELoss", "L1Loss", "CosineSimilarity")
    compare(ours, theirs, inputs, dtype=dtype, grad_inputs=[True, target_grad])


def test_every_functional_loss_has_a_module():
    import glassnet.nn.functional as F

    pairs = {"cross_entropy": "CrossEntropyLoss", "nll_loss": "NLLLoss", "mse_loss": "MSELoss", "l1_loss": "L1Loss",
             "smooth_l1_loss": "SmoothL1Loss", "huber_loss": "HuberLoss", "binary_cross_entropy": "BCELoss",
             "binary_cross_entropy_with_logits": "BCEWithLogitsLoss", "kl_div": "KLDivLoss",
             "cosine_similarity": "CosineSimilarity"}
    for fn, module in pairs.items():
        assert hasattr(F, fn) and hasattr(nn, module)


def test_cross_entropy_shape_errors():
    loss = nn.CrossEntropyLoss()
    with pytest.raises(ValueError) as info:
        loss(gn.zeros(32, 10), gn.zeros(32, 1, dtype=gn.int64))
    assert str(info.value) == ("CrossEntropyLoss got input of shape (32, 10) and target of shape (32, 1); expected "
                               "class indices of shape (32,) or class probabilities of shape (32, 10)")
    with pytest.raises(ValueError, match=r"probability target of shape \(32, 9\)"):
        loss(gn.zeros(32, 10), gn.zeros(32, 9))
    with pytest.raises(IndexError, match=r"CrossEntropyLoss: target holds class 10, out of range for input of shape "
                                         r"\(2, 10\) with 10 classes"):
        loss(gn.zeros(2, 10), gn.tensor([3, 10]))
    with pytest.raises(IndexError, match="class -2"):
        loss(gn.zeros(2, 10), gn.tensor([3, -2]))
    with pytest.raises(ValueError, match=r"weight of shape \(3,\) does not match 10 classes"):
        nn.CrossEntropyLoss(weight=gn.ones(3))(gn.zeros(2, 10), gn.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"NLLLoss got input of shape \(4, 3\) and target of shape \(5,\)"):
        nn.NLLLoss()(gn.zeros(4, 3), gn.tensor([0, 1, 2, 0, 1]))
    with pytest.raises(TypeError, match="integer class indices"):
        nn.NLLLoss()(gn.zeros(4, 3), gn.zeros(4))
    assert nn.CrossEntropyLoss(ignore_index=7)(gn.zeros(2, 3), gn.tensor([7, 1])).item() > 0


def test_regression_and_binary_shape_errors():
    with pytest.raises(ValueError, match=r"MSELoss got input of shape \(32, 10\) and target of shape \(32,\); they "
                                         r"must have the same shape"):
        nn.MSELoss()(gn.zeros(32, 10), gn.zeros(32))
    with pytest.warns(UserWarning, match="broadcast"):
        nn.L1Loss()(gn.zeros(4, 1), gn.zeros(4))
    with pytest.raises(ValueError, match=r"BCELoss got input of shape \(4, 1\) and target of shape \(4,\)"):
        nn.BCELoss()(gn.zeros(4, 1) + 0.5, gn.zeros(4))
    with pytest.raises(ValueError, match=r"BCEWithLogitsLoss got input of shape \(4,\) and target of shape \(4, 2\)"):
        nn.BCEWithLogitsLoss()(gn.zeros(4), gn.zeros(4, 2))
    with pytest.raises(ValueError, match="CosineSimilarity got inputs of shapes"):
        nn.CosineSimilarity()(gn.zeros(4, 3), gn.zeros(4, 2))
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.MSELoss()(np.zeros(3), gn.zeros(3))


def test_legacy_reduction_flags():
    with pytest.warns(UserWarning, match="deprecated"):
        assert nn.MSELoss(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning):
        assert nn.L1Loss(reduce=False).reduction == "none"
