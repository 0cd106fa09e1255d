"""Tests of glassnet/ops/activation.py (and the F wrappers in nn/functional.py): the generated OpInfo checks,
then PyTorch's conventions at kinks, numerical stability at extreme inputs and argument errors."""

import numpy as np
import pytest
from opinfo import ACTIVATION, check_against_torch, generated_tests

import glassnet as gn
import glassnet.nn.functional as F

(test_forward_matches_torch, test_grad_matches_torch, test_gradcheck, test_gradgradcheck,
 test_gradgrad_matches_torch) = generated_tests(ACTIVATION)

KINKS = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 10.0, 10.5])

KINK_CASES = {
    "relu": lambda L, x: L.nn.functional.relu(x),
    "relu_method": lambda L, x: x.relu(),
    "leaky_relu": lambda L, x: L.nn.functional.leaky_relu(x, 0.2),
    "elu": lambda L, x: L.nn.functional.elu(x, alpha=0.7),
    "selu": lambda L, x: L.nn.functional.selu(x),
    "hardtanh": lambda L, x: L.nn.functional.hardtanh(x),
    "hardtanh_range": lambda L, x: L.nn.functional.hardtanh(x, -0.5, 0.5),
    "softplus_threshold": lambda L, x: L.nn.functional.softplus(x, beta=2.0, threshold=20.0),
    "gelu": lambda L, x: L.nn.functional.gelu(x),
    "gelu_tanh": lambda L, x: L.nn.functional.gelu(x, approximate="tanh"),
}


# At the kink itself PyTorch's double backward of these uses a strict inequality (x < 0, βx < threshold)
# where its first derivative uses x ≤ 0: their second derivatives differ there, and only there.
FIRST_ORDER_ONLY_AT_THE_KINK = {"elu", "selu", "softplus_threshold"}


@pytest.mark.parametrize("name", list(KINK_CASES))
def test_values_and_gradients_at_kinks_match_torch(name):
    check_against_torch(KINK_CASES[name], KINKS, second=name not in FIRST_ORDER_ONLY_AT_THE_KINK)
    if name in FIRST_ORDER_ONLY_AT_THE_KINK:
        check_against_torch(KINK_CASES[name], KINKS[[0, 1, 2, 4, 5, 6, 8]], second=True)


EXTREME = np.array([-1000.0, -100.0, -30.0, 0.0, 30.0, 100.0, 1000.0])

STABLE = {
    "sigmoid": lambda L, x: x.sigmoid(),
    "tanh": lambda L, x: x.tanh(),
    "silu": lambda L, x: L.nn.functional.silu(x),
    "softplus": lambda L, x: L.nn.functional.softplus(x),
    "softplus_big_threshold": lambda L, x: L.nn.functional.softplus(x, threshold=1e9),
    "elu": lambda L, x: L.nn.functional.elu(x),
    "selu": lambda L, x: L.nn.functional.selu(x),
    "gelu": lambda L, x: L.nn.functional.gelu(x),
    "gelu_tanh": lambda L, x: L.nn.functional.gelu(x, approximate="tanh"),
    "softmax": lambda L, x: L.nn.functional.softmax(x, dim=0),
    "log_softmax": lambda L, x: L.nn.functional.log_softmax(x, dim=0),
    "logsumexp": lambda L, x: x.logsumexp(0),
}


@pytest.mark.parametrize("name", list(STABLE))
def test_extreme_inputs_are_finite_warning_free_and_match_torch(name):
    """No overflow: values and gradients are finite at ±1000 with no overflow or invalid-value warning."""
    with np.errstate(all="raise", under="ignore"):  # underflow to 0 is the right answer here
        out = STABLE[name](gn, gn.tensor(EXTREME, dtype=gn.float64, requires_grad=True))
        assert np.isfinite(out.data).all()
        x = gn.tensor(EXTREME, dtype=gn.float64, requires_grad=True)
        STABLE[name](gn, x).sum().backward()
        assert np.isfinite(x.grad.data).all()
    if name == "softplus_big_threshold":  # torch computes log1p(exp(1000)) = inf; glassnet stays exact
        np.testing.assert_allclose(out.data[-3:], EXTREME[-3:], rtol=1e-12)
    else:
        check_against_torch(STABLE[name], EXTREME)


def test_softmax_with_minus_infinity_matches_torch():
    x = np.array([[0.0, -np.inf, 1.0], [2.0, 2.0, -np.inf]])
    check_against_torch(lambda L, t: L.nn.functional.softmax(t, dim=1), x)
    check_against_torch(lambda L, t: L.nn.functional.log_softmax(t, dim=1), x)


def test_softmax_rows_sum_to_one_in_float32():
    x = gn.randn(4, 7) * 50
    np.testing.assert_allclose(F.softmax(x, dim=-1).sum(-1).data, np.ones(4), rtol=1e-6)
    assert F.softmax(x, dim=-1).dtype == gn.float32


def test_activations_on_integers_return_float32():
    x = gn.tensor([-1, 0, 2])
    for fn in (F.gelu, F.silu, F.elu, F.selu, F.softplus, F.sigmoid, F.tanh, F.leaky_relu):
        assert fn(x).dtype == gn.float32
    assert F.relu(x).dtype == gn.int64


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        F.gelu(gn.ones(2), approximate="erf")
    with pytest.raises(IndexError):
        F.softmax(gn.ones(2, 3), dim=2)
    with pytest.raises(IndexError):
        F.log_softmax(gn.ones(2, 3), dim=-3)


def test_gelu_without_scipy_uses_the_standard_library(monkeypatch):
    """SciPy is not a runtime dependency: without it, erf comes from math.erf with the same values."""
    import sys

    x = np.linspace(-4, 4, 17)
    with_scipy = F.gelu(gn.tensor(x)).data
    monkeypatch.setitem(sys.modules, "scipy.special", None)  # makes `from scipy.special import erf` fail
    without = F.gelu(gn.tensor(x, requires_grad=True))
    np.testing.assert_allclose(without.data, with_scipy, rtol=1e-14)
    assert without.dtype == gn.float64
    check_against_torch(lambda L, t: L.nn.functional.gelu(t), x, second=True)
    f32 = F.gelu(gn.tensor(x.astype(np.float32)))
    assert f32.dtype == gn.float32
