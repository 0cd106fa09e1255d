"""Tests of glassnet/ops/arithmetic.py: the generated OpInfo checks, then conventions at kinks, integer inputs
and the errors of bad input."""

import numpy as np
import pytest
import torch
from opinfo import ARITHMETIC, check_against_torch, generated_tests

import glassnet as gn

(test_forward_matches_torch, test_grad_matches_torch, test_gradcheck, test_gradgradcheck,
 test_gradgrad_matches_torch) = generated_tests(ARITHMETIC)

X = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 0.0])
Y = np.array([-1.0, 0.0, 0.0, 1.0, 1.0, -3.0, 2.0])

KINKS = {
    "abs": lambda L, a, b: a.abs(),
    "clamp": lambda L, a, b: a.clamp(-0.5, 0.5),
    "clamp_min": lambda L, a, b: a.clamp(min=0.0),
    "clamp_max": lambda L, a, b: a.clamp(max=1.0),
    "clamp_tensor_ties": lambda L, a, b: a.clamp(b, b + 1),
    "clamp_tensor_min": lambda L, a, b: a.clamp(min=b),
    "clamp_tensor_max": lambda L, a, b: a.clamp(max=b),
    "clamp_tensor_crossed": lambda L, a, b: a.clamp(b, b - 1),
    "maximum_ties": lambda L, a, b: L.maximum(a, b),
    "minimum_ties": lambda L, a, b: L.minimum(a, b),
    "pow_0": lambda L, a, b: a**0,
    "pow_1": lambda L, a, b: a**1,
    "pow_2": lambda L, a, b: a**2,
    "pow_3": lambda L, a, b: a**3,
    "pow_tensor_at_0": lambda L, a, b: (a * 0) ** b.abs(),
    "pow_tensor": lambda L, a, b: a.abs() ** b.abs(),
    "where": lambda L, a, b: L.where(a > 0, a, b),
    "sqrt_at_0": lambda L, a, b: (a * 0).sqrt(),
    "log_at_0": lambda L, a, b: (a * 0).log(),
    "div_by_0": lambda L, a, b: a / (b * 0),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", list(KINKS))
def test_conventions_at_kinks_and_ties_match_torch(name):
    """Where the derivative is undefined (|x| at 0, ties of max, 0⁰, ...) glassnet picks PyTorch's value."""
    check_against_torch(KINKS[name], X, Y)


INTS = {"int64": np.array([[1, -2, 3], [0, 4, -5]]), "int32": np.array([[1, -2, 3], [0, 4, -5]], dtype=np.int32),
        "bool": np.array([[True, False, True], [False, False, True]])}
INT_OPS = {
    "neg": lambda L, x: -x, "abs": lambda L, x: x.abs(), "exp": lambda L, x: x.exp(),
    "sqrt": lambda L, x: x.abs().sqrt(),
    "sin": lambda L, x: x.sin(), "cos": lambda L, x: x.cos(), "log1p": lambda L, x: x.abs().log1p(),
    "rsqrt": lambda L, x: (x.abs() + 1).rsqrt(), "clamp_int": lambda L, x: x.clamp(0, 2),
    "clamp_float": lambda L, x: x.clamp(0.5, 2.5), "clamp_min": lambda L, x: x.clamp(min=-1),
    "pow_int": lambda L, x: x**2, "pow_float": lambda L, x: x.abs() ** 0.5, "div_int": lambda L, x: x / 2,
    "add_float": lambda L, x: x + 1.5, "mul_int": lambda L, x: x * 3, "rsub": lambda L, x: 10 - x.abs(),
    "maximum": lambda L, x: L.maximum(x, x * 0), "where": lambda L, x: L.where(x > 0, x, 0),
    "where_float": lambda L, x: L.where(x > 0, x, 0.5), "reciprocal": lambda L, x: (x.abs() + 1).reciprocal(),
}


@pytest.mark.parametrize("dtype", list(INTS))
@pytest.mark.parametrize("name", list(INT_OPS))
def test_integer_and_bool_inputs_match_torch(name, dtype):
    """Values and result dtype agree with PyTorch on integer and bool tensors (where PyTorch supports the op)."""
    try:
        theirs = INT_OPS[name](torch, torch.tensor(INTS[dtype]))
    except (RuntimeError, NotImplementedError):
        pytest.skip(f"torch does not support {name} on {dtype}")
    ours = INT_OPS[name](gn, gn.tensor(INTS[dtype]))
    assert str(ours.dtype).replace("bool_", "bool") == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)


