"""Conv1d/2d/3d, ConvTranspose1d/2d/3d: PyTorch's parameter names, shapes, init and numbers; clear errors."""

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn as nn
from glassnet.errors import ShapeError

from .helpers import compare, same_names_and_shapes

RNG = np.random.default_rng(0)

CONV2D = [
    ((3, 4, 3), {}),
    ((3, 4, (3, 2)), {"stride": 2, "padding": 1}),
    ((4, 6, 3), {"groups": 2, "dilation": 2, "bias": False}),
    ((3, 2, 3), {"padding": "same", "dilation": (1, 2)}),
    ((3, 2, 2), {"padding": "valid", "stride": (1, 2)}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("args, kwargs", CONV2D, ids=[str(c[1]) for c in CONV2D])
def test_conv2d_matches_pytorch(args, kwargs, dtype):
    torch.manual_seed(0)
    ours, theirs = nn.Conv2d(*args, **kwargs), torch.nn.Conv2d(*args, **kwargs)
    same_names_and_shapes(ours, theirs)
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, [RNG.standard_normal((2, args[0], 9, 8))], dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [{}, {"stride": 2, "padding": 2, "dilation": 2}, {"groups": 3, "bias": False},
                                    {"padding": "same"}])
def test_conv1d_matches_pytorch(kwargs, dtype):
    torch.manual_seed(0)
    ours, theirs = nn.Conv1d(3, 6, 3, **kwargs), torch.nn.Conv1d(3, 6, 3, **kwargs)
    same_names_and_shapes(ours, theirs)
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, [RNG.standard_normal((2, 3, 11))], dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [{}, {"stride": 2, "padding": 1, "output_padding": 1},
                                    {"groups": 2, "dilation": 2, "bias": False}, {"stride": (2, 3)}])
def test_conv_transpose2d_matches_pytorch(kwargs, dtype):
    torch.manual_seed(0)
    ours, theirs = nn.ConvTranspose2d(4, 6, 3, **kwargs), torch.nn.ConvTranspose2d(4, 6, 3, **kwargs)
    same_names_and_shapes(ours, theirs)
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, [RNG.standard_normal((2, 4, 5, 4))], dtype=dtype)


def test_conv_transpose2d_output_size():
    torch.manual_seed(0)
    ours, theirs = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1), torch.nn.ConvTranspose2d(2, 3, 3, stride=2,
                                                                                               padding=1)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = RNG.standard_normal((1, 2, 4, 4)).astype(np.float32)
    y = ours(gn.tensor(x), output_size=(8, 8))
    ty = theirs(torch.tensor(x), output_size=(8, 8))
    assert y.shape == (1, 3, 8, 8)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="output_size"):
        ours(gn.tensor(x), output_size=(12, 12))


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note about its own copy
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [{}, {"stride": (1, 2, 1), "padding": 1, "dilation": (2, 1, 1)},
                                    {"groups": 2, "bias": False}, {"padding": "same"}])
def test_conv3d_matches_pytorch(kwargs, dtype):
    """torch's state_dict loaded into nn.Conv3d gives torch's output and gradients (input and parameters)."""
    torch.manual_seed(0)
    ours, theirs = nn.Conv3d(4, 6, (3, 2, 3), **kwargs), torch.nn.Conv3d(4, 6, (3, 2, 3), **kwargs)
    same_names_and_shapes(ours, theirs)
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, [RNG.standard_normal((2, 4, 5, 6, 5))], dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dims,kwargs", [
    (1, {}), (1, {"stride": 2, "padding": 1, "output_padding": 1}), (1, {"groups": 2, "dilation": 3, "bias": False}),
    (3, {}), (3, {"stride": 2, "padding": 1, "output_padding": 1}), (3, {"groups": 2, "dilation": 2, "bias": False}),
    (3, {"stride": (2, 1, 3), "padding": (0, 1, 1)}),
])
def test_conv_transpose1d_3d_match_pytorch(dims, kwargs, dtype):
    torch.manual_seed(0)
    name = f"ConvTranspose{dims}d"
    ours, theirs = getattr(nn, name)(4, 6, 3, **kwargs), getattr(torch.nn, name)(4, 6, 3, **kwargs)
    same_names_and_shapes(ours, theirs)
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, [RNG.standard_normal((2, 4) + (5, 3, 4)[:dims] if dims == 3 else (2, 4, 7))], dtype=dtype)


