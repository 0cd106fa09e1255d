"""The whole engine on a device that is not the host, proven on a machine without a GPU.

`tests/device_double.py` registers "double": NumPy underneath, but its arrays refuse to mix with host arrays (as
CuPy's do) and count every transfer to the host. Each check runs the same computation on "cpu" and on "double" and
asserts the same numbers, that results stay on the device, and (for a training step) that no value was read back.
"""

from __future__ import annotations

import numpy as np
import pytest
from device_double import HostArrayError, counting_transfers, install
from opinfo import ALL_OPS, as_list, floating, make_arrays

import glassnet as gn

install()
DEV = "testgpu"


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _host(t):
    return None if t is None else t.detach().cpu().numpy()


def _run(op, sample, arrays, device):
    """Outputs, first gradients and second gradients (with respect to inputs and upstream) of one op sample."""
    xs = [gn.tensor(a, requires_grad=op.grad, device=device) for a in arrays]
    with gn.device(device):  # the op's own index and mask tensors (opinfo's _ix) are made on the device as well
        outs = as_list(op.call(gn, *xs, **sample.kwargs))
    for o in outs:
        assert o.device == device, f"{op.name}: an output is on {o.device}, not {device}"
    result = {"out": [_host(o) for o in outs]}
    fouts = [o for o in floating(outs) if o.requires_grad]
    if not op.grad or not fouts:
        return result
    rng = np.random.default_rng(1)
    vs = [gn.tensor(rng.standard_normal(o.shape), dtype=o.dtype, requires_grad=True, device=device) for o in fouts]
    gs = gn.grad(fouts, xs, vs, create_graph=op.gradgrad, allow_unused=True)
    result["grad"] = [_host(g) for g in gs]
    for g in gs:
        assert g is None or g.device == device, f"{op.name}: a gradient is on {g.device}"
    if op.gradgrad:
        ws = [gn.tensor(rng.standard_normal(a.shape), device=device) for a in arrays]
        terms = [(g * w).sum() for g, w in zip(gs, ws) if g is not None and g.requires_grad]
        if terms:
            total = terms[0]
            for t in terms[1:]:
                total = total + t
            second = gn.grad(total, xs + vs, allow_unused=True)
            result["second"] = [_host(g) for g in second]
    return result


def _assert_same(cpu, dev, what):
    assert cpu.keys() == dev.keys(), what
    for key in cpu:
        for k, (a, b) in enumerate(zip(cpu[key], dev[key])):
            assert (a is None) == (b is None), f"{what} {key}[{k}]: None on one device only"
            if a is not None:
                assert a.dtype == b.dtype and a.shape == b.shape, f"{what} {key}[{k}]"
                np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14, err_msg=f"{what} {key}[{k}]")


@pytest.mark.parametrize("op", ALL_OPS, ids=[op.name for op in ALL_OPS])
def test_op_registry_gives_the_same_numbers_on_the_device(op):
    _run_samples(op)


def _run_samples(op):
    # Forward, gradient and second gradient of every sample of every op in the registry, float64 where it applies.
    for sample in op.samples:
        dtype = np.float64 if np.float64 in op.dtypes else op.dtypes[0]  # (bitwise ops take integers only)
        arrays = make_arrays(op, sample, dtype)
        _assert_same(_run(op, sample, arrays, "cpu"), _run(op, sample, arrays, DEV), f"{op.name}[{sample}]")


# ----- the device API ------------------------------------------------------------------------------------------
def test_first_order_paths_the_registry_does_not_reach_give_the_same_numbers_on_the_device():
    # The registry differentiates with create_graph (Tensors); these backward branches run on arrays only:
    # cumprod's O(n) formula with zeros and infinities, slogdet at a singular matrix, sign and abs at NaN.
    inf, nan = float("inf"), float("nan")
    cases = [
        (lambda x: x.cumprod(1), [[2.0, 0.0, inf, 3.0], [1.0, 2.0, 0.0, 0.0], [inf, 0.0, 0.0, inf]]),
        (lambda x: gn.linalg.slogdet(x).logabsdet, [[[1.0, 2.0], [2.0, 4.0]], [[1.0, 2.0], [3.0, 4.0]]]),
        (lambda x: x.logdet(), [[[0.0, 1.0], [1.0, 0.0]], [[2.0, 0.0], [0.0, 3.0]]]),
        (lambda x: x.abs() + x.sign(), [nan, -1.0, 0.0, 2.0]),
    ]
    for fn, values in cases:
        results = []
        for device in ("cpu", DEV):
            x = gn.tensor(values, requires_grad=True, device=device)
            y = fn(x)
            (g,) = gn.grad(y, [x], gn.ones_like(y))
            assert y.device == device and g.device == device
            results.append((_host(y), _host(g)))
        for a, b in zip(*results):
            np.testing.assert_array_equal(b, a)


def test_the_device_object_compares_equal_to_its_string():
    t = gn.ones(2, device=DEV)
    assert t.device == DEV and str(t.device) == DEV and t.device == gn.device(DEV)
    assert gn.ones(2).device == "cpu" and gn.ones(2).device != DEV
    assert gn.device("cuda:1") == "cuda:1" and gn.device("cuda:1") != "cuda:0" and gn.device("cuda:1") == "cuda"
    assert repr(gn.device("cuda:1")) == "device(type='cuda', index=1)"
    with pytest.raises(ValueError, match="unknown device type 'tpu'"):
        gn.device("tpu")


