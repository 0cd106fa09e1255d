"""Each compiled kernel (glassnet.kernels) gives the bits of the NumPy reference it replaces."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import kernels
from glassnet.ops import conv, pooling
from glassnet.ops.conv import channel_major
from tests.needs import need_module


@pytest.fixture
def table():
    need_module("numba", "pip install 'glassnet[accel]'")
    previous = kernels.use({})
    yield kernels.compiled_table()
    kernels.use(previous)


def _both(table, fn):
    kernels.use({})
    reference = fn()
    kernels.use(table)
    fast = fn()
    kernels.use({})
    return reference, fast


GEOMETRIES = [  # (x shape, kernel, stride, padding, dilation)
    ((4, 1, 12, 12), (5, 5), (1, 1), ((2, 2), (2, 2)), (1, 1)),
    ((3, 6, 9, 7), (3, 2), (2, 1), ((1, 0), (0, 1)), (1, 2)),
    ((2, 4, 8, 8), (3, 3), (3, 3), ((0, 0), (0, 0)), (2, 2)),
]


@pytest.mark.parametrize("shape, k, stride, padding, dilation", GEOMETRIES)
def test_im2col_and_col2im_equal_their_references(table, monkeypatch, shape, k, stride, padding, dilation,
                                                  dtype=np.float32):
    # (float32 only: each dtype is one more numba compilation, seconds of CI time; the loops do not depend on it)
    monkeypatch.setattr(kernels, "PARALLEL_ONLY", set())  # im2col's kernel at any thread count
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    out = conv.conv_output_size(shape[2:], k, stride, padding, dilation)
    ref, fast = _both(table, lambda: conv.im2col(x, k, stride, padding, dilation, out))
    assert fast.dtype == ref.dtype and np.array_equal(ref, fast)
    cm = x.transpose(1, 0, 2, 3).copy().transpose(1, 0, 2, 3)  # channel-major memory, as the conv GEMM writes it
    ref, fast = _both(table, lambda: conv.im2col(cm, k, stride, padding, dilation, out))
    assert np.array_equal(ref, fast)
    cols = rng.standard_normal(shape[:2] + k + tuple(out)).astype(dtype)
    ref, fast = _both(table, lambda: conv.col2im(cols, shape[2:], k, stride, padding, dilation))
    assert ref.shape == fast.shape == shape and np.array_equal(ref, fast)


def test_conv_layer_step_is_bitwise_the_same(table):
    def step():
        gn.manual_seed(0)
        layer = gn.nn.Conv2d(3, 4, 3, padding=1, stride=2)
        x = gn.tensor(np.random.default_rng(1).standard_normal((2, 3, 9, 9)).astype(np.float32), requires_grad=True)
        (layer(x) ** 2).sum().backward()
        return [a.copy() for a in (x.grad.data, layer.weight.grad.data, layer.bias.grad.data)]

    ref, fast = _both(table, step)
    assert all(np.array_equal(a, b) for a, b in zip(ref, fast))


def test_selection_is_numpy_unless_asked(table, monkeypatch):
    kernels.use(None)
    monkeypatch.delenv("GLASSNET_KERNELS", raising=False)
    assert kernels.kernel("im2col2d", np.zeros(3)) is None and not kernels.enabled()
    kernels.use(table)
    assert kernels.kernel("col2im2d", np.zeros(3)) is table["col2im2d"]
    assert kernels.kernel("col2im2d", np.zeros(3), [1.0]) is None  # not a NumPy array: the reference path
    kernels.use(None)
    monkeypatch.setenv("GLASSNET_KERNELS", "fast")
    with pytest.raises(ValueError, match="GLASSNET_KERNELS='fast'"):
        kernels.enabled()


def test_set_num_threads_sets_the_kernels_pool_too(table, monkeypatch):
    import numba

    before = gn.get_num_threads()
    kernels.use(table)
    try:
        gn.set_num_threads(1)
        assert numba.get_num_threads() == 1
        assert kernels.kernel("im2col2d", np.zeros(3)) is None  # one thread: NumPy's copy, as fast
        gn.set_num_threads(2)
        assert numba.get_num_threads() == min(2, numba.config.NUMBA_NUM_THREADS)
        # serial kernels (kernels.PARALLEL off, by measurement): im2col's, which gains only in parallel, stays NumPy
        assert kernels.kernel("im2col2d", np.zeros(3)) is None
        if numba.get_num_threads() == 2:
            monkeypatch.setattr(kernels, "PARALLEL", True)
            assert kernels.kernel("im2col2d", np.zeros(3)) is table["im2col2d"]
    finally:
        gn.set_num_threads(before)
        kernels.use({})


# ----- the pooling kernel (max_pool2d forward, 2×2 windows, stride 2) ---------------------------------------------

POOLS = [  # (x shape, kernel, stride, padding, dilation, ceil_mode): the kernel is for 2×2, stride 2
    ((4, 6, 28, 28), (2, 2), (2, 2), (0, 0), (1, 1), False),  # LeNet's pools
    ((3, 5, 9, 7), (2, 2), (2, 2), (1, 0), (1, 1), True),  # padding, odd sizes, a partial last window
    ((1, 4, 5, 6), (2, 2), (2, 2), (0, 1), (1, 1), False),  # one image: "channel-major" is no layout
    ((2, 3, 7, 7), (2, 2), (2, 2), (0, 0), (1, 1), False),  # a last row and column in no window
    ((2, 3, 8, 8), (3, 3), (3, 3), (1, 1), (2, 2), False),  # not 2×2: the reference either way
]


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view(np.uint8) if a.dtype == bool else a.view(np.dtype(f"u{a.itemsize}"))


def _same(ref, fast):
    """Bitwise equal arrays (NaN payloads and the signs of zeros included), in the same memory order."""
    return (ref.shape == fast.shape and ref.dtype == fast.dtype and channel_major(ref) == channel_major(fast)
            and np.array_equal(_bits(ref), _bits(fast)))


def _pool_input(shape, dtype, seed=0, layout="nchw"):
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, shape).astype(dtype)  # few values: ties in most windows, +0 and -0 among them
    x[rng.random(shape) < 0.3] *= -1  # -0.0 where x was 0
    x[rng.random(shape) < 0.02] = np.nan  # some windows hold NaNs, some more than one
    x[rng.random(shape) < 0.01] = -np.inf
    if layout == "cnhw":  # channel-major memory, as the conv GEMM writes it
        x = x.transpose(1, 0, 2, 3).copy().transpose(1, 0, 2, 3)
    return x


@pytest.mark.parametrize("layout", ["nchw", "cnhw"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, k, stride, padding, dilation, ceil_mode", POOLS)
def test_max_pool_kernel_equals_its_reference(table, shape, k, stride, padding, dilation, ceil_mode, dtype, layout):
    x = _pool_input(shape, dtype, layout=layout)
    out, pads = pooling.pool_geometry(shape[2:], k, stride, padding, dilation, ceil_mode)
    xp = conv.pad(x, pads, -np.inf)
    ref, fast = _both(table, lambda: pooling.window_max(xp, out, k, stride, dilation))
    assert _same(ref, fast)


def test_pool_kernel_keeps_the_reference_for_other_dtypes(table):
    kernels.use(table)
    try:
        assert kernels.kernel("window_max2x2", np.zeros((1, 1, 2, 2), np.float16)) is None  # numba has no float16
        assert kernels.kernel("window_max2x2", np.zeros((1, 1, 2, 2), np.int64)) is None
        assert kernels.kernel("window_max2x2", np.zeros((1, 1, 2, 2), np.float32)) is table["window_max2x2"]
        x = gn.tensor(np.arange(16.0, dtype=np.float16).reshape(1, 1, 4, 4), requires_grad=True)
        gn.nn.functional.max_pool2d(x, 2).sum().backward()
        assert x.grad.dtype == gn.float16 and float(x.grad.sum()) == 4
    finally:
        kernels.use({})


def test_max_pool_layer_step_is_bitwise_the_same(table):
    def step():
        x = gn.tensor(_pool_input((3, 4, 11, 10), np.float64, seed=2).clip(-2, 2) + np.arange(110).reshape(11, 10),
                      requires_grad=True)
        y = gn.nn.functional.max_pool2d(x, 2, padding=1, ceil_mode=True)
        (gx,) = gn.autograd.grad((y * y).sum(), [x], create_graph=True)
        (gx * gx).sum().backward()  # the scatter's backward: the gather, through the same arg-max masks
        return [a.copy() for a in (y.data, gx.data, x.grad.data)]

    ref, fast = _both(table, step)
    assert all(_same(a, b) for a, b in zip(ref, fast))


# --- Sequence-model kernels (LSTM cell, GELU, softmax, LayerNorm; float32) -------------------------------------------
# A kernel whose reference calls np.tanh uses the kernels' tanh32 (within 3e-7 of tanh) and is compared to a stated
# tolerance; the others repeat the reference's float32 operations in its order and are compared bit for bit.

TANH_TOL = 3e-7  # |tanh32(x) − tanh(x)|, the README's figure


def test_tanh32_is_within_its_stated_error(table):
    x = np.concatenate([np.linspace(-12, 12, 200_001), [0.0, -0.0, 1e-30, -1e-30, 7.9, 8.0, 40.0, -40.0]])
    x = x.astype(np.float32)
    tanh32 = table["tanh32"]
    approx = np.array([tanh32(v) for v in x[::97]] + [tanh32(v) for v in x[-8:]], dtype=np.float64)
    exact = np.tanh(np.concatenate([x[::97], x[-8:]]).astype(np.float64))
    assert np.abs(approx - exact).max() < TANH_TOL
    assert tanh32(np.float32(0.0)) == 0.0 and tanh32(np.float32(40.0)) == 1.0 and tanh32(np.float32(-40.0)) == -1.0


def _lstm_inputs(steps=7, batch=5, hidden=6, seed=0):
    rng = np.random.default_rng(seed)
    gi = rng.standard_normal((steps, batch, 4 * hidden)).astype(np.float32) * 2
    h0, c0 = (rng.standard_normal((batch, hidden)).astype(np.float32) for _ in range(2))
    w_hh = rng.standard_normal((4 * hidden, hidden)).astype(np.float32) * 0.5
    gy = rng.standard_normal((steps + 1, batch, hidden)).astype(np.float32)
    return gi, h0, c0, w_hh, gy


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_cell_kernels_match_the_reference(table, reverse):
    from glassnet.ops.recurrent import LSTMSequence

    gi, h0, c0, w_hh, gy = _lstm_inputs()

    def run():
        fn = LSTMSequence()
        out = fn.forward(gi, h0, c0, w_hh, reverse=reverse)
        return fn, out.copy(), [g.copy() for g in fn.backward(gy)]

    (ref_fn, ref_out, ref_grads), (fast_fn, fast_out, fast_grads) = _both(table, run)
    # forward: the gates go through tanh32, so equal to a tolerance (float32 rounding plus TANH_TOL per step)
    np.testing.assert_allclose(fast_out, ref_out, rtol=0, atol=2e-6)
    for a, b in zip(ref_grads, fast_grads):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    # backward alone, from the same saved forward: the same float32 operations in the same order, the same bits
    kernels.use(table)
    same_start = [g.copy() for g in ref_fn.backward(gy)]
    kernels.use({})
    assert all(np.array_equal(a, b) for a, b in zip(ref_grads, same_start))


def test_lstm_layer_with_kernels_trains_like_the_reference(table):
    def step():
        gn.manual_seed(0)
        lstm = gn.nn.LSTM(5, 8, num_layers=2, bidirectional=True)
        x = gn.tensor(np.random.default_rng(1).standard_normal((9, 3, 5)).astype(np.float32), requires_grad=True)
        y, (h, c) = lstm(x)
        ((y * y).sum() + (h * c).sum()).backward()
        return [y.data.copy(), x.grad.data.copy()] + [p.grad.data.copy() for p in lstm.parameters()]

    ref, fast = _both(table, step)
    for a, b in zip(ref, fast):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)


def test_float64_keeps_the_reference_path(table):
    kernels.use(table)
    try:
        assert kernels.float32_kernel("lstm_cell_forward", np.zeros(2, np.float64)) is None
        assert kernels.float32_kernel("lstm_cell_forward", np.zeros(2, np.float32)) is table["lstm_cell_forward"]
        # contiguous=True (the kernels that walk flat memory): a strided view or an empty array keeps the reference
        strided = np.zeros((4, 4), np.float32)[:, ::2]
        assert kernels.float32_kernel("softmax_backward", strided, contiguous=True) is None
        assert kernels.float32_kernel("softmax_backward", np.zeros(0, np.float32), contiguous=True) is None
        assert kernels.float32_kernel("softmax_backward", strided) is table["softmax_backward"]
    finally:
        kernels.use({})


def _op_both(table, op, args, gy, **options):
    """(forward, backward outputs) of `op` on arrays, reference then kernels; and the kernels' backward run from
    the reference's forward (to compare the backward alone)."""
    def run():
        fn = op()
        out = fn.forward(*args, **options)
        grads = fn.backward(gy)
        grads = grads if isinstance(grads, tuple) else (grads,)
        return fn, out.copy(), [g for g in grads if g is not None]

    (ref_fn, ref_out, ref_grads), (_, fast_out, fast_grads) = _both(table, run)
    return ref_fn, (ref_out, ref_grads), (fast_out, fast_grads)