def test_conv_transpose3d_output_size():
    torch.manual_seed(0)
    ours, theirs = nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1), torch.nn.ConvTranspose3d(2, 3, 3, stride=2,
                                                                                               padding=1)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = RNG.standard_normal((1, 2, 3, 4, 3)).astype(np.float32)
    for size in [(6, 8, 5), (1, 3, 5, 7, 6)]:  # the spatial sizes alone, or with (N, C) in front
        y, ty = ours(gn.tensor(x), output_size=size), theirs(torch.tensor(x), output_size=size)
        assert y.shape == tuple(ty.shape) == (1, 3) + tuple(size[-3:])
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"output_size \(9, 8, 5\) is not reachable.*dim 2 can be 5 to 6"):
        ours(gn.tensor(x), output_size=(9, 8, 5))
    y = nn.ConvTranspose1d(2, 3, 3, stride=3)(gn.zeros(1, 2, 4), output_size=[12])
    assert y.shape == (1, 3, 12)


def test_conv_default_init_matches_pytorch_statistics():
    torch.manual_seed(0)
    for ours, theirs in [(nn.Conv2d(16, 64, 3), torch.nn.Conv2d(16, 64, 3)),
                         (nn.Conv1d(8, 32, 5), torch.nn.Conv1d(8, 32, 5)),
                         (nn.ConvTranspose2d(64, 16, 3), torch.nn.ConvTranspose2d(64, 16, 3)),
                         (nn.Conv3d(8, 32, 3), torch.nn.Conv3d(8, 32, 3)),
                         (nn.ConvTranspose3d(8, 64, 3), torch.nn.ConvTranspose3d(8, 64, 3)),
                         (nn.ConvTranspose1d(16, 64, 5), torch.nn.ConvTranspose1d(16, 64, 5))]:
        w, tw = ours.weight.detach().numpy(), theirs.weight.detach().numpy()
        assert abs(w.std() / tw.std() - 1) < 0.05
        assert np.abs(w).max() <= np.abs(tw).max() * 1.001 + 1e-7
        b, tb = ours.bias.detach().numpy(), theirs.bias.detach().numpy()
        assert np.abs(b).max() <= 1 / np.sqrt(w[0].size) and abs(np.abs(b).max() / np.abs(tb).max() - 1) < 0.3


def test_conv_errors_name_the_layer_and_shapes():
    conv = nn.Conv2d(1, 32, 3)
    with pytest.raises(ValueError) as info:
        conv(gn.zeros(32, 28, 28))
    msg = str(info.value)
    assert "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1)) got input of shape (32, 28, 28)" in msg
    assert "with 32 channels; expected 1 input channels (N, 1, H, W) or unbatched (1, H, W)" in msg
    assert "read as one unbatched sample (C, H, W), for a batch without a channel dim use x.unsqueeze(1)" in msg
    with pytest.raises(ValueError, match=r"got input of shape \(28, 28\); expected a 4-D input \(N, 1, H, W\) or a "
                                         r"3-D unbatched one \(1, H, W\); for one single-channel sample use "
                                         r"x.unsqueeze\(0\)"):
        conv(gn.zeros(28, 28))
    with pytest.raises(ValueError, match=r"with 3 channels; expected 1 input channels \(N, 1, H, W\)"):
        conv(gn.zeros(8, 3, 28, 28))
    with pytest.raises(ValueError, match=r"kernel \(3, 3\).*larger than the padded input \(2, 2\)"):
        conv(gn.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"expected a 3-D input \(N, 2, L\) or a 2-D unbatched one \(2, L\)"):
        nn.Conv1d(2, 2, 3)(gn.zeros(10))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(NotImplementedError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="output_padding"):
        nn.ConvTranspose2d(3, 4, 3, stride=1, output_padding=1)


