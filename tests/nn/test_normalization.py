"""BatchNorm1d/2d, LayerNorm, GroupNorm: PyTorch's names, buffers, running statistics and numbers."""

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn as nn

from .helpers import compare, same_names_and_shapes

RNG = np.random.default_rng(0)

BN = [
    ("BatchNorm1d", (4,), {}, (6, 4)),
    ("BatchNorm1d", (4,), {}, (3, 4, 5)),
    ("BatchNorm1d", (4,), {"affine": False, "momentum": 0.3}, (6, 4)),
    ("BatchNorm2d", (3,), {}, (2, 3, 4, 5)),
    ("BatchNorm2d", (3,), {"momentum": None, "eps": 1e-3}, (2, 3, 4, 5)),
    ("BatchNorm2d", (3,), {"track_running_stats": False}, (2, 3, 4, 5)),
    ("BatchNorm2d", (3,), {"bias": False}, (2, 3, 4, 5)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, args, kwargs, shape", BN, ids=[f"{b[0]}{b[2]}{b[3]}" for b in BN])
def test_batch_norm_matches_pytorch_in_training_and_eval(name, args, kwargs, shape, dtype):
    torch.manual_seed(0)
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    same_names_and_shapes(ours, theirs)
    assert repr(ours) == repr(theirs)
    with torch.no_grad():
        for p in theirs.parameters():  # non-trivial affine parameters
            p.add_(torch.randn(p.shape))
    compare(ours, theirs, [RNG.standard_normal(shape) * 2 + 1], dtype=dtype)
    for step in range(3):  # running statistics keep agreeing over several batches (cumulative when momentum=None)
        compare(ours, theirs, [RNG.standard_normal(shape) + step], dtype=dtype, load=False)
    if ours.track_running_stats:
        assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item() == 4
    ours.eval()
    theirs.eval()
    compare(ours, theirs, [RNG.standard_normal(shape)], dtype=dtype, load=False)


def test_batch_norm_defaults_and_reset():
    bn = nn.BatchNorm2d(3)
    assert (bn.weight.detach().numpy() == 1).all() and not bn.bias.detach().numpy().any()
    assert bn.num_batches_tracked.dtype == np.int64 and bn.num_batches_tracked.shape == ()
    bn(gn.randn(4, 3, 2, 2))
    assert bn.running_mean.numpy().any()
    bn.reset_running_stats()
    assert not bn.running_mean.numpy().any() and (bn.running_var.numpy() == 1).all()
    assert bn.num_batches_tracked.item() == 0


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(16\) got input of shape \(8, 16, 32\); expected \(N, C, H, W"):
        nn.BatchNorm2d(16)(gn.zeros(8, 16, 32))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(16\) got input of shape \(8, 3, 4, 4\); expected 16 channels"):
        nn.BatchNorm2d(16)(gn.zeros(8, 3, 4, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(gn.zeros(1, 3))
    nn.BatchNorm1d(3).eval()(gn.zeros(1, 3))  # fine in eval mode


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("args, kwargs", [((5,), {}), (((4, 5),), {"eps": 1e-3}), ((5,), {"bias": False}),
                                          ((5,), {"elementwise_affine": False})])
def test_layer_norm_matches_pytorch(args, kwargs, dtype):
    torch.manual_seed(0)
    ours, theirs = nn.LayerNorm(*args, **kwargs), torch.nn.LayerNorm(*args, **kwargs)
    same_names_and_shapes(ours, theirs)
    assert repr(ours) == repr(theirs)
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(torch.randn(p.shape))
    compare(ours, theirs, [RNG.standard_normal((2, 3, 4, 5))], dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("args, kwargs, shape", [((2, 6), {}, (3, 6, 4, 4)), ((3, 6), {"affine": False}, (3, 6, 5)),
                                                 ((1, 4), {"bias": False}, (2, 4))])
def test_group_norm_matches_pytorch(args, kwargs, shape, dtype):
    torch.manual_seed(0)
    ours, theirs = nn.GroupNorm(*args, **kwargs), torch.nn.GroupNorm(*args, **kwargs)
    same_names_and_shapes(ours, theirs)
    assert repr(ours) == repr(theirs)
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(torch.randn(p.shape))
    compare(ours, theirs, [RNG.standard_normal(shape)], dtype=dtype)


def test_layer_and_group_norm_errors():
    with pytest.raises(ValueError, match=r"LayerNorm\(\(5,\)\) got input of shape \(2, 4\); expected \(\.\.\., 5\)"):
        nn.LayerNorm(5)(gn.zeros(2, 4))
    with pytest.raises(ValueError, match=r"GroupNorm\(2, 6\) got input of shape \(2, 4, 3\); expected \(N, 6, \*\)"):
        nn.GroupNorm(2, 6)(gn.zeros(2, 4, 3))
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)
