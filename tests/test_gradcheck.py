"""Tests of glassnet/gradcheck.py: gradcheck and gradgradcheck pass on correct ops, and on failure name the input,
the element, the analytic and the numeric value."""

import re

import numpy as np
import pytest

import glassnet as gn
from glassnet.autograd import Function


class WrongSquare(Function):
    """y = x², with a wrong derivative (3x instead of 2x)."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, gy):
        (x,) = self.saved_tensors
        return 3 * gy * x


class FrozenCube(Function):
    """y = x³ whose backward uses a private copy of x: right first derivative, but invisible to a second one."""

    def forward(self, x):
        self.x = x.copy()
        return x**3

    def backward(self, gy):
        return gy * 3 * self.x**2


def x64(*values):
    return gn.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_gradcheck_passes_on_correct_ops():
    a, b = x64(1.0, -2.0, 0.5), x64(0.3, 0.7, 2.0)
    assert gn.autograd.gradcheck(lambda p, q: (p * q).sin() / (q + 3), [a, b])
    assert gn.autograd.gradcheck(lambda p: (p @ p.reshape(3, 1)).exp(), [a])
    assert gn.autograd.gradgradcheck(lambda p, q: (p * q).tanh().sum() * p, [a, b])


def test_gradcheck_failure_names_input_element_and_values():
    x = x64(1.0, 2.0, 3.0)
    with pytest.raises(gn.autograd.GradcheckError) as info:
        gn.autograd.gradcheck(lambda c, t: c + WrongSquare.apply(t), [x64(0.0, 0.0, 0.0), x])
    message = str(info.value)
    match = re.search(r"input 1, element \((\d+),\): analytic (\S+) vs numeric (\S+)", message)
    assert match, message
    analytic, numeric = float(match.group(2)), float(match.group(3))
    assert analytic == pytest.approx(1.5 * numeric, rel=1e-4)  # 3x·v against the true 2x·v
    assert isinstance(info.value, AssertionError)


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    x = x64(1.0, -2.0, 0.5)
    assert gn.autograd.gradcheck(FrozenCube.apply, [x])
    with pytest.raises(gn.autograd.GradcheckError, match=r"input 0, element \(\d+,\): analytic"):
        gn.autograd.gradgradcheck(FrozenCube.apply, [x])


def test_gradcheck_requires_float64():
    with pytest.raises(TypeError, match="input 0 is float32; finite differences need float64"):
        gn.autograd.gradcheck(lambda t: t * 2, [gn.ones(2, requires_grad=True)])


def test_gradcheck_with_constants_several_outputs_and_unused_inputs():
    a, b = x64(1.0, 2.0), x64(3.0)
    assert gn.autograd.gradcheck(lambda p, k, q: (p * k, p.sum() * 2), [a, 2.5, b])
    assert gn.autograd.gradgradcheck(lambda p, k, q: (p * p * k, p.sum() * 2), [a, 2.5, b])


def test_gradcheck_tolerances_are_respected():
    x = x64(1.0, 2.0)

    class SlightlyOff(Function):
        def forward(self, t):
            return 2 * t

        def backward(self, gy):
            return gy * 2 * (1 + 1e-4)

    assert gn.autograd.gradcheck(SlightlyOff.apply, [x], rtol=1e-3)
    with pytest.raises(gn.autograd.GradcheckError, match="rtol=1e-06"):
        gn.autograd.gradcheck(SlightlyOff.apply, [x], atol=0.0, rtol=1e-6)
