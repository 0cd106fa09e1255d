"""Tests of glassnet/ops/pooling.py: the generated OpInfo checks (forward, first and second gradients against finite
differences and PyTorch) for max/avg/adaptive pooling, then indices, NaN, ties, dtype and bad-input cases."""

import numpy as np
import pytest
import torch
from opinfo import OpInfo, S, generated_tests

import glassnet as gn
import glassnet.nn.functional as F


def _F(name):
    return lambda L, *xs, **kw: getattr(L.nn.functional, name)(*xs, **kw)


MAX2D_SAMPLES = [
    S((2, 3, 6, 6), kernel_size=2, desc="2x2"),
    S((2, 2, 7, 6), kernel_size=3, stride=2, padding=1),
    S((1, 2, 9, 6), kernel_size=(3, 2), stride=(2, 1), dilation=(2, 1), ceil_mode=True),
    S((2, 2, 5, 5), kernel_size=3, stride=1, desc="overlapping"),
    S((1, 2, 6, 7), kernel_size=2, stride=1, dilation=2, desc="overlapping-dilated"),
    S((1, 2, 5, 7), kernel_size=2, ceil_mode=True, desc="ceil-odd"),
    S((2, 5, 5), kernel_size=2, stride=(1, 2), desc="unbatched"),
    S((2, 2, 6, 5), kernel_size=(2, 3), padding=1, return_indices=True, desc="indices"),
    S((0, 2, 4, 4), kernel_size=2, desc="empty-batch"),
    S((1, 2, 8, 7), kernel_size=2, stride=3, desc="stride-beyond-kernel"),
]

MAX1D_SAMPLES = [
    S((2, 3, 8), kernel_size=2),
    S((2, 2, 9), kernel_size=3, stride=2, padding=1, dilation=1),
    S((1, 2, 10), kernel_size=2, stride=3, dilation=3, ceil_mode=True),
    S((3, 7), kernel_size=3, stride=1, desc="unbatched-overlapping"),
    S((2, 2, 7), kernel_size=3, stride=2, padding=1, return_indices=True, desc="indices"),
]