def test_gelu_tanh_kernels(table):
    from glassnet.ops.activation import Gelu

    rng = np.random.default_rng(0)
    x = (rng.standard_normal((6, 33, 17)) * 3).astype(np.float32)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    ref_fn, (ref_y, ref_g), (fast_y, fast_g) = _op_both(table, Gelu, (x,), gy, approximate="tanh")
    assert fast_y.dtype == np.float32 and fast_y.shape == x.shape
    np.testing.assert_allclose(fast_y, ref_y, rtol=0, atol=2 * TANH_TOL * np.abs(x).max())  # y = ½x(1 + t)
    np.testing.assert_allclose(fast_g[0], ref_g[0], rtol=1e-5, atol=1e-5)
    kernels.use(table)  # the backward from the same forward: the same float32 steps, the same bits
    same = ref_fn.backward(gy)
    kernels.use({})
    assert np.array_equal(same, ref_g[0])
    kernels.use(table)  # a non-contiguous or float64 input keeps the reference
    try:
        assert np.array_equal(Gelu().forward(x.astype(np.float64), approximate="tanh"),
                              _both({}, lambda: Gelu().forward(x.astype(np.float64), approximate="tanh"))[0])
    finally:
        kernels.use({})


@pytest.mark.parametrize("shape, ndim", [((4, 9, 128), 1), ((3, 5, 6), 2)])
def test_layer_norm_kernels(table, shape, ndim):
    from glassnet.ops.normalization import LayerNorm

    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)
    weight = rng.standard_normal(shape[-ndim:]).astype(np.float32)
    bias = rng.standard_normal(shape[-ndim:]).astype(np.float32)
    gy = rng.standard_normal(shape).astype(np.float32)
    _, (ref_y, ref_g), (fast_y, fast_g) = _op_both(table, LayerNorm, (x, weight, bias), gy, ndim=ndim)
    # the row sums run in row order, NumPy's in pairwise order: equal to float32 rounding
    np.testing.assert_allclose(fast_y, ref_y, rtol=1e-5, atol=1e-5)
    for a, b in zip(ref_g, fast_g):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)


def test_softmax_backward_kernel(table):
    from glassnet.ops.activation import Softmax

    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 16, 16)).astype(np.float32)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    _, (ref_y, ref_g), (fast_y, fast_g) = _op_both(table, Softmax, (x,), gy, axis=-1)
    assert np.array_equal(ref_y, fast_y)  # the forward keeps NumPy's exp: no kernel
    np.testing.assert_allclose(fast_g[0], ref_g[0], rtol=1e-5, atol=1e-6)


def test_gpt_step_with_kernels_matches_the_reference(table):
    from bench.workloads import batch, build

    def step():
        gn.manual_seed(0)
        model, loss_fn = build(gn.nn, gn.nn.functional, "W4-t16")
        x, y = (gn.tensor(a[:4]) for a in batch("W4-t16"))
        loss = loss_fn(model(x), y)
        loss.backward()
        return [loss.data.copy()] + [p.grad.data.copy() for p in model.parameters()]

    ref, fast = _both(table, step)
    for a, b in zip(ref, fast):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
