"""Activation modules: the same numbers, gradients and reprs as PyTorch's."""

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn as nn

from .helpers import compare

CASES = [
    ("ReLU", (), {}),
    ("ReLU", (), {"inplace": True}),
    ("LeakyReLU", (), {}),
    ("LeakyReLU", (0.2,), {}),
    ("ELU", (), {}),
    ("ELU", (0.5,), {}),
    ("SELU", (), {}),
    ("GELU", (), {}),
    ("GELU", (), {"approximate": "tanh"}),
    ("SiLU", (), {}),
    ("Softplus", (), {}),
    ("Softplus", (2.0, 1.0), {}),
    ("Sigmoid", (), {}),
    ("Tanh", (), {}),
    ("Softmax", (), {"dim": 1}),
    ("Softmax", (), {"dim": -1}),
    ("LogSoftmax", (), {"dim": 1}),
    ("LogSoftmax", (), {"dim": 0}),
    ("Hardtanh", (), {}),
    ("Hardtanh", (-0.5, 2.0), {}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, args, kwargs", CASES, ids=[f"{c[0]}{c[1]}{c[2]}" for c in CASES])
def test_activation_matches_pytorch(name, args, kwargs, dtype):
    x = np.random.default_rng(0).standard_normal((3, 4, 5)) * 3
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    if kwargs.get("inplace"):
        theirs.inplace = False  # torch would refuse in-place on a leaf; the repr below is still compared
    compare(ours, theirs, [x], dtype=dtype)
    assert repr(ours) == repr(getattr(torch.nn, name)(*args, **kwargs))


def test_softmax_without_dim_follows_pytorch_legacy_rule():
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        ours = nn.Softmax()(gn.tensor(x))
    with pytest.warns(UserWarning):
        theirs = torch.nn.Softmax()(torch.tensor(x))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="max_val"):
        nn.Hardtanh(1.0, -1.0)


def test_every_functional_activation_has_a_module():
    import glassnet.nn.functional as F

    pairs = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "elu": "ELU", "selu": "SELU", "gelu": "GELU", "silu": "SiLU",
             "softplus": "Softplus", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax",
             "log_softmax": "LogSoftmax", "hardtanh": "Hardtanh"}
    for fn, module in pairs.items():
        assert hasattr(F, fn) and hasattr(nn, module)