def test_creation_functions_take_device():
    makers = [
        lambda d: gn.tensor([1.0, 2.0], device=d),
        lambda d: gn.zeros(2, 3, device=d),
        lambda d: gn.ones(2, device=d),
        lambda d: gn.full((2,), 3.0, device=d),
        lambda d: gn.arange(4, device=d),
        lambda d: gn.linspace(0, 1, 5, device=d),
        lambda d: gn.eye(3, device=d),
        lambda d: gn.empty(2, device=d),
        lambda d: (gn.manual_seed(0), gn.rand(2, 2, device=d))[1],
        lambda d: (gn.manual_seed(0), gn.randn(3, device=d))[1],
        lambda d: (gn.manual_seed(0), gn.randint(0, 5, (4,), device=d))[1],
        lambda d: gn.zeros_like(gn.ones(2, device=d)),
        lambda d: gn.ones_like(gn.ones(2), device=d),
    ]
    for make in makers:
        on_dev, on_cpu = make(DEV), make("cpu")
        assert on_dev.device == DEV and on_cpu.device == "cpu"
        if "empty" not in repr(make):
            assert on_dev.dtype == on_cpu.dtype and on_dev.shape == on_cpu.shape
    assert gn.zeros_like(gn.ones(2, device=DEV)).device == DEV
    np.testing.assert_array_equal(
        gn.rand(2, 2, device=DEV, generator=gn.Generator(3)).cpu().numpy(),
        gn.rand(2, 2, generator=gn.Generator(3)).numpy(),
    )


def test_to_moves_devices_and_dtypes_and_gradients_flow_back():
    x = gn.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x.to(DEV, gn.float64)
    assert y.device == DEV and y.dtype == gn.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.device == "cpu" and x.grad.tolist() == [2.0, -4.0, 6.0]
    assert x.to("cpu") is x and y.to(DEV) is y
    assert x.to(y).device == DEV  # to(other_tensor): its device and dtype
    assert x.detach().to(device=DEV, dtype=gn.float64).dtype == gn.float64


def test_numpy_is_refused_on_a_device_and_cpu_copies_back():
    t = gn.tensor([1.0, 2.0], device=DEV)
    with pytest.raises(TypeError, match=r"numpy\(\): the tensor is on testgpu; call .cpu\(\) first"):
        t.numpy()
    with pytest.raises(TypeError, match="call .cpu"):
        np.asarray(t)
    assert t.cpu().numpy().tolist() == [1.0, 2.0] and "device='testgpu'" in repr(t)


def test_an_op_on_two_devices_names_the_op_and_the_devices():
    with pytest.raises(RuntimeError, match="Add: expected all tensors on the same device, got testgpu and cpu"):
        gn.ones(2, device=DEV) + gn.ones(2)
    with pytest.raises(RuntimeError, match="MatMul: expected all tensors on the same device, got cpu and testgpu"):
        gn.ones(2, 2) @ gn.ones(2, 2, device=DEV)


def test_the_double_refuses_host_arrays_like_cupy():
    a = gn.ones(2, device=DEV).data
    with pytest.raises(HostArrayError):
        a + np.ones(2)
    with pytest.raises(TypeError, match="implicit conversion"):
        np.asarray(a)


def test_the_double_refuses_the_ufunc_methods_cupy_lacks():
    a = gn.tensor([3.0, 1.0, 2.0], device=DEV).data
    with pytest.raises(TypeError, match="CuPy has no maximum.accumulate"):
        np.maximum.accumulate(a)
    with pytest.raises(TypeError, match="CuPy has no multiply.at"):
        np.multiply.at(a, gn.tensor([0, 0], device=DEV).data, 2.0)
    np.add.at(a, gn.tensor([0, 0], device=DEV).data, 1.0)  # CuPy 13 has these two
    np.cumsum(a)
    assert a.get().tolist() == [5.0, 1.0, 2.0]


_AT_CASES = {  # name -> (ufunc, out, index, values): repeats, negative indices, a trailing dim, broadcasting, ints
    "multiply_repeats": (np.multiply, _rand(5), np.array([1, 3, 1, 1, -1]), _rand(5, seed=1)),
    "multiply_2d_tuple": (
        np.multiply, _rand(3, 4), (np.array([[0, 2], [0, 0]]), np.array([[1], [3]])), _rand(2, 2, seed=1),
    ),
    "multiply_trailing_dim": (np.multiply, _rand(4, 3), np.array([2, 0, 2]), _rand(3, 3, seed=1)),
    "multiply_scalar_value": (np.multiply, _rand(4), np.array([0, 0, 3]), 1.5),
    "multiply_ints": (np.multiply, np.arange(1, 7).reshape(2, 3), (np.array([1, 1, 0]), np.array([2, 2, 2])), 3),
    "divide": (np.divide, _rand(4), np.array([3, 3, 0]), _rand(3, seed=1)),
    "multiply_float32_by_float64": (np.multiply, _rand(4).astype(np.float32), np.array([1, 1, 2]), _rand(3, seed=1)),
    "multiply_float32_by_int": (np.multiply, _rand(4).astype(np.float32), np.array([1, 1, 2]), np.array([3, -2, 5])),
    "maximum": (np.maximum, _rand(4), np.array([3, 3, 0, 1]), _rand(4, seed=1)),
    "empty_index": (np.multiply, _rand(4), np.array([], dtype=np.int64), np.array([])),
}


@pytest.mark.parametrize("case", list(_AT_CASES))
def test_ufunc_at_equals_numpys_on_every_device(case):
    from glassnet import backend

    ufunc, out, index, values = _AT_CASES[case]
    expected = out.copy()
    ufunc.at(expected, index, values)
    host = out.copy()
    backend.ufunc_at(ufunc, host, index, values)  # the CPU: NumPy itself
    np.testing.assert_array_equal(host, expected)
    rounds = out.copy()
    backend.ufunc_at_in_rounds(ufunc, rounds, index, values)  # what a GPU runs where CuPy has no ufunc.at
    assert rounds.dtype == expected.dtype
    np.testing.assert_array_equal(rounds, expected)  # the same order of operations: bit for bit
    dev = lambda a: gn.tensor(a, device=DEV).data if isinstance(a, np.ndarray) else a  # noqa: E731
    on_device = dev(out.copy())
    backend.ufunc_at(ufunc, on_device, tuple(map(dev, index)) if isinstance(index, tuple) else dev(index), dev(values))
    np.testing.assert_array_equal(on_device.get(), expected)