def test_conv3d_errors_name_the_layer_and_shapes():
    conv = nn.Conv3d(2, 4, 3, padding=(0, 1, 1))
    with pytest.raises(ValueError, match=r"Conv3d\(2, 4, kernel_size=\(3, 3, 3\).*got input of shape \(8, 8, 8\); "
                                         r"expected a 5-D input \(N, 2, D, H, W\) or a 4-D unbatched one "
                                         r"\(2, D, H, W\)"):
        conv(gn.zeros(8, 8, 8))
    with pytest.raises(ValueError, match=r"with 3 channels; expected 2 input channels \(N, 2, D, H, W\)"):
        conv(gn.zeros(1, 3, 8, 8, 8))
    with pytest.raises(ShapeError, match=r"kernel \(3, 3, 3\).*larger than the padded input \(2, 10, 10\)"):
        conv(gn.zeros(1, 2, 2, 8, 8))
    with pytest.raises(RuntimeError):  # as PyTorch's: ported `except RuntimeError` code catches it
        conv(gn.zeros(1, 2, 2, 8, 8))
    with pytest.raises(ValueError, match=r"ConvTranspose3d: output_padding \(2, 2, 2\) must be smaller"):
        nn.ConvTranspose3d(2, 2, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="ConvTranspose1d: padding must be an int or a tuple"):
        nn.ConvTranspose1d(2, 2, 3, padding="same")
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.ConvTranspose3d(3, 4, 3, groups=2)


def test_3d_cnn_from_pytorch_state_dict():
    """A small volumetric network (Conv3d, MaxPool3d, AvgPool3d, ConvTranspose3d, AdaptiveAvgPool3d): torch's
    state_dict loaded into the glassnet twin gives torch's numbers and gradients."""
    torch.manual_seed(0)

    def build(m):
        return m.Sequential(
            m.Conv3d(1, 4, 3, padding=1), m.ReLU(), m.MaxPool3d(2),
            m.Conv3d(4, 6, (2, 3, 3), padding=(0, 1, 1)), m.Tanh(), m.AvgPool3d(2, stride=1, padding=1),
            m.ConvTranspose3d(6, 3, 2, stride=2), m.AdaptiveAvgPool3d((2, None, 1)), m.Flatten(), m.Linear(36, 5),
        )

    for dtype in (np.float32, np.float64):
        ours, theirs = build(nn), build(torch.nn)
        same_names_and_shapes(ours, theirs)
        compare(ours, theirs, [RNG.standard_normal((2, 1, 6, 4, 5))], dtype=dtype)


def test_cnn_with_batchnorm_from_pytorch_state_dict():
    torch.manual_seed(0)

    def build(m):
        return m.Sequential(
            m.Conv2d(1, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(), m.MaxPool2d(2),
            m.Conv2d(4, 8, 3), m.BatchNorm2d(8), m.ReLU(), m.AdaptiveAvgPool2d((2, 2)),
            m.Flatten(), m.Linear(32, 10),
        )

    ours, theirs = build(nn), build(torch.nn)
    same_names_and_shapes(ours, theirs)
    x = RNG.standard_normal((4, 1, 12, 12))
    theirs.train()
    compare(ours, theirs, [x])  # training mode: batch statistics, running stats updated alike
    ours.eval()
    theirs.eval()
    compare(ours, theirs, [x * 2], load=False)  # evaluation mode: the running statistics just loaded/updated
    theirs.double()
    theirs.train()
    ours.train()
    compare(build(nn), theirs, [x], dtype=np.float64)


def test_plain_convolution_refuses_output_padding():
    import pytest

    from glassnet import nn

    with pytest.raises(TypeError, match="Conv2d: output_padding applies only to transposed"):
        nn.Conv2d(1, 2, 3, output_padding=1)
