"""Unbatched input (C, *spatial) to the convolution and pooling layers and their functional forms, as PyTorch
accepts it: the output is unbatched too, equals torch's (forward, input and weight gradients, float64) and equals
the first row of the batched result; other ranks are refused naming the layer and the shape."""

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn as nn
import glassnet.nn.functional as F
from glassnet.errors import ShapeError

from .helpers import compare

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note about its own copy

RNG = np.random.default_rng(0)
TOL = 1e-10

# (layer, constructor args, keyword args, spatial size of the input)
CONV = [
    ("Conv1d", (3, 4, 3), {}, (9,)),
    ("Conv1d", (4, 6, 3), {"stride": 2, "padding": 2, "dilation": 2, "groups": 2}, (11,)),
    ("Conv2d", (3, 4, 3), {}, (8, 7)),
    ("Conv2d", (2, 4, 2), {"padding": "same", "bias": False}, (6, 5)),
    ("Conv2d", (4, 4, 3), {"stride": (2, 1), "padding": 1, "groups": 4}, (7, 6)),
    ("Conv3d", (2, 3, 2), {"stride": (1, 2, 1)}, (4, 5, 4)),
    ("Conv3d", (2, 2, 3), {"padding": "same", "dilation": (1, 2, 1)}, (4, 5, 3)),
    ("ConvTranspose1d", (3, 2, 3), {"stride": 2, "output_padding": 1}, (5,)),
    ("ConvTranspose2d", (3, 2, 3), {"stride": 2, "padding": 1}, (4, 5)),
    ("ConvTranspose2d", (4, 2, 2), {"groups": 2, "dilation": 2, "bias": False}, (3, 4)),
    ("ConvTranspose3d", (2, 3, 2), {"stride": 2}, (3, 2, 3)),
]
# (layer, args, kwargs, spatial size); return_indices gives (values, indices), both compared
POOL = [
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1, "dilation": 2}, (11,)),
    ("MaxPool1d", (2,), {"return_indices": True, "ceil_mode": True}, (9,)),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1}, (9, 7)),
    ("MaxPool2d", (2,), {"return_indices": True}, (6, 7)),
    ("MaxPool3d", (2,), {"return_indices": True, "stride": (1, 2, 2)}, (4, 5, 4)),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, (10,)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (9, 7)),
    ("AvgPool2d", (2,), {"divisor_override": 3}, (6, 5)),
    ("AvgPool3d", (2,), {}, (4, 5, 4)),
    ("AdaptiveAvgPool1d", (4,), {}, (9,)),
    ("AdaptiveAvgPool2d", ((3, None),), {}, (7, 5)),
    ("AdaptiveAvgPool3d", ((2, 3, 1),), {}, (4, 5, 3)),
    ("AdaptiveMaxPool2d", ((3, 2),), {}, (7, 5)),
    ("AdaptiveMaxPool2d", (3,), {"return_indices": True}, (7, 8)),
    ("AdaptiveMaxPool1d", (4,), {"return_indices": True}, (9,)),
    ("AdaptiveMaxPool3d", ((2, None, 3),), {"return_indices": True}, (4, 5, 7)),
    ("LPPool1d", (2, 3), {"stride": 2}, (10,)),
    ("LPPool2d", (2, (2, 3)), {"stride": 1, "ceil_mode": True}, (6, 7)),
    ("LPPool2d", (float("inf"), 2), {}, (6, 7)),
    ("LPPool3d", (2, 2), {}, (4, 5, 4)),
]


def _ids(cases):
    return [f"{c[0]}{c[1]}{c[2]}" for c in cases]


def _first_row_of_batched(module, x: np.ndarray, g: np.ndarray):
    """The output and input gradient of `module` on the batch (x, other), first row: must equal the unbatched run."""
    batch = np.stack([x, RNG.standard_normal(x.shape)])
    xb = gn.tensor(batch, requires_grad=True)
    yb = module(xb)
    values = yb[0] if isinstance(yb, tuple) else yb
    (values * gn.tensor(np.stack([g, np.zeros_like(g)]))).sum().backward()
    return yb, xb.grad.numpy()[0]


