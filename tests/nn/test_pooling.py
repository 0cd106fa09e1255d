"""Pooling layers: the same numbers, gradients and reprs as PyTorch's; errors name the layer."""

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn as nn
from glassnet.errors import ShapeError

from .helpers import compare

RNG = np.random.default_rng(0)

CASES = [
    ("MaxPool2d", (2,), {}),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1}),
    ("MaxPool2d", ((2, 3),), {"stride": 1, "dilation": 2}),
    ("MaxPool2d", (3,), {"stride": 2, "ceil_mode": True}),
    ("AvgPool2d", (2,), {}),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}),
    ("AvgPool2d", (2,), {"divisor_override": 3}),
    ("AdaptiveAvgPool2d", ((3, 2),), {}),
    ("AdaptiveAvgPool2d", (1,), {}),
    ("AdaptiveAvgPool2d", ((None, 3),), {}),
]
CASES_1D = [
    ("MaxPool1d", (2,), {}),
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1, "dilation": 2}),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1}),
    ("AvgPool1d", (2,), {"ceil_mode": True, "count_include_pad": False}),
]
CASES_3D = [
    ("MaxPool3d", (2,), {}),
    ("MaxPool3d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}),
    ("MaxPool3d", ((2, 3, 1),), {"stride": 1, "dilation": (1, 2, 1)}),
    ("AvgPool3d", (2,), {}),
    ("AvgPool3d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}),
    ("AvgPool3d", (3,), {"stride": (1, 2, 2), "padding": 1, "ceil_mode": True}),
    ("AvgPool3d", ((2, 2, 3),), {"divisor_override": 5}),
    ("AdaptiveAvgPool3d", ((3, 2, 4),), {}),
    ("AdaptiveAvgPool3d", (1,), {}),
    ("AdaptiveAvgPool3d", ((None, 3, None),), {}),
    ("AdaptiveAvgPool1d", (4,), {}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, args, kwargs", CASES, ids=[f"{c[0]}{c[1]}{c[2]}" for c in CASES])
def test_pool2d_matches_pytorch(name, args, kwargs, dtype):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, [RNG.standard_normal((2, 3, 9, 7))], dtype=dtype)
    compare(ours, theirs, [RNG.standard_normal((3, 9, 7))], dtype=dtype)  # unbatched


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, args, kwargs", CASES_1D, ids=[f"{c[0]}{c[1]}{c[2]}" for c in CASES_1D])
def test_pool1d_matches_pytorch(name, args, kwargs, dtype):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, [RNG.standard_normal((2, 3, 11))], dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, args, kwargs", CASES_3D, ids=[f"{c[0]}{c[1]}{c[2]}" for c in CASES_3D])
def test_pool3d_matches_pytorch(name, args, kwargs, dtype):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    shape = (2, 3, 7) if name.endswith("1d") else (2, 3, 6, 7, 5)
    compare(ours, theirs, [RNG.standard_normal(shape)], dtype=dtype)
    compare(ours, theirs, [RNG.standard_normal(shape[1:])], dtype=dtype)  # unbatched


def test_max_pool_return_indices():
    x = RNG.standard_normal((1, 2, 4, 4)).astype(np.float32)
    out, idx = nn.MaxPool2d(2, return_indices=True)(gn.tensor(x))
    tout, tidx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(out.numpy(), tout.numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    x = RNG.standard_normal((2, 2, 4, 5, 4)).astype(np.float32)
    out, idx = nn.MaxPool3d((2, 3, 2), stride=(2, 2, 1), padding=1, return_indices=True)(gn.tensor(x))
    tout, tidx = torch.nn.MaxPool3d((2, 3, 2), stride=(2, 2, 1), padding=1, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(out.numpy(), tout.numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


def test_pooling_errors():
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=2.*got input of shape \(4, 5\); expected \(N, C, H"):
        nn.MaxPool2d(2)(gn.zeros(4, 5))
    with pytest.raises(ValueError, match=r"pooling window \(3, 3\) is larger than the padded input \(2, 2\)"):
        nn.AvgPool2d(3)(gn.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match="at most half"):
        nn.MaxPool1d(2, padding=2)(gn.zeros(1, 1, 8))
    with pytest.raises(ValueError, match=r"AdaptiveAvgPool2d\(output_size=2\) got input of shape \(3,\)"):
        nn.AdaptiveAvgPool2d(2)(gn.zeros(3))

    with pytest.raises(ValueError, match=r"MaxPool3d\(kernel_size=2.*got input of shape \(4, 5\); "
                                         r"expected \(N, C, D, H, W\) or \(C, D, H, W\)"):
        nn.MaxPool3d(2)(gn.zeros(4, 5))
    with pytest.raises(ShapeError, match=r"AvgPool3d.*pooling window \(3, 3, 3\) is larger than the padded input "
                                         r"\(2, 4, 4\)"):
        nn.AvgPool3d(3)(gn.zeros(1, 1, 2, 4, 4))
    with pytest.raises(RuntimeError, match="pooling window"):  # catchable as PyTorch's RuntimeError too
        nn.MaxPool3d(3)(gn.zeros(1, 2, 4, 4))
