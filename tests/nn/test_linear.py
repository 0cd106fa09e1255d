"""Linear, Bilinear, Identity, Flatten, Unflatten: PyTorch's names, shapes, init and numbers."""

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn as nn

from .helpers import compare, same_names_and_shapes

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_pytorch(dtype, bias):
    torch.manual_seed(0)
    ours, theirs = nn.Linear(5, 3, bias=bias), torch.nn.Linear(5, 3, bias=bias)
    same_names_and_shapes(ours, theirs)
    compare(ours, theirs, [RNG.standard_normal((2, 4, 5))], dtype=dtype)


def test_linear_on_a_vector_and_dtype_argument():
    lin = nn.Linear(3, 2, dtype=gn.float64)
    assert lin.weight.dtype == np.float64
    assert lin(gn.ones(3, dtype=gn.float64)).shape == (2,)


def test_linear_default_init_matches_pytorch_statistics():
    gn.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = nn.Linear(784, 256), torch.nn.Linear(784, 256)
    w, tw = ours.weight.detach().numpy(), theirs.weight.detach().numpy()
    assert abs(w.std() / tw.std() - 1) < 0.03
    bound = 1 / np.sqrt(784)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    b = ours.bias.detach().numpy()
    assert np.abs(b).max() <= bound and abs(b.std() / theirs.bias.detach().numpy().std() - 1) < 0.15
    gn.manual_seed(0)
    again = nn.Linear(784, 256)
    np.testing.assert_array_equal(again.weight.detach().numpy(), w)  # gn.manual_seed makes init reproducible


def test_linear_bad_input_names_layer_and_shapes():
    with pytest.raises(ValueError) as info:
        nn.Linear(784, 10)(gn.zeros(32, 28, 28))
    assert "Linear(784→10) got input of shape (32, 28, 28); expected (..., 784)" in str(info.value)
    with pytest.raises(ValueError, match=r"got input of shape \(\)"):
        nn.Linear(1, 1)(gn.tensor(1.0))
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.Linear(2, 2)(np.zeros((1, 2)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bilinear_matches_pytorch(dtype):
    torch.manual_seed(0)
    ours, theirs = nn.Bilinear(3, 4, 5), torch.nn.Bilinear(3, 4, 5)
    same_names_and_shapes(ours, theirs)
    compare(ours, theirs, [RNG.standard_normal((2, 6, 3)), RNG.standard_normal((2, 6, 4))], dtype=dtype)
    no_bias = nn.Bilinear(3, 4, 5, bias=False)
    assert no_bias.bias is None and list(no_bias.state_dict()) == ["weight"]
    with pytest.raises(ValueError, match=r"Bilinear\(3, 4→5\) got inputs of shapes \(2, 3\) and \(2, 3\)"):
        ours(gn.zeros(2, 3), gn.zeros(2, 3))


def test_bilinear_init_bound():
    b = nn.Bilinear(16, 4, 8)
    assert np.abs(b.weight.detach().numpy()).max() <= 1 / 4
    assert abs(b.weight.detach().numpy().std() - 1 / 4 / np.sqrt(3)) < 0.02


def test_identity_flatten_unflatten_match_pytorch():
    x = RNG.standard_normal((2, 3, 4, 5))
    compare(nn.Identity(54, unused=True), torch.nn.Identity(54, unused=True), [x])
    compare(nn.Flatten(), torch.nn.Flatten(), [x])
    compare(nn.Flatten(0, 2), torch.nn.Flatten(0, 2), [x])
    compare(nn.Unflatten(1, (2, 6)), torch.nn.Unflatten(1, (2, 6)), [x.reshape(2, 12, 5)])
    for ours, theirs in [(nn.Flatten(), torch.nn.Flatten()), (nn.Unflatten(1, (2, 6)), torch.nn.Unflatten(1, (2, 6))),
                         (nn.Identity(), torch.nn.Identity()), (nn.Linear(2, 3), torch.nn.Linear(2, 3)),
                         (nn.Bilinear(1, 2, 3, bias=False), torch.nn.Bilinear(1, 2, 3, bias=False))]:
        assert repr(ours) == repr(theirs)


def test_mlp_from_pytorch_state_dict_float64():
    torch.manual_seed(1)
    theirs = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32),
                                 torch.nn.GELU(), torch.nn.Linear(32, 10), torch.nn.LogSoftmax(dim=1))
    ours = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.GELU(), nn.Linear(32, 10),
                         nn.LogSoftmax(dim=1))
    same_names_and_shapes(ours, theirs)
    compare(ours, theirs, [RNG.standard_normal((8, 4, 4))], dtype=np.float64)
