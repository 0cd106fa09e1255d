"""Tests of glassnet/ops/conv.py: the generated OpInfo checks (forward, first and second gradients against finite
differences and PyTorch) for conv1d/conv2d/conv_transpose/unfold/fold, then layout, dtype and bad-input cases."""

import inspect

import numpy as np
import pytest
import torch
from opinfo import OpInfo, S, generated_tests

import glassnet as gn
import glassnet.nn.functional as F
from glassnet.ops import conv as cv

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note about its own copy


def _F(name):
    return lambda L, *xs, **kw: getattr(L.nn.functional, name)(*xs, **kw)


CONV2D_SAMPLES = [
    S((2, 3, 5, 5), (4, 3, 3, 3), desc="basic"),
    S((2, 2, 6, 5), (3, 2, 3, 3), stride=2, padding=1),
    S((1, 2, 5, 6), (3, 2, 2, 3), padding="same", desc="same-even-kernel"),
    S((1, 2, 6, 5), (2, 2, 3, 3), padding="same", dilation=2, desc="same-dilated"),
    S((2, 2, 5, 4), (3, 2, 2, 3), padding="valid", desc="valid-nonsquare"),
    S((1, 2, 7, 6), (2, 2, 3, 2), dilation=2, padding=(1, 2)),
    S((2, 2, 6, 7), (2, 2, 3, 2), stride=(1, 2), padding=(2, 0), dilation=(2, 1)),
    S((2, 4, 5, 5), (6, 2, 3, 3), groups=2),
    S((1, 3, 5, 4), (3, 1, 2, 2), groups=3, stride=(2, 1), desc="depthwise"),
    S((1, 3, 4, 4), (2, 3, 1, 1), desc="1x1-batch1"),
    S((2, 2, 3, 3), (2, 2, 3, 3), desc="kernel-fills-input"),
    S((2, 1, 6, 6), (3, 1, 5, 5), padding=2, stride=3, desc="lenet-like-strided"),
    S((0, 2, 4, 4), (3, 2, 3, 3), padding=1, desc="empty-batch"),
    S((1, 2, 8, 7), (2, 2, 2, 2), stride=3, desc="stride-beyond-kernel"),
    S((3, 5, 5), (4, 3, 3, 3), desc="unbatched"),
    S((4, 5, 6), (6, 2, 3, 3), groups=2, stride=2, padding=1, desc="unbatched-groups-strided"),
]

CONV1D_SAMPLES = [
    S((2, 3, 7), (4, 3, 3), desc="basic"),
    S((2, 2, 8), (3, 2, 3), stride=2, padding=1),
    S((1, 2, 6), (2, 2, 4), padding="same", desc="same-even-kernel"),
    S((2, 2, 9), (2, 2, 3), dilation=3, padding=2),
    S((2, 3, 6), (6, 1, 2), groups=3, stride=2, desc="depthwise"),
    S((1, 1, 5), (1, 1, 5), desc="kernel-fills-input"),
    S((3, 7), (4, 3, 3), desc="unbatched"),
    S((2, 6), (2, 2, 4), padding="same", desc="unbatched-same"),
]

CONVT2D_SAMPLES = [
    S((2, 3, 3, 4), (3, 2, 3, 3), desc="basic"),
    S((1, 2, 3, 3), (2, 3, 3, 2), stride=2),
    S((2, 2, 3, 3), (2, 2, 3, 3), stride=2, padding=1, output_padding=1),
    S((1, 2, 3, 4), (2, 2, 2, 3), dilation=2, output_padding=1, desc="output-padding-from-dilation"),
    S((2, 4, 3, 2), (4, 3, 2, 2), groups=2, stride=(2, 1), padding=(1, 0)),
    S((1, 3, 2, 2), (3, 1, 3, 3), groups=3, stride=3, output_padding=(2, 1), desc="depthwise"),
    S((3, 3, 4), (3, 2, 3, 3), stride=2, output_padding=1, desc="unbatched"),
]

CONVT1D_SAMPLES = [
    S((2, 3, 4), (3, 2, 3), desc="basic"),
    S((1, 2, 4), (2, 2, 3), stride=2, padding=1, output_padding=1),
    S((2, 4, 3), (4, 1, 2), groups=2, dilation=2),
    S((0, 2, 3), (2, 2, 2), desc="empty-batch"),
    S((3, 4), (3, 2, 3), stride=2, desc="unbatched"),
]