def _unbatched_equals_batched_first_row(module, x: np.ndarray) -> None:
    g = RNG.standard_normal(module(gn.tensor(x))[0].shape if getattr(module, "return_indices", False)
                            else module(gn.tensor(x)).shape)
    xu = gn.tensor(x, requires_grad=True)
    y = module(xu)
    values = y[0] if isinstance(y, tuple) else y
    (values * gn.tensor(g)).sum().backward()
    yb, gb = _first_row_of_batched(module, x, g)
    for a, b in zip(y if isinstance(y, tuple) else (y,), yb if isinstance(yb, tuple) else (yb,)):
        assert a.shape == b.shape[1:]
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy()[0], rtol=TOL, atol=TOL)
    np.testing.assert_allclose(xu.grad.numpy(), gb, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("name, args, kwargs, spatial", CONV, ids=_ids(CONV))
def test_conv_layer_unbatched_matches_torch_and_batched(name, args, kwargs, spatial):
    torch.manual_seed(0)
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    x = RNG.standard_normal((args[0], *spatial))
    y = compare(ours, theirs, [x], dtype=np.float64)  # output, input, weight and bias gradients
    assert y.ndim == x.ndim and y.shape[0] == args[1]
    _unbatched_equals_batched_first_row(ours, x)


def test_the_first_hour_example():
    """The brief's case: one RGB image through Conv2d gives one (C_out, H, W) feature map, as in torch."""
    assert nn.Conv2d(3, 4, 3)(gn.randn(3, 8, 8)).shape == (4, 6, 6)
    assert nn.ConvTranspose2d(3, 4, 3, stride=2)(gn.randn(3, 8, 8)).shape == (4, 17, 17)


@pytest.mark.parametrize("output_size", [(18, 18), (4, 18, 18)])
def test_conv_transpose_output_size_with_unbatched_input(output_size):
    torch.manual_seed(0)
    ours, theirs = nn.ConvTranspose2d(3, 4, 3, stride=2), torch.nn.ConvTranspose2d(3, 4, 3, stride=2)
    x = RNG.standard_normal((3, 8, 8))
    ours.double()
    theirs.double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    y = ours(gn.tensor(x), output_size=output_size)
    ty = theirs(torch.tensor(x), output_size=output_size)
    assert y.shape == tuple(ty.shape) == (4, 18, 18)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=TOL, atol=TOL)
    with pytest.raises(ValueError, match=r"output_size \(30, 18\) is not reachable from input of shape \(3, 8, 8\) "
                                         r"\(dim 1 can be 17 to 18\)"):
        ours(gn.tensor(x), output_size=(30, 18))


@pytest.mark.parametrize("name, args, kwargs, spatial", POOL, ids=_ids(POOL))
def test_pool_layer_unbatched_matches_torch_and_batched(name, args, kwargs, spatial):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    x = RNG.standard_normal((3, *spatial))
    y = compare(ours, theirs, [x], dtype=np.float64)
    values = y[0] if isinstance(y, tuple) else y
    assert values.ndim == x.ndim and values.shape[0] == 3
    if isinstance(y, tuple):
        assert y[1].dtype == np.int64 and y[1].shape == values.shape
    _unbatched_equals_batched_first_row(ours, x)