@pytest.mark.parametrize("ufunc", [np.maximum, np.minimum, np.logaddexp, np.add, np.multiply])
@pytest.mark.parametrize("shape_axis", [((7,), 0), ((3, 5), 1), ((4, 3, 2), 0), ((2, 0), 1), ((2, 1), 1)])
def test_accumulate_equals_numpys_on_every_device(ufunc, shape_axis):
    from glassnet import backend

    shape, axis = shape_axis
    x = _rand(*shape)
    x.reshape(-1)[::3] = np.nan if x.size > 3 else 0.0  # NaN spreads the same way
    expected = ufunc.accumulate(x, axis=axis)
    np.testing.assert_array_equal(backend.accumulate(ufunc, x, axis), expected)  # the CPU: NumPy itself
    doubled = backend.accumulate_by_doubling(ufunc, x, axis)  # what a GPU runs where CuPy has no accumulate
    if ufunc in (np.maximum, np.minimum):
        np.testing.assert_array_equal(doubled, expected)  # max and min are exact in any grouping
    else:
        np.testing.assert_allclose(doubled, expected, rtol=1e-13)
    on_device = backend.accumulate(ufunc, gn.tensor(x, device=DEV).data, axis)
    np.testing.assert_allclose(on_device.get(), expected, rtol=1e-13)
    ints = np.arange(1, x.size + 1).reshape(shape) % 5
    running_max = backend.accumulate_by_doubling(np.maximum, ints, axis)
    np.testing.assert_array_equal(running_max, np.maximum.accumulate(ints, axis))


def test_cuda_without_cupy_says_what_is_missing_and_names_the_gpu_extra():
    try:
        import cupy  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("CuPy is installed here")
    for attempt in (lambda: gn.ones(2).cuda(), lambda: gn.ones(2, device="cuda"), lambda: gn.nn.Linear(2, 2).cuda()):
        with pytest.raises(RuntimeError, match=r"CUDA needs CuPy, which is not installed: pip install 'glassnet\[gpu"):
            attempt()
    assert gn.cuda.is_available() is False and gn.cuda.device_count() == 0
    gn.cuda.synchronize()  # nothing to wait for


