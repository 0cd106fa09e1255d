"""Every fast path listed in glassnet/fast_paths.py names its reference in its docstring and equals it."""

from __future__ import annotations

import importlib
import pathlib

import numpy as np
import pytest

import glassnet as gn
from glassnet.fast_paths import FAST_PATHS
from glassnet.nn import functional as F
from glassnet.ops import activation as act
from glassnet.ops import arithmetic as ar
from glassnet.ops import conv as cv

TESTS = pathlib.Path(__file__).parent


def _resolve(where: str):
    module, name = where.split(":")
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("path", FAST_PATHS, ids=[p.where for p in FAST_PATHS])
def test_each_fast_path_names_its_reference_and_has_its_equality_test(path):
    doc = " ".join((_resolve(path.where).__doc__ or "").split())
    assert f"Reference: {path.reference}" in doc, f"{path.where}'s docstring does not name its reference"
    file, test = path.test.split("::")
    assert f"def {test}(" in (TESTS.parent / file).read_text(), f"{path.test} does not exist"


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_apply_unrolled_calls_equal_the_general_loop():
    # The general loop is the last branch: reached with options on three arguments. The unrolled branches must give
    # the same value and the same requires_grad for every mix of Tensors, constants and requires_grad.
    a, b, c = _rand(3, 4), _rand(3, 4, seed=1), _rand(3, 4, seed=2)

    class Add3(gn.autograd.Function):
        def forward(self, x, y=None, z=None, scale=1.0):
            return (x + (0 if y is None else y) + (0 if z is None else z)) * scale

    for grads in [(False, False, False), (True, False, False), (False, True, True), (True, True, True)]:
        xs = [gn.tensor(v, requires_grad=g) for v, g in zip((a, b, c), grads)]
        for n in (1, 2, 3):
            fast = Add3.apply(*xs[:n])
            general = Add3.apply(*xs[:n], scale=1.0) if n == 3 else Add3.apply(*xs[:n], *([None] * (3 - n)), scale=1.0)
            np.testing.assert_array_equal(
                fast.numpy() if not fast.requires_grad else fast.detach().numpy(), general.detach().numpy()
            )
            assert fast.requires_grad == general.requires_grad == any(grads[:n])
    constant = Add3.apply(a, gn.tensor(b, requires_grad=True))  # an array constant in the first place
    assert constant.requires_grad and np.allclose(constant.detach().numpy(), a + b)


def test_walk_in_place_sums_equal_fresh_sums():
    # x feeds four consumers: the walk sums their shares in place into a buffer it made; the reference sums them
    # with fresh arrays (create_graph=True walks never add in place).
    x = gn.tensor(_rand(5), requires_grad=True)
    y = (x.tanh() + x.sin() + x * 3 + x.exp()).sum()
    y.backward(retain_graph=True)
    fast = x.grad.numpy().copy()
    (reference,) = gn.grad(y, x, create_graph=True)
    np.testing.assert_array_equal(fast, reference.detach().numpy())


