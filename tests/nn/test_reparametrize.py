"""weight_norm and spectral_norm give torch's outputs, gradients, parameter and buffer names over several steps;
parameters_to_vector / vector_to_parameters round-trip; removing a reparametrisation keeps the current weight."""

import warnings

import numpy as np
import pytest
import torch

import glassnet as gn


def _pair(conv=False):
    rng = np.random.default_rng(0)
    if conv:
        g, t = gn.nn.Conv2d(2, 3, 3), torch.nn.Conv2d(2, 3, 3).double()
    else:
        g, t = gn.nn.Linear(3, 4), torch.nn.Linear(3, 4).double()
    for name in ("weight", "bias"):
        values = rng.standard_normal(tuple(getattr(t, name).shape))
        getattr(g, name).data = values.copy()
        getattr(t, name).data = torch.tensor(values)
    x = rng.standard_normal((2, 2, 5, 5) if conv else (5, 3))
    return g, t, x


def _step(g, t, x):
    yg, yt = g(gn.tensor(x)), t(torch.tensor(x))
    (yg * yg).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(yg.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_matches_torch(conv, dim):
    g, t, x = _pair(conv)
    gn.nn.utils.weight_norm(g, dim=dim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.nn.utils.weight_norm(t, dim=dim)
    assert [n for n, _ in g.named_parameters()] == [n for n, _ in t.named_parameters()]
    _step(g, t, x)
    for name in ("weight_g", "weight_v", "bias"):
        np.testing.assert_allclose(getattr(g, name).grad.numpy(), getattr(t, name).grad.numpy(), rtol=1e-9)
    gn.nn.utils.remove_weight_norm(g)
    assert [n for n, _ in g.named_parameters()] == ["bias", "weight"]
    np.testing.assert_allclose(g.weight.detach().numpy(), t.weight.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("conv", [False, True])
def test_spectral_norm_matches_torch_over_three_steps(conv):
    g, t, x = _pair(conv)
    gn.nn.utils.spectral_norm(g)
    torch.nn.utils.spectral_norm(t)
    g.weight_u.data[...] = t.weight_u.numpy()  # the same random start of the power iteration
    g.weight_v.data[...] = t.weight_v.numpy()
    assert [n for n, _ in g.named_buffers()] == [n for n, _ in t.named_buffers()]
    for _ in range(3):
        _step(g, t, x)
        np.testing.assert_allclose(g.weight_orig.grad.numpy(), t.weight_orig.grad.numpy(), rtol=1e-9)
        np.testing.assert_allclose(g.weight_u.numpy(), t.weight_u.numpy(), rtol=1e-10)
    g.eval()
    t.eval()
    _step(g, t, x)  # evaluation: no power iteration, the same σ
    gn.nn.utils.remove_spectral_norm(g)
    assert "weight" in dict(g.named_parameters()) and not list(g.named_buffers())


def test_parameters_to_vector_and_back():
    g, t, _ = _pair()
    vec = gn.nn.utils.parameters_to_vector(g.parameters())
    np.testing.assert_array_equal(
        vec.detach().numpy(), torch.nn.utils.parameters_to_vector(t.parameters()).detach().numpy()
    )
    gn.nn.utils.vector_to_parameters(vec.detach() * 2, g.parameters())
    np.testing.assert_allclose(g.bias.detach().numpy(), 2 * t.bias.detach().numpy())
    with pytest.raises(ValueError, match="vector_to_parameters: the vector has 3 elements, the parameters 16"):
        gn.nn.utils.vector_to_parameters(gn.ones(3), g.parameters())