AVG2D_SAMPLES = [
    S((2, 3, 6, 6), kernel_size=2, desc="2x2"),
    S((2, 2, 7, 6), kernel_size=3, stride=2, padding=1),
    S((2, 2, 7, 6), kernel_size=3, stride=2, padding=1, count_include_pad=False),
    S((1, 2, 7, 8), kernel_size=(3, 2), stride=2, padding=(1, 1), ceil_mode=True),
    S((1, 2, 7, 8), kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    S((1, 2, 5, 6), kernel_size=2, stride=1, divisor_override=3, desc="overlapping-divisor"),
    S((3, 5, 5), kernel_size=(1, 3), stride=(1, 2), desc="unbatched"),
    S((0, 2, 4, 4), kernel_size=2, desc="empty-batch"),
    S((1, 2, 8, 7), kernel_size=2, stride=3, desc="stride-beyond-kernel"),
]

AVG1D_SAMPLES = [
    S((2, 3, 8), kernel_size=2),
    S((2, 2, 9), kernel_size=3, stride=2, padding=1, count_include_pad=False),
    S((1, 2, 8), kernel_size=3, stride=2, padding=1, ceil_mode=True),
    S((3, 6), kernel_size=2, stride=1, desc="unbatched-overlapping"),
]

ADAPTIVE_SAMPLES = [
    S((2, 3, 7, 6), output_size=1, desc="global"),
    S((2, 2, 7, 8), output_size=(3, 5)),
    S((1, 2, 6, 5), output_size=(4, None), desc="keep-width"),
    S((1, 2, 4, 3), output_size=(6, 5), desc="upsampling"),
    S((2, 6, 6), output_size=3, desc="unbatched"),
]

POOLING = [
    OpInfo("F.max_pool2d", _F("max_pool2d"), MAX2D_SAMPLES),
    OpInfo("F.max_pool1d", _F("max_pool1d"), MAX1D_SAMPLES),
    OpInfo("F.avg_pool2d", _F("avg_pool2d"), AVG2D_SAMPLES),
    OpInfo("F.avg_pool1d", _F("avg_pool1d"), AVG1D_SAMPLES),
    OpInfo("F.adaptive_avg_pool2d", _F("adaptive_avg_pool2d"), ADAPTIVE_SAMPLES),
    OpInfo("F.adaptive_avg_pool1d", _F("adaptive_avg_pool1d"),
           [S((2, 3, 7), output_size=3), S((2, 9), output_size=4), S((1, 2, 3), output_size=5)]),
]

(test_forward_matches_torch, test_grad_matches_torch, test_gradcheck, test_gradgradcheck,
 test_gradgrad_matches_torch) = generated_tests(POOLING)


# ----- beyond the generated checks --------------------------------------------------------------------------------
def test_ties_and_nan_follow_pytorch():
    """Ties route the gradient to the first maximum; a NaN anywhere in a window wins that window."""
    x = np.zeros((1, 1, 4, 6))
    x[0, 0, 1, 1] = 5.0
    x[0, 0, 2, 4] = np.nan
    g, t = gn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, idx = F.max_pool2d(g, 2, return_indices=True)
    ty, tidx = torch.nn.functional.max_pool2d(t, 2, return_indices=True)
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    np.testing.assert_array_equal(idx.data, tidx.numpy())
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(g.grad.data, t.grad.numpy())


def test_indices_dtype_and_unbatched_shape():
    x = gn.tensor(np.random.default_rng(0).standard_normal((3, 6, 6)))
    y, idx = F.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    assert idx.dtype == np.int64 and idx.shape == y.shape == (3, 3, 3) and not idx.requires_grad


@pytest.mark.parametrize("name,kw", [
    ("max_pool2d", dict(kernel_size=3, stride=2, padding=1)),
    ("max_pool2d", dict(kernel_size=3, stride=1)),
    ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ("avg_pool1d", dict(kernel_size=2)),
    ("adaptive_avg_pool2d", dict(output_size=(3, 2))),
])
def test_float32_stays_float32(name, kw):
    """Forward, backward and the backward's own backward all in float32 (called directly: no engine cast)."""
    shape = (2, 3, 8) if name.endswith("1d") else (2, 3, 8, 7)
    x = gn.tensor(np.random.default_rng(1).standard_normal(shape).astype(np.float32), requires_grad=True)
    y = getattr(F, name)(x, **kw)
    assert y.dtype == np.float32
    assert y.grad_fn.backward(np.ones(y.shape, np.float32)).dtype == np.float32
    gx = gn.grad((y * y).sum(), x, create_graph=True)[0]
    node = gx.grad_fn
    while node is not None and type(node).__module__ != "glassnet.ops.pooling":
        node = next((i.grad_fn for i in node.inputs if isinstance(i, gn.Tensor) and i.grad_fn), None)
    assert node is not None
    assert node.backward(np.ones(node._out.shape, np.float32)).dtype == np.float32


def test_pooling_a_conv_output_view():
    """Pooling reads the channel-major view a convolution returns, and hands back the same layout."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((4, 2, 8, 8)), rng.standard_normal((3, 2, 3, 3))
    h = F.conv2d(gn.tensor(x), gn.tensor(w), padding=1)
    th = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1)
    for name, kw in [("max_pool2d", dict(kernel_size=2)), ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1)),
                     ("adaptive_avg_pool2d", dict(output_size=3))]:
        ours, theirs = getattr(F, name)(h, **kw), getattr(torch.nn.functional, name)(th, **kw)
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_gradgradcheck_pool_chain():
    x = gn.tensor(np.random.default_rng(3).standard_normal((1, 2, 6, 6)), requires_grad=True)

    def net(x):
        h = F.max_pool2d((x * x).tanh(), 2, stride=1)
        return F.adaptive_avg_pool2d(F.avg_pool2d(h, 2, stride=1, padding=1) ** 2, 2)

    assert gn.autograd.gradgradcheck(net, [x])


# ----- bad input ----------------------------------------------------------------------------------------------------
def _t(*shape):
    return gn.tensor(np.zeros(shape, np.float32))


@pytest.mark.parametrize("call,pieces", [
    (lambda: F.max_pool2d(_t(8, 8), 2), ["max_pool2d", "4-D", "3-D (unbatched)", "(8, 8)"]),
    (lambda: F.max_pool2d(_t(1, 1, 8, 8), 2, padding=2), ["max_pool2d", "padding (2, 2)", "half",
                                                          "effective kernel size 2x2"]),
    (lambda: F.max_pool2d(_t(1, 1, 2, 2), 3), ["max_pool2d", "(1, 1, 2, 2)", "too small", "kernel 3x3"]),
    (lambda: F.max_pool2d(_t(1, 1, 8, 8), 2, stride=0), ["max_pool2d", "stride", "at least 1"]),
    (lambda: F.max_pool1d(_t(1, 1, 2), 2, dilation=2), ["max_pool1d", "too small", "dilation (2,)"]),
    (lambda: F.avg_pool2d(_t(1, 1, 8, 8), 3, padding=2), ["avg_pool2d", "padding (2, 2)", "kernel size 3x3"]),
    (lambda: F.avg_pool2d(_t(1, 1, 8, 8), 2, divisor_override=0), ["avg_pool2d", "divisor_override"]),
    (lambda: F.avg_pool1d(_t(1, 1, 8, 8), 2), ["avg_pool1d", "3-D", "(1, 1, 8, 8)"]),
    (lambda: F.adaptive_avg_pool2d(_t(1, 1, 8, 8), (2, 2, 2)), ["adaptive_avg_pool2d", "output_size"]),
    (lambda: F.adaptive_avg_pool2d(_t(1, 1, 8, 8), 0), ["adaptive_avg_pool2d", "positive"]),
])
def test_bad_input_names_the_op_and_shapes(call, pieces):
    with pytest.raises(ValueError) as info:
        call()
    for piece in pieces:
        assert piece in str(info.value), f"{piece!r} not in: {info.value}"


def test_bool_input_is_refused_and_integers_are_pooled_as_in_pytorch():
    with pytest.raises(TypeError, match="max_pool2d: input must be a floating tensor"):
        F.max_pool2d(gn.tensor(np.zeros((1, 1, 4, 4), bool)), 2)
    assert F.max_pool2d(gn.tensor(np.arange(16).reshape(1, 1, 4, 4)), 2).tolist() == [[[[5, 7], [13, 15]]]]