def test_fused_mse_equals_the_composed_formula():
    for dtype in (np.float64, np.float32):
        x = gn.tensor(_rand(4, 3).astype(dtype), requires_grad=True)
        t = gn.tensor(_rand(4, 3, seed=1).astype(dtype), requires_grad=True)
        fused = F.mse_loss(x, t)
        fused.backward()
        gx, gt = x.grad.numpy().copy(), t.grad.numpy().copy()
        x.grad = t.grad = None
        reference = ((x - t) ** 2).mean()
        reference.backward()
        tol = 1e-12 if dtype == np.float64 else 1e-6
        np.testing.assert_allclose(fused.item(), reference.item(), rtol=tol)
        np.testing.assert_allclose(gx, x.grad.numpy(), rtol=tol, atol=tol)
        np.testing.assert_allclose(gt, t.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_fused_cross_entropy_equals_nll_of_log_softmax(smoothing):
    x = gn.tensor(_rand(6, 5), requires_grad=True)
    target = gn.tensor(np.array([0, 4, 2, 1, 3, 3]))
    fused = F.cross_entropy(x, target, label_smoothing=smoothing)
    fused.backward()
    g = x.grad.numpy().copy()
    x.grad = None
    log_p = x.log_softmax(1)
    reference = (1 - smoothing) * F.nll_loss(log_p, target) - smoothing * log_p.mean(1).mean()
    reference.backward()
    np.testing.assert_allclose(fused.item(), reference.item(), rtol=1e-12)
    np.testing.assert_allclose(g, x.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_in_place_gelu_equals_the_recorded_formula():
    x = gn.tensor(_rand(3, 7), requires_grad=True)
    y = F.gelu(x, approximate="tanh")
    v = _rand(3, 7, seed=1)
    (fast,) = gn.grad(y, x, gn.tensor(v), retain_graph=True)
    (recorded,) = gn.grad(y, x, gn.tensor(v), create_graph=True)  # the create_graph branch: the formula on Tensors
    xs = x.detach().numpy()
    formula = 0.5 * xs * (1 + np.tanh(np.sqrt(2 / np.pi) * (xs + 0.044715 * xs**3)))
    np.testing.assert_allclose(y.detach().numpy(), formula, rtol=1e-12)
    np.testing.assert_allclose(fast.numpy(), recorded.detach().numpy(), rtol=1e-12, atol=1e-15)
    assert act.Gelu is type(y.grad_fn)


def test_plain_sgd_loop_equals_the_general_update():
    gn.manual_seed(0)
    net = gn.nn.Linear(4, 3)
    twin = gn.nn.Linear(4, 3)
    twin.load_state_dict(net.state_dict())
    fast, general = gn.optim.SGD(net.parameters(), lr=0.1), gn.optim.SGD(twin.parameters(), lr=0.1)
    x = gn.tensor(_rand(5, 4).astype(np.float32))
    for _ in range(3):
        for model, opt in ((net, fast), (twin, general)):
            opt.zero_grad()
            model(x).pow(2).sum().backward()
        fast.step()  # the one-loop path, with the learning rate as a cached 0-d array
        for group in general.param_groups:
            gn.optim.Optimizer.update_group(general, group)  # the reference: per-parameter SGD.update
    for p, q in zip(net.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_blocked_convolution_gemm_equals_one_matmul():
    rng = np.random.default_rng(0)
    groups, m, k, n_images, per_image = 2, 3, 5, 16, 1024  # 16 384 columns: more than one block
    a = rng.standard_normal((groups, m, k))
    b = rng.standard_normal((groups, k, n_images * per_image))
    assert cv._blocks(n_images, n_images * per_image, 8192) > 1
    np.testing.assert_allclose(cv._gemm(a, b, n_images), np.matmul(a, b), rtol=1e-12, atol=1e-12)


def test_module_call_without_hooks_equals_the_hooked_path():
    gn.manual_seed(0)
    net = gn.nn.Sequential(gn.nn.Linear(3, 4), gn.nn.Tanh(), gn.nn.Linear(4, 2))
    x = gn.tensor(_rand(2, 3).astype(np.float32))
    direct = [m.forward for m in net]  # what the fast path calls
    out = x
    for f in direct:
        out = f(out)
    with net[0].register_forward_hook(lambda mod, args, y: None):  # a live hook: the hooked path runs
        hooked = net(x)
    np.testing.assert_array_equal(net(x).detach().numpy(), hooked.detach().numpy())
    np.testing.assert_array_equal(out.detach().numpy(), hooked.detach().numpy())


def test_same_dtype_operators_equal_the_promoting_path():
    from glassnet.tensor import _binary

    for dtype in (np.float32, np.float64, np.int64):
        a, b = gn.tensor(_rand(3).astype(dtype)), gn.tensor(_rand(3, seed=1).astype(dtype))
        for fast, op, name in ((a + b, ar.Add, "add"), (a - b, ar.Sub, "sub"), (a * b, ar.Mul, "mul")):
            reference = _binary(op, a, b, name)
            assert fast.dtype == reference.dtype
            np.testing.assert_array_equal(fast.numpy(), reference.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("out_shape", [(7, 5), (7, 3, 4), (1, 6)])
def test_row_scatter_add_equals_numpys_add_at(dtype, out_shape):
    from glassnet.backend import ArrayBackend, _flat_row_index

    rng = np.random.default_rng(1)
    rows = out_shape[0]
    index = rng.integers(-rows, rows, 40)  # negative rows and many repeats
    values = (rng.standard_normal((40, *out_shape[1:])) * 1e3).astype(dtype)
    start = (rng.standard_normal(out_shape) * 1e3).astype(dtype)
    fast, reference = start.copy(), start.copy()
    assert _flat_row_index(fast, index, values) is not None  # the case takes the fast path
    ArrayBackend().scatter_add(fast, index, values)
    np.add.at(reference, index, values)
    assert fast.tobytes() == reference.tobytes()


def test_row_scatter_add_leaves_other_cases_to_numpy():
    from glassnet.backend import ArrayBackend, _flat_row_index

    out, values = np.zeros((4, 3)), np.ones((2, 3))
    assert _flat_row_index(out, np.array([0, 1]), values) is not None
    assert _flat_row_index(out, np.array([0, 1]), np.ones((3, 2)).T) is None  # not C-contiguous
    assert _flat_row_index(out, (np.array([0, 1]), np.array([1, 2])), np.ones(2)) is None  # a tuple index
    assert _flat_row_index(out, np.array([0, 1]), np.ones((2, 3), np.float32)) is None  # another dtype
    with pytest.raises(IndexError):  # out of range: NumPy's own message, nothing written
        ArrayBackend().scatter_add(out, np.array([0, 4]), values)
    assert not out.any()
    again = np.zeros((4, 3))
    ArrayBackend().scatter_add(again, np.array([1, 1, 3]), np.ones(3))  # broadcast values: NumPy's path
    np.testing.assert_array_equal(again[:, 0], [0, 2, 0, 1])


def _transposed_by_col2im(g, w, groups, kernel, in_size, padding, dilation):
    """ConvTranspose's forward through the reference col2im (its other branch), stride 1."""
    nd, c = len(kernel), w.shape[1] * groups
    wm = w.reshape(groups, w.shape[0] // groups, -1).swapaxes(1, 2)
    cols = np.matmul(wm, cv._channels_first(g, groups))
    cols = np.moveaxis(cols.reshape((c,) + tuple(kernel) + g.shape[:1] + g.shape[2:]), 1 + nd, 0)
    return cv.col2im(cols, in_size, kernel, (1,) * nd, padding, (1,) * nd if dilation is None else dilation)


@pytest.mark.parametrize(
    "n, o, c, groups, spatial, kernel, padding, dilation",
    [
        (64, 16, 6, 1, (10, 10), (5, 5), ((0, 0), (0, 0)), (1, 1)),  # LeNet's second layer, W2
        (3, 4, 6, 2, (7, 9), (3, 2), ((1, 1), (0, 2)), (2, 1)),  # groups, padding, dilation, a wide kernel
        (2, 3, 2, 1, (4, 5, 6), (2, 3, 2), ((1, 0), (0, 1), (2, 2)), (1, 2, 1)),  # 3-D
        (1, 2, 3, 1, (1, 1), (3, 3), ((1, 1), (1, 1)), (1, 1)),  # one pixel
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stride_one_transposed_convolution_equals_col2im(n, o, c, groups, spatial, kernel, padding, dilation, dtype):
    rng = np.random.default_rng(0)
    g = rng.standard_normal((n, o, *spatial)).astype(dtype)
    w = rng.standard_normal((o, c // groups, *kernel)).astype(dtype)
    in_size = tuple(s + d * (k - 1) - lo - hi for s, k, d, (lo, hi) in zip(spatial, kernel, dilation, padding))
    y = cv.ConvTranspose().forward(g, w, None, stride=(1,) * len(kernel), padding=padding, dilation=dilation,
                                   groups=groups, in_size=in_size)
    reference = _transposed_by_col2im(g, w, groups, kernel, in_size, padding, dilation)
    assert y.shape == reference.shape == (n, c, *in_size)
    tol = 1e-5 if dtype == np.float32 else 1e-12  # only the GEMM's rounding differs (its column count does)
    np.testing.assert_allclose(y, reference, rtol=tol, atol=tol * np.abs(reference).max())


def test_stride_one_transposed_convolution_leaves_infinite_weights_to_col2im():
    g = np.ones((1, 1, 2, 2))
    w = np.ones((1, 1, 2, 2))
    assert cv._stride_one_fits(g, w, (1, 1))
    w[0, 0, 1, 1] = np.inf
    assert not cv._stride_one_fits(g, w, (1, 1))
    y = cv.ConvTranspose().forward(g, w, None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1,
                                   in_size=(3, 3))
    assert np.isfinite(y[0, 0, 0]).all() and np.isinf(y[0, 0, 2, 2])  # as col2im: ∞ only where it lands


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("shape", [(4, 7, 128), (5, 3), (6,), (0, 4)])
def test_layer_norm_rows_equal_the_general_formulas(affine, dtype, tol, shape):
    from glassnet.ops import normalization as nz

    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal(shape[-1:]).astype(dtype) if affine else None
    b = rng.standard_normal(shape[-1:]).astype(dtype) if affine else None
    xt, wt, bt = (gn.tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b))
    fast = nz.LayerNorm.call(xt, wt, bt, ndim=1, eps=1e-5)
    assert fast.grad_fn.rows
    fast.backward(gn.tensor(gy))
    axes, lead = (x.ndim - 1,), tuple(range(x.ndim - 1))
    xhat, rstd = nz._standardize(x, axes, 1e-5)  # the reference: the general formulas
    y = nz._affine(xhat, w, b, shape[-1:])
    gxhat = gy * w if affine else gy
    gx = nz.standardize_backward(gxhat, xhat, rstd, axes)
    np.testing.assert_allclose(fast.data, y, rtol=tol, atol=tol)
    np.testing.assert_allclose(xt.grad.data, gx, rtol=tol, atol=tol)
    if affine:
        np.testing.assert_allclose(wt.grad.data, np.sum(gy * xhat, axis=lead), rtol=tol, atol=tol * max(1, x.size))
        np.testing.assert_allclose(bt.grad.data, np.sum(gy, axis=lead), rtol=tol, atol=tol * max(1, x.size))


class _Watcher(gn.autograd.BackwardVisitor):
    """A visitor that records nothing: its presence turns the walk's shortcuts off (the reference walk)."""

    def node(self, node, gy, gxs):
        pass

    def leaf(self, leaf, g):
        pass


def _sliced_graph_grads(shortcut: bool, repeated_rows: bool):
    gn.manual_seed(0)
    qkv = gn.randn(3, 4, 5, dtype=gn.float64, requires_grad=True)
    w = gn.randn(5, 5, dtype=gn.float64, requires_grad=True)
    h = qkv * 2  # a non-leaf, so the slices' gradients meet in the walk
    q, k, v = h[0], h[1], h[2]
    att = (q @ w @ k.transpose(0, 1)).softmax(-1)
    loss = (att @ v).sum() + (h[1:] * h[:-1]).sum() + h[-1, -1].sum()
    if repeated_rows:
        loss = loss + h[:, [0, 2, 2]].pow(2).sum()  # an advanced index with a repeat: always IndexAdd's path
    if shortcut:
        loss.backward()
    else:
        from glassnet.autograd import run_backward

        run_backward([loss], [gn.ones_like(loss).data], False, False, visitor=_Watcher())
    return qkv.grad.data.copy(), w.grad.data.copy()


@pytest.mark.parametrize("repeated_rows", [False, True])
def test_slice_gradients_added_into_the_walks_sum_equal_the_zeros_and_add_path(repeated_rows, monkeypatch):
    getitem = gn.ops.shape.GetItem
    added = []
    original = getitem.add_gradient_into
    monkeypatch.setattr(getitem, "add_gradient_into", lambda self, b, g: added.append(1) or original(self, b, g))
    fast = _sliced_graph_grads(True, repeated_rows)
    assert len(added) >= 4  # the shortcut ran (six slices of h; the first one met builds the sum)
    added.clear()
    reference = _sliced_graph_grads(False, repeated_rows)
    assert not added  # a visitor turns it off
    for a, b in zip(fast, reference):  # a slice's share lands on the same sum either way: the same bits
        np.testing.assert_array_equal(a, b)
