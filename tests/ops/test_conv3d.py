"""Generated OpInfo checks for the 3-D convolutions and pooling (tests/opinfo.py CONV3D), then what the generated
checks do not cover: the loop definition of conv3d, float32 throughout, and bad input."""

import numpy as np
import pytest
import torch
from opinfo import CONV3D, generated_tests

import glassnet as gn
import glassnet.nn.functional as F
from glassnet.errors import ShapeError

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note about its own copy

(
    test_forward_matches_torch,
    test_grad_matches_torch,
    test_gradcheck,
    test_gradgradcheck,
    test_gradgrad_matches_torch,
) = generated_tests(CONV3D)


def test_conv3d_matches_explicit_loop_definition():
    """y[n, o, t, i, j] = b[o] + Σ_{c,r,u,v} w[o, c, r, u, v] · xpad[n, grp·C/G + c, t·s + r·d, i·s + u·d, j·s + v·d]"""
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((2, 4, 4, 5, 3)), rng.standard_normal((2, 2, 2, 3, 2)), rng.standard_normal(2)
    s, p, d, groups = (1, 2, 1), (1, 0, 1), (2, 1, 1), 2
    xpad = np.pad(x, ((0, 0), (0, 0)) + tuple((q, q) for q in p))
    out = [(n + 2 * q - dd * (k - 1) - 1) // ss + 1 for n, q, dd, k, ss in zip(x.shape[2:], p, d, w.shape[2:], s)]
    y = np.zeros((2, 2, *out))
    for n, o, t, i, j in np.ndindex(*y.shape):
        grp, cg = o // (w.shape[0] // groups), w.shape[1]
        acc = b[o]
        for c, r, u, v in np.ndindex(*w.shape[1:]):
            at = (t * s[0] + r * d[0], i * s[1] + u * d[1], j * s[2] + v * d[2])
            acc += w[o, c, r, u, v] * xpad[(n, grp * cg + c) + at]
        y[n, o, t, i, j] = acc
    got = F.conv3d(gn.tensor(x), gn.tensor(w), gn.tensor(b), stride=s, padding=p, dilation=d, groups=groups)
    np.testing.assert_allclose(got.data, y, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,shapes,kw", [
    ("conv3d", [(2, 4, 5, 5, 4), (6, 2, 3, 3, 2), (6,)], dict(stride=2, padding=1, groups=2)),
    ("conv_transpose3d", [(2, 4, 3, 3, 2), (4, 3, 3, 2, 3), (3,)], dict(stride=2, output_padding=1)),
])
def test_float32_stays_float32(name, shapes, kw):
    """Forward and every backward (called directly, so the engine's final cast cannot hide an upcast) in float32."""
    rng = np.random.default_rng(0)
    x, w, b = (gn.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes)
    y = getattr(F, name)(x, w, b, **kw)
    assert y.dtype == np.float32
    assert [g.dtype for g in y.grad_fn.backward(np.ones(y.shape, np.float32))] == [np.float32] * 3
    y = gn.tensor(y.data, requires_grad=True)
    for pool, options in [(F.max_pool3d, dict(kernel_size=2)), (F.avg_pool3d, dict(kernel_size=3, padding=1)),
                          (F.adaptive_avg_pool3d, dict(output_size=(2, 1, 2)))]:
        p = pool(y, **options)
        assert p.dtype == np.float32 and gn.grad(p.sum(), y)[0].dtype == np.float32


def test_max_pool3d_indices_are_flat_positions_in_the_volume():
    """return_indices gives d·H·W + h·W + w, as torch does, and max_unpool-style scattering puts values back."""
    x = np.random.default_rng(1).permutation(2 * 3 * 4 * 6 * 5).reshape(2, 3, 4, 6, 5).astype(np.float64)
    y, idx = F.max_pool3d(gn.tensor(x), (2, 3, 2), stride=(2, 2, 1), padding=(1, 1, 0), return_indices=True)
    ty, tidx = torch.nn.functional.max_pool3d(torch.tensor(x), (2, 3, 2), stride=(2, 2, 1), padding=(1, 1, 0),
                                              return_indices=True)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    np.testing.assert_array_equal(np.take_along_axis(x.reshape(2, 3, -1), idx.numpy().reshape(2, 3, -1), 2),
                                  y.numpy().reshape(2, 3, -1))