def test_float_math_on_integers_gives_the_default_float():
    x = gn.tensor([1, 4, 9])
    assert x.sqrt().dtype == gn.float32 and x.exp().dtype == gn.float32 and x.sin().dtype == gn.float32
    np.testing.assert_allclose(x.sqrt().data, [1, 2, 3])


def test_scalars_keep_the_tensor_dtype():
    x64 = gn.tensor([1.0, 2.0], dtype=gn.float64)
    for y in (x64 + 1.5, 2 * x64, x64 / 3, x64**2, 1 - x64, 2.0**x64, x64.clamp(0.5, 1.5)):
        assert y.dtype == gn.float64
    x32 = gn.tensor([1.0, 2.0])
    for y in (x32 + 1.5, 2 * x32, x32 / 3, x32**2.5, 1 - x32, x32 + np.float64(1.0)):
        assert y.dtype == gn.float32


def test_python_scalars_do_not_change_the_result():
    x = gn.tensor([0.1, 0.2], dtype=gn.float64)
    np.testing.assert_array_equal((x + 0.1).data, x.data + 0.1)
    np.testing.assert_array_equal((3 * x).data, 3 * x.data)
    assert (x + True).dtype == gn.float64


def test_negative_integer_power_of_integers_raises():
    with pytest.raises((ValueError, RuntimeError), match="(?i)integers to negative integer powers"):
        gn.tensor([1, 2]) ** -1


def test_division_by_zero_gives_inf_and_nan_like_torch():
    with np.errstate(all="ignore"):
        out = gn.tensor([1.0, -1.0, 0.0]) / 0
    assert np.isposinf(out.data[0]) and np.isneginf(out.data[1]) and np.isnan(out.data[2])


@pytest.mark.parametrize("op,name", [
    (lambda a, b: a + b, "add"), (lambda a, b: a - b, "sub"), (lambda a, b: a * b, "mul"),
    (lambda a, b: a / b, "div"), (lambda a, b: a**b, "pow"), (gn.maximum, "maximum"), (gn.minimum, "minimum"),
    (lambda a, b: gn.where(a > 0, a, b), "where"), (lambda a, b: a.clamp(b, None), "clamp"),
])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_unbroadcastable_shapes_name_the_op_and_shapes(op, name, requires_grad):
    a = gn.ones(2, 3, requires_grad=requires_grad)
    b = gn.ones(4, 3)
    with pytest.raises(ValueError) as info:
        op(a, b)
    message = str(info.value).lower()
    assert name in message and "(2, 3)" in message and "(4, 3)" in message


def test_clamp_needs_a_bound():
    with pytest.raises(ValueError, match="clamp"):
        gn.ones(2).clamp()


def test_clamp_with_tensor_bounds_promotes_and_broadcasts():
    x = gn.tensor([[-2.0, 0.0, 2.0]], dtype=gn.float64)
    out = x.clamp(gn.tensor([-1.0, 0.5, -1.0]), gn.tensor([[1.0], [1.5]]))
    assert out.shape == (2, 3) and out.dtype == gn.float64
    np.testing.assert_array_equal(out.data, [[-1.0, 0.5, 1.0], [-1.0, 0.5, 1.5]])


def test_gn_function_aliases_equal_the_methods():
    x = gn.tensor([0.5, 1.5, 2.5])
    for name in ("abs", "exp", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu", "square",
                 "reciprocal", "sign"):
        np.testing.assert_array_equal(getattr(gn, name)(x).data, getattr(x, name)().data)
    np.testing.assert_array_equal(gn.clamp(x, 1.0, 2.0).data, x.clamp(1.0, 2.0).data)
    np.testing.assert_array_equal(gn.pow(x, 2).data, (x**2).data)


def test_operators_on_plain_numpy_arrays_and_lists():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    for y in (x + np.array([1.0, 1.0], dtype=np.float32), np.ones(2, dtype=np.float32) + x, x * [2.0, 3.0],
              np.float32(2) * x, x - np.array(1.0)):
        assert isinstance(y, gn.Tensor) and y.requires_grad and y.dtype == gn.float32
    assert (x + np.array([1.0, 1.0])).dtype == gn.float64  # a float64 array counts as a float64 tensor


def test_comparisons_are_bool_and_carry_no_gradient():
    x = gn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for y in (x > 1, x >= 2, x < 2, x <= 1, x == 2, x != 2, 2 < x):
        assert y.dtype == gn.bool and not y.requires_grad and y.grad_fn is None
    np.testing.assert_array_equal((x > 1).data, [False, True, True])
    np.testing.assert_array_equal(((x > 1) & (x < 3)).data, [False, True, False])
    np.testing.assert_array_equal(((x < 2) | (x > 2)).data, [True, False, True])
    np.testing.assert_array_equal((~(x > 1)).data, [True, False, False])
