"""Generated OpInfo checks for the maths functions of glassnet/functions.py (see tests/opinfo.py)."""

import numpy as np
import pytest
import torch
from opinfo import MATHS, check_against_torch, generated_tests

import glassnet as gn

(
    test_forward_matches_torch,
    test_grad_matches_torch,
    test_gradcheck,
    test_gradgradcheck,
    test_gradgrad_matches_torch,
) = generated_tests(MATHS)


# ----- sign at NaN: torch.sign and torch.sgn give 0 there (np.sign gives NaN), gradient 0 ---------------------------
SPECIALS = [float("nan"), -float("nan"), -2.0, -0.0, 0.0, 3.0, float("inf"), -float("inf")]


@pytest.mark.parametrize("fn", [lambda L, a: L.sign(a), lambda L, a: L.sgn(a), lambda L, a: a.sign(),
                                lambda L, a: a.sgn(), lambda L, a: a.abs()], ids=["sign", "sgn", "Tensor.sign",
                                                                                 "Tensor.sgn", "abs"])
def test_sign_of_nan_is_0_and_its_gradient_0_as_torch(fn):
    check_against_torch(fn, SPECIALS, second=True)  # (abs: its gradient sign(x) is 0 at NaN too)


@pytest.mark.parametrize("dtype", [gn.float32, gn.float64])
@pytest.mark.parametrize("name", ["sign_", "sgn_"])
def test_in_place_sign_of_nan_is_0_as_torch(name, dtype):
    x = gn.tensor(SPECIALS, dtype=dtype)
    t = torch.tensor(SPECIALS, dtype=getattr(torch, str(dtype)))
    assert getattr(x, name)() is x
    getattr(t, name)()
    assert x.dtype == dtype
    np.testing.assert_array_equal(x.data, t.numpy())
