"""Each compiled kernel (glassnet.kernels) gives the bits of the NumPy reference it replaces."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import kernels
from glassnet.ops import conv
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
def test_im2col_and_col2im_equal_their_references(table, shape, k, stride, padding, dilation, dtype=np.float32):
    # (float32 only: each dtype is one more numba compilation, seconds of CI time; the loops do not depend on it)
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
    assert kernels.kernel("im2col2d", np.zeros(3)) is table["im2col2d"]
    assert kernels.kernel("im2col2d", np.zeros(3), [1.0]) is None  # not a NumPy array: the reference path
    kernels.use(None)
    monkeypatch.setenv("GLASSNET_KERNELS", "fast")
    with pytest.raises(ValueError, match="GLASSNET_KERNELS='fast'"):
        kernels.enabled()


def test_set_num_threads_sets_the_kernels_pool_too(table):
    import numba

    before = gn.get_num_threads()
    try:
        gn.set_num_threads(1)
        assert numba.get_num_threads() == 1
        gn.set_num_threads(2)
        assert numba.get_num_threads() == min(2, numba.config.NUMBA_NUM_THREADS)
    finally:
        gn.set_num_threads(before)