# ----- nn layers ------------------------------------------------------------------------------------------------
_LAYERS = {  # name -> (make the layer, its inputs as host arrays or ints); float64 throughout
    "Linear": (lambda: gn.nn.Linear(4, 3), [_rand(2, 4)]),
    "Bilinear": (lambda: gn.nn.Bilinear(3, 4, 2), [_rand(2, 3), _rand(2, 4, seed=1)]),
    "Conv1d": (lambda: gn.nn.Conv1d(2, 3, 3, padding=1), [_rand(2, 2, 6)]),
    "Conv2d": (lambda: gn.nn.Conv2d(2, 3, 3, stride=2, padding=1, groups=1), [_rand(2, 2, 6, 6)]),
    "Conv2d_groups": (lambda: gn.nn.Conv2d(4, 4, 3, groups=2, dilation=2), [_rand(1, 4, 7, 7)]),
    "ConvTranspose2d": (lambda: gn.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1), [_rand(1, 2, 4, 4)]),
    "MaxPool1d": (lambda: gn.nn.MaxPool1d(2), [_rand(2, 3, 8)]),
    "MaxPool2d": (lambda: gn.nn.MaxPool2d(3, stride=2, padding=1), [_rand(2, 3, 7, 7)]),
    "AvgPool1d": (lambda: gn.nn.AvgPool1d(3, stride=2, padding=1), [_rand(2, 3, 8)]),
    "AvgPool2d": (lambda: gn.nn.AvgPool2d(2), [_rand(2, 3, 6, 6)]),
    "AdaptiveAvgPool2d": (lambda: gn.nn.AdaptiveAvgPool2d((3, 2)), [_rand(2, 3, 7, 5)]),
    "Conv3d_ConvTranspose3d": (
        lambda: gn.nn.Sequential(gn.nn.Conv3d(2, 4, 3, padding=1, groups=2), gn.nn.ConvTranspose3d(4, 2, 2, stride=2)),
        [_rand(1, 2, 3, 4, 3)],
    ),
    "ConvTranspose1d": (lambda: gn.nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1), [_rand(2, 2, 5)]),
    "Pool3d": (lambda: gn.nn.Sequential(gn.nn.MaxPool3d(2, ceil_mode=True), gn.nn.AvgPool3d(2, stride=1, padding=1),
                                        gn.nn.AdaptiveAvgPool3d((2, None, 1))), [_rand(2, 3, 5, 4, 5)]),
    "BatchNorm1d": (lambda: gn.nn.BatchNorm1d(3), [_rand(4, 3)]),
    "BatchNorm2d": (lambda: gn.nn.BatchNorm2d(3), [_rand(4, 3, 2, 2)]),
    "LayerNorm": (lambda: gn.nn.LayerNorm(5), [_rand(2, 3, 5)]),
    "GroupNorm": (lambda: gn.nn.GroupNorm(2, 4), [_rand(2, 4, 3)]),
    "Dropout": (lambda: gn.nn.Dropout(0.3), [_rand(4, 5)]),
    "Dropout2d": (lambda: gn.nn.Dropout2d(0.5), [_rand(2, 4, 3, 3)]),
    "Embedding": (lambda: gn.nn.Embedding(10, 4, padding_idx=0), [np.array([[1, 2, 0], [9, 2, 2]])]),
    "RNNCell": (lambda: gn.nn.RNNCell(3, 4), [_rand(2, 3)]),
    "LSTMCell": (lambda: gn.nn.LSTMCell(3, 4), [_rand(2, 3)]),
    "GRUCell": (lambda: gn.nn.GRUCell(3, 4), [_rand(2, 3)]),
    "RNN": (lambda: gn.nn.RNN(3, 4, num_layers=2), [_rand(5, 2, 3)]),
    "LSTM": (lambda: gn.nn.LSTM(3, 4, batch_first=True, bidirectional=True), [_rand(2, 5, 3)]),
    "GRU": (lambda: gn.nn.GRU(3, 4), [_rand(5, 2, 3)]),
    "MultiheadAttention": (lambda: gn.nn.MultiheadAttention(8, 2, batch_first=True), [_rand(2, 5, 8)] * 3),
    "TransformerEncoderLayer": (
        lambda: gn.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1, batch_first=True),
        [_rand(2, 5, 8)],
    ),
    "Transformer": (
        lambda: gn.nn.Transformer(8, 2, 1, 1, dim_feedforward=16, dropout=0.0, batch_first=True),
        [_rand(2, 5, 8), _rand(2, 4, 8, seed=1)],
    ),
    "SinusoidalPositionalEncoding": (lambda: gn.nn.SinusoidalPositionalEncoding(8, 20), [_rand(6, 2, 8)]),
    "LearnedPositionalEmbedding": (lambda: gn.nn.LearnedPositionalEmbedding(20, 8), [_rand(6, 2, 8)]),
    "Activations": (
        lambda: gn.nn.Sequential(
            gn.nn.ReLU(),
            gn.nn.LeakyReLU(0.1),
            gn.nn.ELU(),
            gn.nn.SELU(),
            gn.nn.GELU(),
            gn.nn.SiLU(),
            gn.nn.Softplus(),
            gn.nn.Hardtanh(),
            gn.nn.Sigmoid(),
            gn.nn.Tanh(),
            gn.nn.Softmax(-1),
            gn.nn.LogSoftmax(-1),
        ),
        [_rand(3, 4)],
    ),
    "Flatten_Unflatten_Identity": (
        lambda: gn.nn.Sequential(gn.nn.Flatten(), gn.nn.Unflatten(1, (2, 6)), gn.nn.Identity()),
        [_rand(3, 3, 4)],
    ),
    "CosineSimilarity": (lambda: gn.nn.CosineSimilarity(dim=1), [_rand(3, 4), _rand(3, 4, seed=1)]),
    # more layers and functions, so that none of them reads values back or builds host arrays unnoticed
    "AdaptiveMaxPool2d": (lambda: gn.nn.AdaptiveMaxPool2d((3, 2)), [_rand(2, 3, 7, 5)]),
    "MaxPool2d_MaxUnpool2d": (
        lambda: _Fn(lambda x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2)),
        [_rand(2, 3, 6, 6)],
    ),
    "AdaptiveMaxPool1d_indices": (
        lambda: _Fn(lambda x: F.adaptive_max_pool1d(x, 3, return_indices=True)),
        [_rand(2, 3, 8)],
    ),
    "MoreActivations": (
        lambda: gn.nn.Sequential(
            gn.nn.CELU(),
            gn.nn.Hardshrink(0.1),
            gn.nn.Hardsigmoid(),
            gn.nn.Hardswish(),
            gn.nn.LogSigmoid(),
            gn.nn.Mish(),
            gn.nn.ReLU6(),
            gn.nn.Softmin(-1),
            gn.nn.Softshrink(0.01),
            gn.nn.Softsign(),
            gn.nn.Tanhshrink(),
            gn.nn.Threshold(-1.0, 0.5),
        ),
        [_rand(3, 4)],
    ),
    "GLU": (lambda: gn.nn.GLU(), [_rand(3, 4)]),
    "RReLU": (lambda: gn.nn.RReLU(), [_rand(3, 4)]),
    "PixelShuffle_Unshuffle": (
        lambda: gn.nn.Sequential(gn.nn.PixelShuffle(2), gn.nn.PixelUnshuffle(2)),
        [_rand(1, 8, 3, 3)],
    ),
    "Upsample_bilinear": (lambda: gn.nn.Upsample(scale_factor=2, mode="bilinear"), [_rand(2, 3, 4, 5)]),
    "UpsamplingNearest2d": (lambda: gn.nn.UpsamplingNearest2d(scale_factor=2), [_rand(2, 3, 4, 5)]),
    "UpsamplingBilinear2d": (lambda: gn.nn.UpsamplingBilinear2d(size=(6, 7)), [_rand(2, 3, 4, 5)]),
    "TransformerDecoder": (
        lambda: gn.nn.TransformerDecoder(gn.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 2),
        [_rand(2, 4, 8), _rand(2, 5, 8, seed=1)],
    ),
    "TransformerEncoder_causal": (
        lambda: gn.nn.TransformerEncoder(gn.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 1),
        [_rand(2, 5, 8), None, np.array([[False] * 5, [False, False, False, True, True]]), True],
    ),
    "MultiheadAttention_masks": (
        lambda: gn.nn.MultiheadAttention(8, 2, batch_first=True),
        [_rand(2, 5, 8)] * 3 + [np.array([[False] * 5, [False] * 4 + [True]]), True, np.tri(5, k=0) == 0],
    ),
    "sdpa_causal": (lambda: _Fn(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
                    [_rand(2, 4, 3), _rand(2, 4, 3, seed=1), _rand(2, 4, 5, seed=2)]),
    "Embedding_max_norm_freq": (
        lambda: gn.nn.Embedding(10, 4, max_norm=1.0, scale_grad_by_freq=True),
        [np.array([[1, 2, 1], [9, 2, 2]])],
    ),
    "fold_unfold": (
        lambda: _Fn(lambda x: F.fold(F.unfold(x, 2, padding=1), (5, 4), 2, padding=1)),
        [_rand(2, 3, 5, 4)],
    ),
    "pad_modes": (
        lambda: _Fn(lambda x: F.pad(F.pad(F.pad(x, (1, 2), "reflect"), (2, 1), "replicate"), (1, 1), "circular")),
        [_rand(2, 3, 5)],
    ),
    "dropout1d": (lambda: _Fn(lambda x: F.dropout1d(x, 0.5)), [_rand(2, 4, 3)]),
}
_LOSSES = {
    "CrossEntropyLoss": (lambda: gn.nn.CrossEntropyLoss(label_smoothing=0.1), [_rand(4, 5), np.array([0, 4, 2, 1])]),
    "CrossEntropyLoss_weight_ignore": (
        lambda: gn.nn.CrossEntropyLoss(weight=gn.tensor(np.arange(1.0, 6.0)), ignore_index=2),
        [_rand(4, 5), np.array([0, 4, 2, 1])],
    ),
    "NLLLoss": (lambda: gn.nn.NLLLoss(), [_rand(4, 5), np.array([0, 4, 2, 1])]),
    "MSELoss": (lambda: gn.nn.MSELoss(), [_rand(4, 5), _rand(4, 5, seed=1)]),
    "L1Loss": (lambda: gn.nn.L1Loss(), [_rand(4, 5), _rand(4, 5, seed=1)]),
    "SmoothL1Loss": (lambda: gn.nn.SmoothL1Loss(), [_rand(4, 5), _rand(4, 5, seed=1)]),
    "HuberLoss": (lambda: gn.nn.HuberLoss(delta=0.5), [_rand(4, 5), _rand(4, 5, seed=1)]),
    "BCELoss": (lambda: gn.nn.BCELoss(), [1 / (1 + np.exp(-_rand(4, 5))), (_rand(4, 5, seed=1) > 0) * 1.0]),
    "BCEWithLogitsLoss": (
        lambda: gn.nn.BCEWithLogitsLoss(pos_weight=gn.tensor(np.full(5, 2.0))),
        [_rand(4, 5), (_rand(4, 5, seed=1) > 0) * 1.0],
    ),
    "KLDivLoss": (lambda: gn.nn.KLDivLoss(reduction="batchmean"), [_rand(4, 5), np.full((4, 5), 0.2)]),
    "CrossEntropyLoss_probabilities": (lambda: gn.nn.CrossEntropyLoss(), [_rand(4, 5), np.full((4, 5), 0.2)]),
    "GaussianNLLLoss": (lambda: gn.nn.GaussianNLLLoss(), [_rand(4, 5), _rand(4, 5, seed=1), np.full((4, 5), 0.5)]),
    "HingeEmbeddingLoss": (lambda: gn.nn.HingeEmbeddingLoss(), [_rand(4, 5), np.sign(_rand(4, 5, seed=1))]),
    "MarginRankingLoss": (
        lambda: gn.nn.MarginRankingLoss(0.1),
        [_rand(6), _rand(6, seed=1), np.sign(_rand(6, seed=2))],
    ),
    "MultiLabelSoftMarginLoss": (
        lambda: gn.nn.MultiLabelSoftMarginLoss(),
        [_rand(4, 5), (_rand(4, 5, seed=1) > 0) * 1.0],
    ),
    "PoissonNLLLoss": (lambda: gn.nn.PoissonNLLLoss(), [_rand(4, 5), np.abs(_rand(4, 5, seed=1))]),
    "SoftMarginLoss": (lambda: gn.nn.SoftMarginLoss(), [_rand(4, 5), np.sign(_rand(4, 5, seed=1))]),
    "TripletMarginLoss": (lambda: gn.nn.TripletMarginLoss(), [_rand(4, 5), _rand(4, 5, seed=1), _rand(4, 5, seed=2)]),
}