def test_integer_max_pool3d_as_in_pytorch():
    x = np.arange(2 * 4 * 4 * 4).reshape(1, 2, 4, 4, 4)[:, :, ::-1].copy()
    for dtype in (np.int64, np.int32):
        y = F.max_pool3d(gn.tensor(x.astype(dtype)), 2)
        ty = torch.nn.functional.max_pool3d(torch.tensor(x.astype(dtype)), 2)
        assert y.dtype == dtype
        np.testing.assert_array_equal(y.numpy(), ty.numpy())


# ----- bad input ----------------------------------------------------------------------------------------------------
def _t(*shape, dtype=np.float32):
    return gn.tensor(np.zeros(shape, dtype))


@pytest.mark.parametrize("call,pieces", [
    (lambda: F.conv3d(_t(8, 8, 8), _t(6, 3, 3, 3, 3)), ["conv3d", "5-D", "4-D (unbatched)", "(8, 8, 8)"]),
    (lambda: F.conv3d(_t(2, 3, 8, 8, 8), _t(6, 2, 3, 3, 3)), ["conv3d", "(2, 3, 8, 8, 8)", "(6, 2, 3, 3, 3)",
                                                              "3 channels", "expects 2"]),
    (lambda: F.conv3d(_t(1, 1, 4, 2, 4), _t(2, 1, 3, 3, 3)), ["conv3d", "kernel 3x3x3", "padded input 4x2x4",
                                                              "(1, 1, 4, 2, 4)"]),
    (lambda: F.conv3d(_t(1, 2, 8, 8, 8), _t(2, 2, 3, 3)), ["conv3d", "5-D weight", "(2, 2, 3, 3)",
                                                           "kd, kh, kw"]),
    (lambda: F.conv3d(_t(1, 2, 8, 8, 8), _t(2, 2, 3, 3, 3), stride=(1, 2)), ["conv3d", "stride", "tuple of 3"]),
    (lambda: F.conv3d(_t(1, 4, 8, 8, 8), _t(6, 4, 3, 3, 3), stride=2, padding="same"), ["conv3d", "strided"]),
    (lambda: F.conv_transpose3d(_t(1, 3, 4, 4, 4), _t(2, 3, 3, 3, 3)), ["conv_transpose3d", "3 channels"]),
    (lambda: F.conv_transpose3d(_t(1, 3, 1, 1, 1), _t(3, 3, 1, 1, 1), padding=1),
     ["conv_transpose3d", "not be positive"]),
    (lambda: F.conv_transpose3d(_t(1, 3, 4, 4, 4), _t(3, 3, 3, 3, 3), stride=2, output_padding=2),
     ["conv_transpose3d", "output_padding", "stride"]),
    (lambda: F.max_pool3d(_t(1, 1, 2, 8, 8), 3), ["max_pool3d", "too small", "(1, 1, 2, 8, 8)", "3x3x3"]),
    (lambda: F.max_pool3d(_t(8, 8), 2), ["max_pool3d", "5-D or 4-D", "(N, C, D, H, W)", "(8, 8)"]),
    (lambda: F.max_pool3d(_t(1, 1, 8, 8, 8), 2, padding=2), ["max_pool3d", "at most half"]),
    (lambda: F.avg_pool3d(_t(1, 1, 8, 1, 8), 2), ["avg_pool3d", "too small", "2x2x2"]),
    (lambda: F.avg_pool3d(_t(1, 1, 8, 8, 8), 2, divisor_override=0), ["avg_pool3d", "divisor_override"]),
    (lambda: F.adaptive_avg_pool3d(_t(1, 1, 8, 8, 8), (2, 2)), ["adaptive_avg_pool3d", "tuple of 3"]),
])
def test_bad_input_names_the_op_and_shapes(call, pieces):
    with pytest.raises(ValueError) as info:
        call()
    for piece in pieces:
        assert piece in str(info.value), f"{piece!r} not in: {info.value}"


def test_shape_errors_are_catchable_as_pytorchs_runtime_error():
    with pytest.raises(RuntimeError):
        F.conv3d(_t(1, 1, 2, 2, 2), _t(1, 1, 3, 3, 3))
    with pytest.raises(ShapeError):
        F.max_pool3d(_t(1, 1, 2, 2, 2), 3)
    with pytest.raises(ShapeError):
        F.conv_transpose3d(_t(1, 3, 1, 1, 1), _t(3, 3, 1, 1, 1), padding=1)
    with pytest.raises(TypeError, match="conv3d: input must be a floating tensor, got int64"):
        F.conv3d(gn.tensor(np.zeros((1, 2, 4, 4, 4), np.int64)), _t(3, 2, 3, 3, 3))