def test_max_unpool2d_unbatched_matches_torch():
    x = RNG.standard_normal((3, 6, 8))
    y, idx = nn.MaxPool2d(2, return_indices=True)(gn.tensor(x))
    ty, tidx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    compare(nn.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2), [y.detach().numpy(), idx.numpy()], dtype=np.float64,
            grad_inputs=[True, False])
    out = nn.MaxUnpool2d(2)(y, idx, output_size=(7, 9))
    expected = torch.nn.MaxUnpool2d(2)(ty, tidx, output_size=(7, 9)).detach().numpy()
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    batched = nn.MaxUnpool2d(2)(y.unsqueeze(0), idx.unsqueeze(0), output_size=(7, 9))
    np.testing.assert_array_equal(out.detach().numpy(), batched.detach().numpy()[0])


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_unpool_unbatched_matches_torch(nd):
    """MaxUnpool1d/2d/3d of an unbatched (C, *spatial) pooled input, also with overlapping windows (stride 1), where
    one maximum is recorded twice and PyTorch writes it once."""
    for stride in (2, 1):
        x = RNG.standard_normal((3, *(6, 4, 5)[:nd]))
        pool = getattr(torch.nn, f"MaxPool{nd}d")(2, stride=stride, return_indices=True)
        ty, tidx = pool(torch.tensor(x))
        y, idx = getattr(nn, f"MaxPool{nd}d")(2, stride=stride, return_indices=True)(gn.tensor(x))
        np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
        size = x.shape[1:]
        ours, theirs = getattr(nn, f"MaxUnpool{nd}d")(2, stride=stride), getattr(torch.nn, f"MaxUnpool{nd}d")(2, stride)
        assert repr(ours) == repr(theirs)
        yu, tu = gn.tensor(y.detach().numpy(), requires_grad=True), ty.detach().requires_grad_()
        out, tout = ours(yu, idx, output_size=size), theirs(tu, tidx, output_size=size)
        assert out.shape == tuple(tout.shape) == x.shape
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=TOL, atol=TOL)
        g = RNG.standard_normal(x.shape)
        (out * gn.tensor(g)).sum().backward()
        (tout * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(yu.grad.numpy(), tu.grad.numpy(), rtol=TOL, atol=TOL)
        batched = ours(yu.unsqueeze(0), idx.unsqueeze(0), output_size=size)
        np.testing.assert_array_equal(out.detach().numpy(), batched.detach().numpy()[0])


# ----- the functional forms -------------------------------------------------------------------------------------------
FUNCTIONAL = [  # (name, input shape, extra tensor shapes (weight, bias), keyword args)
    ("conv1d", (3, 9), [(4, 3, 3), (4,)], {"stride": 2}),
    ("conv2d", (3, 7, 6), [(4, 3, 3, 2), (4,)], {"padding": 1, "dilation": (1, 2)}),
    ("conv3d", (2, 4, 5, 4), [(4, 1, 2, 2, 2), (4,)], {"groups": 2}),
    ("conv_transpose1d", (3, 5), [(3, 2, 3), (2,)], {"stride": 2, "output_padding": 1}),
    ("conv_transpose2d", (4, 3, 4), [(4, 1, 2, 3)], {"stride": (1, 2), "groups": 2}),
    ("conv_transpose3d", (2, 3, 2, 3), [(2, 3, 2, 2, 2), (3,)], {"stride": 2, "padding": 1}),
    ("max_pool1d", (3, 9), [], {"kernel_size": 3, "stride": 2, "return_indices": True}),
    ("max_pool2d", (3, 7, 6), [], {"kernel_size": 2, "return_indices": True}),
    ("max_pool3d", (2, 4, 5, 4), [], {"kernel_size": 2, "stride": 1, "return_indices": True}),
    ("avg_pool1d", (3, 9), [], {"kernel_size": 3, "padding": 1}),
    ("avg_pool2d", (3, 7, 6), [], {"kernel_size": 2, "ceil_mode": True}),
    ("avg_pool3d", (2, 4, 5, 4), [], {"kernel_size": 2}),
    ("adaptive_avg_pool1d", (3, 9), [], {"output_size": 4}),
    ("adaptive_avg_pool2d", (3, 7, 6), [], {"output_size": (3, 4)}),
    ("adaptive_avg_pool3d", (2, 4, 5, 4), [], {"output_size": 2}),
    ("adaptive_max_pool1d", (3, 9), [], {"output_size": 4, "return_indices": True}),
    ("adaptive_max_pool2d", (3, 7, 6), [], {"output_size": (3, 4), "return_indices": True}),
    ("adaptive_max_pool3d", (2, 4, 5, 4), [], {"output_size": (2, None, 3), "return_indices": True}),
    ("lp_pool1d", (3, 9), [], {"norm_type": 2, "kernel_size": 3, "stride": 2}),
    ("lp_pool2d", (3, 7, 6), [], {"norm_type": 2, "kernel_size": 2, "ceil_mode": True}),
    ("lp_pool3d", (2, 4, 5, 4), [], {"norm_type": 2, "kernel_size": (2, 1, 2)}),
]


@pytest.mark.parametrize("name, shape, others, kwargs", FUNCTIONAL, ids=[c[0] for c in FUNCTIONAL])
def test_functional_unbatched_matches_torch_and_batched(name, shape, others, kwargs):
    arrays = [RNG.standard_normal(shape)] + [RNG.standard_normal(s) for s in others]
    ours = [gn.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = getattr(F, name)(*ours, **kwargs)
    ty = getattr(torch.nn.functional, name)(*theirs, **kwargs)
    ys, tys = (y, ty) if isinstance(y, tuple) else ((y,), (ty,))
    for a, b in zip(ys, tys):
        assert a.shape == tuple(b.shape) and a.ndim == len(shape)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=TOL, atol=TOL)
    g = RNG.standard_normal(ys[0].shape)
    (ys[0] * gn.tensor(g)).sum().backward()
    (tys[0] * torch.tensor(g)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=TOL, atol=TOL)
    batched = getattr(F, name)(gn.tensor(np.stack([arrays[0], arrays[0] + 1])), *ours[1:], **kwargs)
    for a, b in zip(ys, batched if isinstance(batched, tuple) else (batched,)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy()[0], rtol=TOL, atol=TOL)


# ----- what is still refused (as torch refuses it) --------------------------------------------------------------------
REFUSED = [  # (layer, args, kwargs, a refused shape, pieces of the message)
    ("Conv1d", (3, 4, 3), {}, (9,), ["Conv1d(3, 4", "(9,)", "3-D input (N, 3, L) or a 2-D unbatched one (3, L)"]),
    ("Conv1d", (3, 4, 3), {}, (1, 2, 3, 9), ["Conv1d(3, 4", "(1, 2, 3, 9)", "3-D input"]),
    ("Conv2d", (3, 4, 3), {}, (8, 8), ["Conv2d(3, 4", "(8, 8)", "4-D input (N, 3, H, W) or a 3-D unbatched one"]),
    ("Conv2d", (3, 4, 3), {}, (1, 2, 3, 8, 8), ["Conv2d(3, 4", "(1, 2, 3, 8, 8)"]),
    ("Conv2d", (3, 4, 3), {}, (5, 8, 8), ["Conv2d(3, 4", "(5, 8, 8) with 5 channels", "expected 3 input channels",
                                          "read as one unbatched sample (C, H, W)"]),
    ("Conv2d", (1, 4, 3), {}, (8, 28, 28), ["Conv2d(1, 4", "(8, 28, 28) with 8 channels", "x.unsqueeze(1)"]),
    ("Conv2d", (1, 4, 3), {}, (28, 28), ["Conv2d(1, 4", "(28, 28)", "single-channel sample use x.unsqueeze(0)"]),
    ("Conv2d", (3, 4, 3), {}, (3, 2, 8), ["Conv2d(3, 4", "(3, 2, 8)", "larger than the padded input (2, 8)"]),
    ("Conv3d", (2, 4, 3), {}, (8, 8, 8), ["Conv3d(2, 4", "(8, 8, 8)", "5-D input (N, 2, D, H, W) or a 4-D"]),
    ("ConvTranspose1d", (3, 2, 3), {}, (2, 5), ["ConvTranspose1d(3, 2", "(2, 5) with 2 channels"]),
    ("ConvTranspose2d", (3, 2, 3), {}, (8, 8), ["ConvTranspose2d(3, 2", "(8, 8)", "4-D input"]),
    ("ConvTranspose3d", (3, 2, 3), {}, (1, 1, 3, 4, 4, 4), ["ConvTranspose3d(3, 2", "(1, 1, 3, 4, 4, 4)"]),
    ("MaxPool1d", (2,), {}, (8,), ["MaxPool1d(kernel_size=2", "(8,)", "(N, C, L) or (C, L)"]),
    ("MaxPool2d", (2,), {}, (8, 8), ["MaxPool2d(kernel_size=2", "(8, 8)", "(N, C, H, W) or (C, H, W)"]),
    ("MaxPool3d", (2,), {}, (1, 1, 2, 8, 8, 8), ["MaxPool3d(kernel_size=2", "(1, 1, 2, 8, 8, 8)"]),
    ("AvgPool1d", (2,), {}, (1, 2, 3, 8), ["AvgPool1d(kernel_size=(2,)", "(1, 2, 3, 8)"]),
    ("AvgPool2d", (2,), {}, (8, 8), ["AvgPool2d(kernel_size=2", "(8, 8)"]),
    ("AvgPool3d", (2,), {}, (8, 8, 8), ["AvgPool3d(kernel_size=2", "(8, 8, 8)"]),
    ("AdaptiveAvgPool1d", (2,), {}, (8,), ["AdaptiveAvgPool1d(output_size=2)", "(8,)"]),
    ("AdaptiveAvgPool2d", (2,), {}, (8, 8), ["AdaptiveAvgPool2d(output_size=2)", "(8, 8)"]),
    ("AdaptiveAvgPool3d", (2,), {}, (1, 2, 3, 8, 8, 8), ["AdaptiveAvgPool3d(output_size=2)", "(1, 2, 3, 8, 8, 8)"]),
    ("AdaptiveMaxPool1d", (2,), {}, (8,), ["AdaptiveMaxPool1d(output_size=2)", "(8,)"]),
    ("AdaptiveMaxPool3d", (2,), {}, (1, 2, 3, 8, 8, 8), ["AdaptiveMaxPool3d(output_size=2)", "(1, 2, 3, 8, 8, 8)"]),
    ("LPPool1d", (2, 2), {}, (8,), ["LPPool1d(norm_type=2, kernel_size=2", "(8,)", "(N, C, L) or (C, L)"]),
    ("LPPool2d", (2, 2), {}, (1, 2, 3, 8, 8), ["LPPool2d(norm_type=2", "(1, 2, 3, 8, 8)"]),
    ("LPPool3d", (2, 2), {}, (8, 8, 8), ["LPPool3d(norm_type=2", "(8, 8, 8)", "(N, C, D, H, W) or (C, D, H, W)"]),
    ("AdaptiveMaxPool2d", (2,), {}, (8, 8), ["AdaptiveMaxPool2d(output_size=2)", "adaptive_max_pool2d", "(8, 8)",
                                             "4-D or 3-D (unbatched)"]),
]


@pytest.mark.parametrize("name, args, kwargs, shape, pieces", REFUSED, ids=[f"{c[0]}{c[3]}" for c in REFUSED])
def test_other_ranks_are_refused_naming_the_layer_and_shape(name, args, kwargs, shape, pieces):
    with pytest.raises(ShapeError) as info:  # a ValueError and, as torch's, a RuntimeError
        getattr(nn, name)(*args, **kwargs)(gn.zeros(*shape))
    for piece in pieces:
        assert piece in str(info.value), (piece, str(info.value))
    with pytest.raises((RuntimeError, IndexError)):  # torch refuses it too (AvgPool2d with an IndexError)
        getattr(torch.nn, name)(*args, **kwargs)(torch.zeros(*shape))


@pytest.mark.parametrize("call, pieces", [
    (lambda: F.conv2d(gn.zeros(8, 8), gn.zeros(4, 3, 3, 3)), ["conv2d", "4-D or 3-D (unbatched)", "(8, 8)"]),
    (lambda: F.conv1d(gn.zeros(2, 8), gn.zeros(4, 3, 3)), ["conv1d", "input of shape (2, 8) has 2 channels"]),
    (lambda: F.conv_transpose3d(gn.zeros(1, 1, 3, 4, 4, 4), gn.zeros(3, 2, 2, 2, 2)),
     ["conv_transpose3d", "5-D or 4-D (unbatched)", "(1, 1, 3, 4, 4, 4)"]),
    (lambda: F.max_pool2d(gn.zeros(8, 8), 2), ["max_pool2d", "(8, 8)"]),
    (lambda: F.max_unpool2d(gn.zeros(4, 4), gn.zeros(4, 4, dtype=gn.int64), 2),
     ["max_unpool2d", "4-D or 3-D (unbatched)", "(4, 4)"]),
    (lambda: F.max_unpool1d(gn.zeros(1, 2, 3, 4), gn.zeros(1, 2, 3, 4, dtype=gn.int64), 2),
     ["max_unpool1d", "3-D or 2-D (unbatched)", "(1, 2, 3, 4)"]),
    (lambda: F.max_unpool3d(gn.zeros(4, 4, 4), gn.zeros(4, 4, 4, dtype=gn.int64), 2),
     ["max_unpool3d", "5-D or 4-D (unbatched)", "(4, 4, 4)"]),
    (lambda: F.lp_pool2d(gn.zeros(8, 8), 2, 2), ["lp_pool2d", "4-D or 3-D (unbatched)", "(8, 8)"]),
])
def test_functional_refuses_other_ranks(call, pieces):
    with pytest.raises(ValueError) as info:
        call()
    for piece in pieces:
        assert piece in str(info.value), (piece, str(info.value))