CONV = [
    OpInfo("F.conv2d", _F("conv2d"), CONV2D_SAMPLES),
    OpInfo("F.conv2d_bias", _F("conv2d"), [S((2, 2, 4, 5), (3, 2, 2, 2), (3,)),
                                           S((1, 4, 5, 5), (4, 2, 3, 3), (4,), groups=2, stride=2, padding=1),
                                           S((2, 4, 5), (3, 2, 2, 2), (3,), desc="unbatched")]),
    OpInfo("F.conv1d", _F("conv1d"), CONV1D_SAMPLES),
    OpInfo("F.conv1d_bias", _F("conv1d"), [S((2, 2, 6), (3, 2, 3), (3,), padding="same"),
                                           S((2, 6), (3, 2, 3), (3,), stride=2, desc="unbatched")]),
    OpInfo("F.conv_transpose2d", _F("conv_transpose2d"), CONVT2D_SAMPLES),
    OpInfo("F.conv_transpose2d_bias", _F("conv_transpose2d"),
           [S((2, 2, 3, 3), (2, 3, 2, 2), (3,), stride=2), S((1, 4, 2, 3), (4, 1, 3, 2), (2,), groups=2),
            S((2, 3, 3), (2, 3, 2, 2), (3,), stride=2, desc="unbatched")]),
    OpInfo("F.conv_transpose1d", _F("conv_transpose1d"), CONVT1D_SAMPLES),
    OpInfo("F.unfold", _F("unfold"),
           [S((2, 2, 4, 5), kernel_size=2),
            S((1, 3, 5, 4), kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
            S((2, 4, 4), kernel_size=3, padding=1, desc="unbatched")]),
    OpInfo("F.fold", _F("fold"),
           [S((2, 8, 12), output_size=(4, 5), kernel_size=2),
            S((1, 12, 6), output_size=(5, 4), kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
            S((9, 9), output_size=3, kernel_size=3, padding=1, desc="unbatched")]),
]

(test_forward_matches_torch, test_grad_matches_torch, test_gradcheck, test_gradgradcheck,
 test_gradgrad_matches_torch) = generated_tests(CONV)


# ----- beyond the generated checks --------------------------------------------------------------------------------
def _pair(*shapes, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    return ([gn.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def test_small_cnn_with_layouts_matches_torch():
    """conv → relu → max-pool → conv → avg-pool chained: the channel-major views the ops hand each other are read
    correctly (values and all gradients), for an NCHW input that is itself a transposed (NHWC) view."""
    rng = np.random.default_rng(3)
    nhwc = rng.standard_normal((3, 12, 12, 2))
    (w1, b1, w2), (tw1, tb1, tw2) = _pair((4, 2, 3, 3), (4,), (5, 4, 3, 3), seed=4)
    x = gn.tensor(nhwc, requires_grad=True)
    tx = torch.tensor(nhwc, requires_grad=True)

    def net(lib, x, w1, b1, w2):
        f = lib.nn.functional
        h = f.conv2d(x.permute(0, 3, 1, 2), w1, b1, padding=1).relu()
        h = f.max_pool2d(h, 2)
        return f.avg_pool2d(f.conv2d(h, w2, stride=1, padding="same"), 3, stride=2, padding=1)

    y, ty = net(gn, x, w1, b1, w2), net(torch, tx, tw1, tb1, tw2)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    v = rng.standard_normal(ty.shape)
    grads = gn.grad(y, [x, w1, b1, w2], gn.tensor(v))
    tgrads = torch.autograd.grad(ty, [tx, tw1, tb1, tw2], torch.tensor(v))
    for g, tg in zip(grads, tgrads):
        np.testing.assert_allclose(g.data, tg.numpy(), rtol=1e-10, atol=1e-12)


def test_gradgradcheck_small_cnn():
    (x, w1, w2), _ = _pair((1, 2, 5, 5), (2, 2, 2, 2), (2, 2, 2, 2), seed=5)

    def net(x, w1, w2):
        h = F.avg_pool2d(F.conv2d(x, w1, padding=1).tanh(), 2, stride=1)
        return F.conv_transpose2d(h, w2, stride=2)

    assert gn.autograd.gradgradcheck(net, [x, w1, w2])


def test_without_the_im2col_cache(monkeypatch):
    """Large im2col matrices are not kept for the backward; the rebuilt ones give the same gradients."""
    monkeypatch.setattr(cv, "CACHE_BYTES", 0)
    (x, w, b), (tx, tw, tb) = _pair((2, 3, 6, 6), (4, 3, 3, 3), (4,), seed=11)
    y = F.conv2d(x, w, b, stride=2, padding=1)
    assert y.grad_fn.cols is None
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride=2, padding=1)
    for g, tg in zip(gn.grad(y.sum(), [x, w, b]), torch.autograd.grad(ty.sum(), [tx, tw, tb])):
        np.testing.assert_allclose(g.data, tg.numpy(), rtol=1e-10, atol=1e-12)
    assert gn.autograd.gradgradcheck(lambda x, w: F.conv2d(x, w, padding=1), [x, w])


def test_weight_only_gradient_skips_the_input_gradient():
    (x, w), (tx, tw) = _pair((2, 3, 6, 6), (4, 3, 3, 3))
    x.requires_grad_(False)
    y = F.conv2d(x, w, stride=2)
    y.sum().backward()
    tw_grad = torch.autograd.grad(torch.nn.functional.conv2d(tx, tw, stride=2).sum(), tw)[0]
    assert x.grad is None
    np.testing.assert_allclose(w.grad.data, tw_grad.numpy(), rtol=1e-10)


def test_second_order_through_weight_only():
    """d/dw of ‖dL/dx‖² with create_graph (a gradient penalty), against PyTorch."""
    (x, w), (tx, tw) = _pair((2, 2, 5, 5), (3, 2, 3, 3), seed=7)
    gx = gn.grad(F.conv2d(x, w, padding=1).tanh().sum(), x, create_graph=True)[0]
    tgx = torch.autograd.grad(torch.nn.functional.conv2d(tx, tw, padding=1).tanh().sum(), tx, create_graph=True)[0]
    gw = gn.grad((gx * gx).sum(), w)[0]
    tgw = torch.autograd.grad((tgx * tgx).sum(), tw)[0]
    np.testing.assert_allclose(gw.data, tgw.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,shapes,kw", [
    ("conv2d", [(2, 4, 9, 9), (6, 2, 3, 3), (6,)], dict(stride=2, padding=1, groups=2)),
    ("conv1d", [(2, 3, 9), (4, 3, 3), (4,)], dict(padding="same")),
    ("conv_transpose2d", [(2, 4, 5, 5), (4, 3, 3, 3), (3,)], dict(stride=2, output_padding=1)),
])
def test_float32_stays_float32(name, shapes, kw):
    """Forward and every backward (called directly, so the engine's final cast cannot hide an upcast) in float32."""
    (x, w, b), _ = _pair(*shapes, dtype=np.float32)
    y = getattr(F, name)(x, w, b, **kw)
    assert y.dtype == np.float32
    grads = y.grad_fn.backward(np.ones(y.shape, np.float32))
    assert [g.dtype for g in grads] == [np.float32] * 3
    # the ops a create_graph backward records, one level further
    gx = gn.grad(y.sum(), x, create_graph=True)[0]
    for g in gx.grad_fn.backward(np.ones(gx.shape, np.float32)):
        assert g is None or g.dtype == np.float32


def test_unfold_fold_float32():
    (x,), _ = _pair((2, 3, 6, 6), dtype=np.float32)
    cols = F.unfold(x, 3, padding=1)
    assert cols.dtype == np.float32 and F.fold(cols, 6, 3, padding=1).dtype == np.float32
    assert cols.grad_fn.backward(np.ones(cols.shape, np.float32)).dtype == np.float32


def test_no_scatter_add_in_the_hot_path():
    """Convolution and pooling and their gradients use strided views, GEMMs and slice-adds only (never np.add.at)."""
    from glassnet.ops import pooling

    for module in (cv, pooling):
        assert "add.at(" not in inspect.getsource(module)


def test_matches_explicit_loop_definition():
    """The docstring's loop formula, run literally, gives the same result as the im2col + GEMM path."""
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    s, p, d, groups = (2, 1), (1, 2), (1, 2), 2
    xpad = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    ho = (6 + 2 * p[0] - d[0] * 2 - 1) // s[0] + 1
    wo = (5 + 2 * p[1] - d[1] * 1 - 1) // s[1] + 1
    y = np.zeros((2, 6, ho, wo))
    for n in range(2):
        for o in range(6):
            grp = o // 3
            for i in range(ho):
                for j in range(wo):
                    acc = b[o]
                    for c in range(2):
                        for u in range(3):
                            for v in range(2):
                                acc += w[o, c, u, v] * xpad[n, grp * 2 + c, i * s[0] + u * d[0], j * s[1] + v * d[1]]
                    y[n, o, i, j] = acc
    out = F.conv2d(gn.tensor(x), gn.tensor(w), gn.tensor(b), stride=s, padding=p, dilation=d, groups=groups)
    np.testing.assert_allclose(out.data, y, rtol=1e-12, atol=1e-12)


# ----- bad input ----------------------------------------------------------------------------------------------------
def _t(*shape, dtype=np.float32):
    return gn.tensor(np.zeros(shape, dtype))


@pytest.mark.parametrize("call,pieces", [
    (lambda: F.conv2d(_t(28, 28), _t(6, 3, 5, 5)), ["conv2d", "4-D", "3-D (unbatched)", "(28, 28)"]),
    (lambda: F.conv2d(_t(5, 28, 28), _t(6, 3, 5, 5)), ["conv2d", "input of shape (5, 28, 28) has 5 channels",
                                                      "expects 3"]),
    (lambda: F.conv2d(_t(8, 3, 28, 28), _t(6, 1, 5, 5)), ["conv2d", "(8, 3, 28, 28)", "(6, 1, 5, 5)", "3 channels",
                                                         "expects 1"]),
    (lambda: F.conv2d(_t(1, 1, 3, 3), _t(2, 1, 5, 5)), ["conv2d", "kernel 5x5", "padded input 3x3", "(1, 1, 3, 3)"]),
    (lambda: F.conv2d(_t(1, 2, 4, 4), _t(2, 2, 2, 2), dilation=4), ["conv2d", "dilation (4, 4) spans 5x5",
                                                                    "padded input 4x4"]),
    (lambda: F.conv2d(_t(1, 6, 8, 8), _t(16, 2, 3, 3), groups=4), ["conv2d", "groups=4", "6 channels",
                                                                   "16 output channels"]),
    (lambda: F.conv2d(_t(1, 4, 8, 8), _t(6, 2, 3, 3), groups=4), ["conv2d", "groups=4", "6 output channels"]),
    (lambda: F.conv2d(_t(1, 4, 8, 8), _t(6, 4, 3, 3), _t(5)), ["conv2d", "bias of shape (5,)", "(6,)"]),
    (lambda: F.conv2d(_t(1, 4, 8, 8), _t(6, 4, 3)), ["conv2d", "4-D weight", "(6, 4, 3)"]),
    (lambda: F.conv2d(_t(1, 4, 8, 8), _t(6, 4, 3, 3), stride=2, padding="same"), ["conv2d", "'same'", "strided"]),
    (lambda: F.conv2d(_t(1, 4, 8, 8), _t(6, 4, 3, 3), padding="full"), ["conv2d", "'full'"]),
    (lambda: F.conv2d(_t(1, 4, 8, 8), _t(6, 4, 3, 3), stride=0), ["conv2d", "stride", "at least 1"]),
    (lambda: F.conv2d(_t(1, 4, 8, 8), _t(6, 4, 3, 3), stride=(1, 2, 3)), ["conv2d", "stride", "tuple of 2"]),
    (lambda: F.conv1d(_t(10), _t(4, 3, 3)), ["conv1d", "3-D", "2-D (unbatched)", "(10,)"]),
    (lambda: F.conv1d(_t(2, 3, 10), _t(4, 2, 3)), ["conv1d", "(2, 3, 10)", "(4, 2, 3)", "3 channels"]),
    (lambda: F.conv1d(_t(2, 3, 2), _t(4, 3, 3)), ["conv1d", "kernel 3", "padded input 2"]),
    (lambda: F.conv_transpose2d(_t(1, 3, 4, 4), _t(2, 3, 3, 3)), ["conv_transpose2d", "3 channels",
                                                                  "(2, 3, 3, 3)"]),
    (lambda: F.conv_transpose2d(_t(1, 3, 4, 4), _t(3, 3, 3, 3), stride=2, output_padding=2),
     ["conv_transpose2d", "output_padding", "stride"]),
    (lambda: F.conv_transpose2d(_t(1, 3, 1, 1), _t(3, 3, 1, 1), padding=1), ["conv_transpose2d", "not be positive"]),
    (lambda: F.conv_transpose2d(_t(4, 4), _t(3, 3, 3, 3)), ["conv_transpose2d", "4-D", "(4, 4)"]),
    (lambda: F.conv_transpose2d(_t(1, 2, 3, 4, 4), _t(3, 3, 3, 3)), ["conv_transpose2d", "4-D", "(1, 2, 3, 4, 4)"]),
    (lambda: F.conv_transpose2d(_t(2, 4, 4), _t(3, 3, 3, 3)), ["conv_transpose2d", "(2, 4, 4) has 2 channels",
                                                              "(3, 3, 3, 3)"]),
    (lambda: F.unfold(_t(1, 1, 2, 2), 3), ["unfold", "does not fit"]),
    (lambda: F.fold(_t(1, 7, 12), (4, 5), 2), ["fold", "divisible", "(1, 7, 12)"]),
    (lambda: F.fold(_t(1, 8, 10), (4, 5), 2), ["fold", "10 blocks", "3x4 = 12"]),
])
def test_bad_input_names_the_op_and_shapes(call, pieces):
    with pytest.raises(ValueError) as info:
        call()
    for piece in pieces:
        assert piece in str(info.value), f"{piece!r} not in: {info.value}"


def test_mixed_dtypes_are_refused():
    with pytest.raises(TypeError, match=r"conv2d: dtypes differ \(input is float32, weight is float64"):
        F.conv2d(_t(1, 2, 4, 4), _t(3, 2, 3, 3, dtype=np.float64))
    with pytest.raises(TypeError, match="conv2d: input must be a floating tensor, got int64"):
        F.conv2d(gn.tensor(np.zeros((1, 2, 4, 4), np.int64)), _t(3, 2, 3, 3))