class _Fn(gn.nn.Module):
    """A function as a layer, so that `_layer_run` can run it on both devices."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *inputs):
        return self.fn(*inputs)


F = gn.nn.functional


def _layer_run(make, arrays, device):
    gn.manual_seed(0)
    layer = make().double().to(device)
    inputs = [
        gn.tensor(a, device=device, requires_grad=a.dtype.kind == "f") if isinstance(a, np.ndarray) else a
        for a in arrays
    ]
    gn.manual_seed(1)  # dropout draws the same masks on both devices
    out = layer(*inputs)
    while isinstance(out, tuple):  # (output, state) of recurrent layers, (output, weights) of attention
        out = out[0]
    assert out.device == device
    rng = np.random.default_rng(2)
    (out * gn.tensor(rng.standard_normal(out.shape), device=device)).sum().backward()
    grads = [_host(t.grad) for t in inputs if isinstance(t, gn.Tensor) and t.requires_grad]
    params = {n: (_host(p), _host(p.grad)) for n, p in layer.named_parameters()}
    buffers = {n: _host(b) for n, b in layer.named_buffers()}
    for p in layer.parameters():
        assert p.device == device and (p.grad is None or p.grad.device == device)
    return {
        "out": [_host(out)],
        "grads": grads,
        "params": [v for pair in params.values() for v in pair],
        "buffers": list(buffers.values()),
    }


@pytest.mark.parametrize("name", list(_LAYERS) + list(_LOSSES))
def test_every_nn_layer_and_loss_gives_the_same_numbers_on_the_device(name):
    make, arrays = {**_LAYERS, **_LOSSES}[name]
    _assert_same(_layer_run(make, arrays, "cpu"), _layer_run(make, arrays, DEV), name)


# ----- optimisers, schedulers, training ---------------------------------------------------------------------------
_OPTIMISERS = {
    "SGD": lambda p: gn.optim.SGD(p, lr=0.1),
    "SGD_momentum": lambda p: gn.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
    "Adam": lambda p: gn.optim.Adam(p, lr=0.01, amsgrad=True),
    "AdamW": lambda p: gn.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    "RMSprop": lambda p: gn.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "Adagrad": lambda p: gn.optim.Adagrad(p, lr=0.1),
    "ASGD": lambda p: gn.optim.ASGD(p, lr=0.01),
    "Adadelta": lambda p: gn.optim.Adadelta(p),
    "Adamax": lambda p: gn.optim.Adamax(p, lr=0.01),
    "NAdam": lambda p: gn.optim.NAdam(p, lr=0.01),
    "RAdam": lambda p: gn.optim.RAdam(p, lr=0.01),
}


def _optimise(make_opt, device, steps=3):
    gn.manual_seed(0)
    net = gn.nn.Sequential(gn.nn.Linear(4, 8), gn.nn.Tanh(), gn.nn.Linear(8, 2)).double().to(device)
    opt = make_opt(net.parameters())
    sched = gn.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=steps, cycle_momentum=False)
    x = gn.tensor(_rand(5, 4), device=device)
    for _ in range(steps):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        gn.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
    for state in opt.state.values():
        for value in state.values():
            if isinstance(value, gn.Tensor):
                assert value.device == device  # optimiser state lives where its parameter lives
    return {"params": [_host(p) for p in net.parameters()]}


@pytest.mark.parametrize("name", list(_OPTIMISERS))
def test_optimisers_and_schedulers_give_the_same_numbers_on_the_device(name):
    _assert_same(_optimise(_OPTIMISERS[name], "cpu"), _optimise(_OPTIMISERS[name], DEV), name)


def _lenet_step(device):
    gn.manual_seed(0)
    model = gn.models.LeNet5().to(device)
    opt = gn.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = gn.nn.CrossEntropyLoss()
    x = gn.tensor(_rand(8, 1, 28, 28).astype(np.float32), device=device)
    y = gn.tensor(np.arange(8) % 10, device=device)
    return model, opt, loss_fn, x, y


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_gives_the_same_numbers_on_the_device_with_a_parameter_that_has_no_gradient(line_search):
    def run(device):
        gn.manual_seed(0)
        net = gn.nn.Sequential(gn.nn.Linear(4, 8), gn.nn.Tanh(), gn.nn.Linear(8, 2)).double().to(device)
        unused = gn.nn.Linear(2, 2).double().to(device)  # its gradient stays None: LBFGS fills in zeros
        opt = gn.optim.LBFGS(list(net.parameters()) + list(unused.parameters()), lr=0.5, max_iter=4,
                             line_search_fn=line_search)
        x = gn.tensor(_rand(5, 4), device=device)

        def closure():
            opt.zero_grad()
            loss = net(x).pow(2).mean()
            loss.backward()
            return loss

        for _ in range(2):
            opt.step(closure)
        return {"params": [_host(p) for p in net.parameters()]}

    _assert_same(run("cpu"), run(DEV), "LBFGS")


def test_new_tensors_are_made_on_the_device_of_their_input():
    x = gn.tensor([1.0, 2.0], device=DEV)
    made = [x.new_zeros(2, 3), x.new_ones(2), x.new_empty(3), x.new_full((2,), 4.0), x.new_tensor([5, 6])]
    for t in made:
        assert t.device == DEV
    assert made[4].dtype == x.dtype and made[4].cpu().tolist() == [5.0, 6.0]
    copy = x.new_tensor(x)
    copy.data[0] = 9.0  # a copy, not a view
    assert x.cpu().tolist() == [1.0, 2.0] and x.new_tensor(x).device == DEV
    assert x.new_zeros(2, device="cpu").device == "cpu" and gn.ones(2).new_ones(2, device=DEV).device == DEV
    assert gn.ones(2).new_tensor([1]).device == "cpu"


def test_a_gan_draws_its_noise_and_gradient_penalty_on_its_device():
    from glassnet.train.gan import gradient_penalty

    def run(device):
        gn.manual_seed(0)
        gan = gn.models.GAN(gn.models.MLPGenerator(latent_dim=2, hidden=8), gn.models.MLPDiscriminator(hidden=8))
        gan = gan.to(device)
        z = gan.noise(4)
        assert z.device == device and gan.sample(3).device == device
        real = gn.tensor(_rand(4, 2).astype(np.float32), device=device)
        penalty = gradient_penalty(gan.discriminator, real, gan(z).detach())
        assert penalty.device == device
        return {"out": [_host(z), _host(penalty)]}

    _assert_same(run("cpu"), run(DEV), "GAN")


def test_a_training_step_makes_no_host_transfer():
    model, opt, loss_fn, x, y = _lenet_step(DEV)
    for step in range(2):  # the second step also updates the momentum buffers the first one made
        with counting_transfers() as seen:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        assert seen.count == 0, f"step {step} read values back to the host: {seen.where}"
    with counting_transfers() as seen:
        loss.item()  # asking for the value is the one transfer
    assert seen.count == 1


_IDS = np.random.default_rng(0).integers(0, 11, (2, 6))
_STEPS = {  # name -> (make the model, its loss from the model and a device); float64
    "GPT": (
        lambda: gn.models.GPT(11, 8, n_layer=1, n_head=2, d_model=8),
        lambda m, d: m(gn.tensor(_IDS, device=d), gn.tensor(_IDS, device=d))[1],
    ),
    "BertModel_padding_mask": (
        lambda: gn.models.BertModel(gn.models.BertConfig(
            vocab_size=11, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
            max_position_embeddings=8, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)),
        lambda m, d: m(gn.tensor(_IDS, device=d), attention_mask=gn.tensor((_IDS > 0) * 1, device=d)).pow(2).mean(),
    ),
    "CharRNN_GRU": (
        lambda: gn.models.CharRNN(11, 4, 8, cell="gru"),
        lambda m, d: gn.nn.functional.cross_entropy(
            m(gn.tensor(_IDS, device=d))[0].reshape(-1, 11), gn.tensor(_IDS.reshape(-1), device=d)
        ),
    ),
    "CrossEntropyLoss_weight_label_smoothing": (
        lambda: gn.nn.Linear(4, 3),
        lambda m, d: gn.nn.CrossEntropyLoss(weight=gn.tensor([1.0, 2.0, 0.5], device=d).double(), label_smoothing=0.1)(
            m(gn.tensor(_rand(5, 4), device=d)), gn.tensor(np.array([0, 1, 2, 1, 0]), device=d)
        ),
    ),
    "Embedding_BCELoss": (
        lambda: gn.nn.Sequential(gn.nn.Embedding(11, 4), gn.nn.Flatten(), gn.nn.Linear(24, 1), gn.nn.Sigmoid()),
        lambda m, d: gn.nn.BCELoss()(m(gn.tensor(_IDS, device=d)), gn.tensor(np.array([[1.0], [0.0]]), device=d)),
    ),
}


@pytest.mark.parametrize("name", list(_STEPS))
def test_models_train_on_the_device_with_the_same_numbers_and_no_host_transfer(name):
    make, loss_of = _STEPS[name]

    def run(device):
        gn.manual_seed(0)
        model = make().double().to(device)
        opt = gn.optim.AdamW(model.parameters(), lr=1e-2)
        for _ in range(2):
            with counting_transfers() as seen:
                opt.zero_grad()
                loss_of(model, device).backward()
                opt.step()
            assert device == "cpu" or seen.count == 0, f"{name} read values back to the host: {seen.where}"
        return {"params": [_host(p) for p in model.parameters()]}

    _assert_same(run("cpu"), run(DEV), name)


def test_gpt_generates_the_same_tokens_on_the_device():
    def run(device):
        gn.manual_seed(0)
        model = gn.models.GPT(11, 4, n_layer=1, n_head=2, d_model=8).to(device)
        out = model.generate(gn.tensor(_IDS[:, :3], device=device), 5, temperature=0)  # greedy: no sampling
        assert out.device == device
        return out.cpu().numpy()

    np.testing.assert_array_equal(run(DEV), run("cpu"))


def test_trainer_fits_one_epoch_with_checkpoint_and_resume_on_the_device(tmp_path):
    from glassnet.train import Trainer

    def run(device, folder, epochs, resume=False):
        gn.manual_seed(0)
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((40, 4)).astype(np.float32), rng.integers(0, 3, 40)
        data = [(gn.tensor(x[i : i + 8]), gn.tensor(y[i : i + 8])) for i in range(0, 40, 8)]
        model = gn.nn.Sequential(gn.nn.Linear(4, 16), gn.nn.ReLU(), gn.nn.Dropout(0.2), gn.nn.Linear(16, 3))
        opt = gn.optim.Adam(model.parameters(), lr=0.01)
        sched = gn.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
        trainer = Trainer(
            model, gn.nn.CrossEntropyLoss(), opt, metrics=["accuracy"], scheduler=sched, run_dir=folder, device=device
        )
        history = trainer.fit(data, epochs, val_loader=data[:2], resume_from=folder if resume else None)
        for p in model.parameters():
            assert p.device == device
        return {"params": [_host(p) for p in model.parameters()]}, history

    cpu, cpu_history = run("cpu", tmp_path / "cpu", 2)
    run(DEV, tmp_path / "dev", 1)  # one epoch, checkpointed on the device ...
    dev, dev_history = run(DEV, tmp_path / "dev", 2, resume=True)  # ... resumed for the second
    _assert_same(cpu, dev, "Trainer.fit")
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(dev_history[key], cpu_history[key], rtol=1e-6)


def test_save_from_the_device_and_load_with_map_location(tmp_path):
    net = gn.nn.Linear(3, 2).to(DEV)
    gn.save(net.state_dict(), tmp_path / "w.safetensors")
    host = gn.load(tmp_path / "w.safetensors")
    on_dev = gn.load(tmp_path / "w.safetensors", map_location=DEV)
    assert host["weight"].device == "cpu" and on_dev["weight"].device == DEV
    np.testing.assert_array_equal(on_dev["weight"].cpu().numpy(), net.weight.detach().cpu().numpy())
    fresh = gn.nn.Linear(3, 2).to(DEV)
    fresh.load_state_dict(host)  # host values copied into device parameters
    assert fresh.weight.device == DEV
    np.testing.assert_array_equal(fresh.weight.detach().cpu().numpy(), host["weight"].numpy())


# ----- lens, ONNX export, the tour --------------------------------------------------------------------------------
def _small_cnn(device):
    gn.manual_seed(0)
    model = gn.nn.Sequential(
        gn.nn.Conv2d(1, 4, 3, padding=1), gn.nn.ReLU(), gn.nn.MaxPool2d(2), gn.nn.Flatten(), gn.nn.Linear(4 * 4 * 4, 3)
    ).double()
    return model.to(device)


def test_lens_trace_saliency_grad_cam_and_recorder_give_the_same_numbers_on_the_device():
    from glassnet.lens import Recorder, grad_cam, saliency, trace

    x = _rand(2, 1, 8, 8)
    results = {}
    for device in ("cpu", DEV):
        model = _small_cnn(device)
        loss = model(gn.tensor(x, device=device)).sum()
        steps = trace(loss, model=model)
        assert all(s.upstream is not None for s in steps)
        out = {
            "trace": [steps.grad(p) for p in model.parameters()],
            "saliency": [saliency(model, gn.tensor(x, device=device), target=1)],
            "grad_cam": [grad_cam(model, model[0], gn.tensor(x, device=device))],
        }
        opt = gn.optim.SGD(model.parameters(), lr=0.1)
        rec = Recorder(every=1).attach(model, opt)
        for _ in range(2):
            opt.zero_grad()
            loss = model(gn.tensor(x, device=device)).pow(2).mean()
            loss.backward()
            rec.record_loss(loss)
            opt.step()
        acts = rec.recording.records[-1]["activations"]
        out["recorder"] = [np.array([acts[k][s] for k in sorted(acts) for s in ("mean", "std")])]
        results[device] = out
    _assert_same(results["cpu"], results[DEV], "lens")


def test_lens_attention_maps_gradcheck_view_and_graph_labels_read_device_values_explicitly():
    from glassnet.lens import capture_attention, draw_graph, gradcheck_view
    from glassnet.lens.graph import _numbers

    results = {}
    for device in ("cpu", DEV):
        gn.manual_seed(0)
        layer = gn.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).double().to(device)
        with capture_attention(layer) as maps:
            layer(gn.tensor(_rand(2, 5, 8), device=device))
        net = gn.nn.Sequential(gn.nn.Linear(3, 4), gn.nn.Tanh(), gn.nn.Linear(4, 1)).double().to(device)
        report = gradcheck_view(net, gn.nn.MSELoss(), gn.tensor(_rand(2, 3), device=device),
                                gn.tensor(_rand(2, 1, seed=1), device=device))
        assert all(row.passed for row in report.rows)
        out = net(gn.tensor(_rand(2, 3), device=device)).sum()
        results[device] = {
            "attention": [w for ws in maps.values() for w in ws],
            "gradcheck": [np.array([(row.analytic_norm, row.numeric_norm) for row in report.rows])],
            "labels": [_numbers(out.data), _numbers(net[0].weight.data)],
        }
        try:
            import graphviz  # noqa: F401
        except ImportError:
            continue
        draw_graph(out, model=net)  # the labels read the device values with one explicit copy each
    cpu, dev = results["cpu"], results[DEV]
    assert cpu.pop("labels") == dev.pop("labels")
    _assert_same(cpu, dev, "lens")


def test_onnx_export_of_a_device_model_writes_the_cpu_file(tmp_path):
    from needs import need_module

    need_module("onnx", "pip install 'glassnet[onnx]'")
    x = _rand(2, 1, 8, 8)
    paths = [gn.onnx.export(_small_cnn(d), gn.tensor(x, device=d), tmp_path / f"{d}.onnx") for d in ("cpu", DEV)]
    assert paths[0].read_bytes() == paths[1].read_bytes()


def _close(a, b, where="result"):
    """Nested results agree: numbers to float32 precision, everything else exactly."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{where}[{i}]")
    elif isinstance(a, (float, np.floating)):
        assert np.isclose(a, b, rtol=1e-5, atol=1e-6), f"{where}: {a} != {b}"
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=where)
    elif hasattr(a, "savefig"):  # a picture: drawn on the host from the numbers compared above
        assert type(a) is type(b), where
    elif isinstance(a, gn.Tensor):
        np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)
    elif isinstance(a, str) and a != b:  # rendered numbers (tables): compare them as numbers
        words_a, words_b = a.split(), b.split()
        assert len(words_a) == len(words_b), f"{where}: {a!r} != {b!r}"
        for u, v in zip(words_a, words_b):
            try:
                assert np.isclose(float(u), float(v), rtol=1e-5, atol=0.011), f"{where}: {a!r} != {b!r}"
            except ValueError:
                assert u == v, f"{where}: {a!r} != {b!r}"
    elif not isinstance(a, str):
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.mark.parametrize(
    "chapter", ["ch01_neuron", "ch02_forward", "ch03_loss", "ch04_backprop", "ch05_optimizers", "ch06_cnn"]
)
def test_tour_chapters_one_to_six_give_the_same_numbers_on_the_device(chapter):
    import importlib

    run = importlib.import_module(f"glassnet.tour.{chapter}").run
    gn.manual_seed(0)
    on_cpu = run(quick=True, say=lambda text: None)
    gn.manual_seed(0)
    with gn.device(DEV):  # every tensor the chapter makes goes to the device
        on_dev = run(quick=True, say=lambda text: None)
    _close(on_cpu, on_dev)


def test_with_device_sets_where_factories_put_tensors_in_this_thread_only():
    import threading

    seen = {}
    with gn.device(DEV):
        assert gn.zeros(2).device == DEV and gn.tensor([1.0]).device == DEV and gn.nn.Linear(2, 2).weight.device == DEV
        with gn.device("cpu"):
            assert gn.ones(1).device == "cpu"
        assert gn.ones(1).device == DEV
        worker = threading.Thread(target=lambda: seen.setdefault("other", gn.zeros(1).device))
        worker.start()
        worker.join()
    assert seen["other"] == "cpu" and gn.zeros(1).device == "cpu"


def test_sync_batchnorm_statistics_on_a_device_name_the_op_and_the_fix():
    # The collectives send host memory (README, MPI: "GPU tensors"); the op says so instead of a conversion error.
    from glassnet.ops.collective import AllReduceSum

    x = gn.ones(2, 3, device=DEV, requires_grad=True)
    with pytest.raises(TypeError, match=r"AllReduceSum \(SyncBatchNorm.*shape \(2, 3\).*keep the model on the CPU"):
        AllReduceSum.apply(x)
