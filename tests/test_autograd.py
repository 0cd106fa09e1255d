"""Tests of glassnet/autograd.py: accumulation, grad modes, gn.grad, higher order, graph freeing, hooks,
anomaly detection, user-defined Functions and what happens when backward fails part-way."""

import sys

import numpy as np
import pytest
import torch

import glassnet as gn
from glassnet.autograd import Function, unbroadcast


# ----- How to write your own op -----------------------------------------------------------------------
class Cube(Function):
    """y = x³;   dL/dx = dL/dy · 3x²

    A user-defined op is exactly how the built-in ones are written:
    - `forward` receives plain arrays (Tensor arguments are unwrapped) and returns an array;
    - whatever backward needs is kept with `save_for_backward` (inputs and outputs);
    - `backward` receives dL/dy and returns one dL/dx per positional input (None for constants);
    - written with NumPy functions/operators on the saved values, the same backward also runs on Tensors
      when `create_graph=True`, so the op is differentiable twice for free.
    Call it with `Cube.apply(x)`.
    """

    def forward(self, x):
        self.save_for_backward(x)
        return x**3

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * 3 * x**2


class ScaledAdd(Function):
    """y = a + k·b with a constant k passed as a keyword option;   dL/da = dL/dy,  dL/db = k · dL/dy"""

    def forward(self, a, b, k=1.0):
        self.k = k
        return a + k * b

    def backward(self, gy):
        return gy, self.k * gy


def test_user_defined_function_first_and_second_order():
    x = gn.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name == "Cube" and repr(y).endswith("grad_fn=<CubeBackward>)")
    (g,) = gn.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x.data**2)
    (g2,) = gn.grad(g.sum(), x)
    np.testing.assert_allclose(g2.data, 6 * x.data)
    assert gn.autograd.gradcheck(Cube.apply, [x]) and gn.autograd.gradgradcheck(Cube.apply, [x])


def test_user_defined_function_with_options_and_broadcasting():
    a = gn.tensor(np.ones((2, 3)), requires_grad=True)
    b = gn.tensor(np.ones(3), requires_grad=True)
    ScaledAdd.apply(a, b, k=2.5).sum().backward()
    np.testing.assert_array_equal(a.grad.data, np.ones((2, 3)))
    np.testing.assert_array_equal(b.grad.data, np.full(3, 5.0))  # the engine sums the broadcast back


def test_user_function_without_grad_inputs_records_nothing():
    out = Cube.apply(gn.tensor([2.0]))
    assert out.grad_fn is None and not out.requires_grad and out.tolist() == [8.0]


def test_unbroadcast_helper():
    g = np.ones((2, 3, 4))
    np.testing.assert_array_equal(unbroadcast(g, (3, 1)), np.full((3, 1), 8.0))
    np.testing.assert_array_equal(unbroadcast(g, ()), np.array(24.0))
    assert unbroadcast(g, (2, 3, 4)) is g


# ----- accumulation and modes --------------------------------------------------------------------------
def test_gradients_accumulate_across_backward_calls_like_torch():
    ours = gn.tensor([1.0, 2.0], requires_grad=True)
    theirs = torch.tensor([1.0, 2.0], requires_grad=True)
    for x in (ours, theirs):
        (x * x).sum().backward()
        (x * 3).sum().backward()
    np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())
    ours.grad = None
    (ours * 2).sum().backward()
    np.testing.assert_array_equal(ours.grad.data, [2.0, 2.0])


def test_leaf_gradients_are_private_copies():
    """Add hands the same dL/dy to both inputs: accumulating into one leaf's .grad must not touch the other,
    nor the `gradient` the caller passed."""
    a, b = gn.tensor([1.0, 2.0], requires_grad=True), gn.tensor([3.0, 4.0], requires_grad=True)
    seed = gn.tensor([1.0, 1.0])
    (a + b).backward(seed)
    (a * 2).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [3.0, 3.0])
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])
    np.testing.assert_array_equal(seed.data, [1.0, 1.0])
    a.grad.zero_()
    assert b.grad.tolist() == [1.0, 1.0]


def test_gradient_of_a_leaf_used_as_output():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    g = gn.tensor([3.0, 4.0])
    x.backward(g)
    assert x.grad.tolist() == [3.0, 4.0] and x.grad.data is not g.data


def test_0d_gradients_are_arrays():
    x = gn.tensor(2.0, requires_grad=True)
    (x * x).tanh().backward()
    assert type(x.grad.data) is np.ndarray and x.grad.shape == ()


def test_no_grad_and_enable_grad():
    x = gn.ones(2, requires_grad=True)
    with gn.no_grad():
        y = x * 2
        assert not y.requires_grad and y.grad_fn is None and not gn.is_grad_enabled()
        with gn.enable_grad():
            assert (x * 2).requires_grad and gn.is_grad_enabled()
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad and gn.is_grad_enabled()
    with gn.set_grad_enabled(False):
        assert not (x + 1).requires_grad


def test_no_grad_as_decorator_and_restored_after_an_exception():
    @gn.no_grad()
    def double(t):
        return t * 2

    x = gn.ones(2, requires_grad=True)
    assert not double(x).requires_grad
    with pytest.raises(ValueError), gn.no_grad():
        raise ValueError
    assert gn.is_grad_enabled()


def test_detach_and_is_leaf():
    x = gn.ones(2, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert x.is_leaf and not y.is_leaf and d.is_leaf and not d.requires_grad
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])  # nothing flows through the detached branch
    assert gn.ones(2).is_leaf


# ----- gn.grad ----------------------------------------------------------------------------------------
def test_grad_returns_gradients_without_touching_dot_grad():
    x, y = gn.tensor(2.0, requires_grad=True), gn.tensor(3.0, requires_grad=True)
    gx, gy = gn.grad(x * y, [x, y])
    assert gx.item() == 3.0 and gy.item() == 2.0 and x.grad is None and y.grad is None
    (g,) = gn.grad(x * x, x, grad_outputs=gn.tensor(0.5))
    assert g.item() == 2.0


def test_grad_allow_unused():
    x, y = gn.tensor(2.0, requires_grad=True), gn.tensor(3.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="not used.*allow_unused=True"):
        gn.grad(x * 2, [x, y])
    gx, gy = gn.grad(x * 2, [x, y], allow_unused=True)
    assert gx.item() == 2.0 and gy is None


def test_grad_of_inputs_that_do_not_require_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        gn.grad(gn.ones(2, requires_grad=True).sum(), gn.ones(2))


def test_grad_with_respect_to_an_intermediate_tensor():
    x = gn.tensor(3.0, requires_grad=True)
    m = x * 2
    (g,) = gn.grad(m * m, m)
    assert g.item() == 12.0


def test_grad_with_several_outputs_and_grad_outputs():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    (g,) = gn.grad([x * 2, x * x], [x], [gn.tensor([1.0, 1.0]), gn.tensor([1.0, 0.0])])
    np.testing.assert_array_equal(g.data, [4.0, 2.0])


def test_create_graph_second_and_third_derivatives_match_torch():
    ours, theirs = gn.tensor(0.7, dtype=gn.float64, requires_grad=True), torch.tensor(0.7, requires_grad=True,
                                                                                      dtype=torch.float64)
    results = []
    for lib, x in ((gn, ours), (torch, theirs)):
        grad = gn.grad if lib is gn else torch.autograd.grad
        y = (x.sin() * x.exp()).tanh()
        (g1,) = grad(y, x, create_graph=True)
        (g2,) = grad(g1, x, create_graph=True)
        (g3,) = grad(g2, x)
        results.append([float(g.item()) for g in (g1, g2, g3)])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_hessian_vector_product_matches_torch():
    rng = np.random.default_rng(0)
    w0, v = rng.standard_normal(4), rng.standard_normal(4)
    results = []
    for lib in (gn, torch):
        grad = gn.grad if lib is gn else torch.autograd.grad
        w = lib.tensor(w0, requires_grad=True)
        loss = (w.tanh() * lib.tensor(np.arange(4.0))).sum() ** 2
        (g,) = grad(loss, w, create_graph=True)
        (hv,) = grad((g * lib.tensor(v)).sum(), w)
        results.append(hv.detach().numpy() if lib is torch else hv.data)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10)


def test_backward_create_graph_puts_a_differentiable_grad_in_dot_grad():
    x = gn.tensor(2.0, requires_grad=True)
    (x**3).backward(create_graph=True)
    assert x.grad.item() == 12.0 and x.grad.requires_grad
    g = x.grad
    x.grad = None
    g.backward()
    assert x.grad.item() == 12.0  # d(3x²)/dx at 2


def test_gradient_penalty_pattern():
    """The GAN gradient penalty: ‖∂D/∂x‖² differentiated with respect to the weights."""
    results = []
    for lib in (gn, torch):
        grad = gn.grad if lib is gn else torch.autograd.grad
        w = lib.tensor(np.array([[0.5, -1.0], [2.0, 0.3]]), requires_grad=True)
        x = lib.tensor(np.array([[1.0, 2.0], [-0.5, 0.1]]), requires_grad=True)
        d = (x @ w).tanh().sum()
        (gx,) = grad(d, x, create_graph=True)
        penalty = ((gx * gx).sum(1) - 1).square().mean()
        (gw,) = grad(penalty, w)
        results.append(gw.detach().numpy() if lib is torch else gw.data)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10)


# ----- the graph is freed ---------------------------------------------------------------------------------
def test_second_backward_without_retain_graph_raises_and_says_why():
    x = gn.ones(2, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="already freed.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first)


def test_grad_frees_the_graph_unless_asked():
    x = gn.ones(2, requires_grad=True)
    y = (x * x).sum()
    gn.grad(y, x, retain_graph=True)
    gn.grad(y, x)
    with pytest.raises(RuntimeError, match="retain_graph"):
        gn.grad(y, x)


def test_a_chain_of_100000_ops_backpropagates():
    x = gn.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    assert sys.getrecursionlimit() < 100_000  # so a recursive walk would have failed
    y.backward()
    assert x.grad.item() == 1.0


def test_a_wide_graph_sums_every_path():
    x = gn.tensor(1.0, requires_grad=True)
    total = sum((x * k for k in range(1, 101)), gn.tensor(0.0))
    total.backward()
    assert x.grad.item() == 5050.0


# ----- errors ----------------------------------------------------------------------------------------
def test_backward_on_a_non_scalar_without_gradient_raises():
    x = gn.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"only for scalar outputs, got shape \(2, 3\)"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match=r"gradient of shape \(3,\) does not match the output shape \(2, 3\)"):
        (x * 2).backward(gn.ones(3))


def test_backward_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        gn.ones(2).sum().backward()
    x = gn.ones(2, requires_grad=True)
    with gn.no_grad():
        y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="no_grad"):
        y.backward()


def test_backward_accepts_numpy_and_list_gradients():
    x = gn.ones(2, requires_grad=True)
    (x * 2).backward(np.array([1.0, 2.0]))
    (x * 2).backward([1.0, 1.0])
    np.testing.assert_array_equal(x.grad.data, [4.0, 6.0])


class Boom(Function):
    """y = 2x, whose backward fails."""

    def forward(self, x):
        return 2 * x

    def backward(self, gy):
        raise ValueError("boom")


def test_leaf_grads_unchanged_when_backward_fails_part_way():
    a = gn.tensor([1.0, 2.0], requires_grad=True)
    b = gn.tensor([3.0, 4.0], requires_grad=True)
    a.grad = gn.tensor([5.0, 5.0])
    loss = (Boom.apply(a) + a * b).sum()  # the a*b branch is walked before or after Boom: either way, nothing lands
    with pytest.raises(ValueError, match="boom"):
        loss.backward()
    assert a.grad.tolist() == [5.0, 5.0] and b.grad is None


def test_backward_returning_a_wrong_shape_is_reported():
    class BadShape(Function):
        def forward(self, x):
            return x * 1

        def backward(self, gy):
            return np.ones(7)

    x = gn.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"BadShape.backward returned a gradient of shape \(7,\).*\(2, 3\)"):
        BadShape.apply(x).sum().backward()


# ----- hooks and retain_grad ----------------------------------------------------------------------------
def test_hooks_on_leaf_and_non_leaf_replace_the_gradient_like_torch():
    results = []
    for lib in (gn, torch):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        seen = []
        a.register_hook(lambda g: g * 10)
        b = a * 2
        b.register_hook(lambda g, seen=seen: seen.append(g.tolist()))
        b.register_hook(lambda g: g + 1)
        b.retain_grad()
        (b * b).sum().backward()
        results.append((a.grad.tolist(), b.grad.tolist(), seen))
    assert results[0] == results[1]


def test_hook_handle_removes_the_hook():
    a = gn.tensor([1.0], requires_grad=True)
    handle = a.register_hook(lambda g: g * 100)
    handle.remove()
    handle.remove()
    (a * 3).sum().backward()
    assert a.grad.tolist() == [3.0]


def test_register_hook_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="register_hook"):
        gn.ones(2).register_hook(lambda g: g)


def test_retain_grad_keeps_and_accumulates_intermediate_gradients():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    z = (y * y).sum()
    z.backward(retain_graph=True)
    np.testing.assert_array_equal(y.grad.data, 2 * y.data)
    z.backward()
    np.testing.assert_array_equal(y.grad.data, 4 * y.data)
    w = x * 2
    assert w.grad is None  # not retained
    x.retain_grad()  # a no-op on leaves


def test_hooks_see_create_graph_gradients_as_tensors_on_the_graph():
    x = gn.tensor(2.0, requires_grad=True)
    y = x * x
    captured = []
    y.register_hook(lambda g: captured.append(g))
    (g,) = gn.grad(y * 3, x, create_graph=True)
    assert isinstance(captured[0], gn.Tensor) and g.requires_grad and g.item() == 12.0


# ----- detect_anomaly --------------------------------------------------------------------------------
def test_detect_anomaly_names_op_and_user_line_for_nan_in_forward():
    x = gn.tensor([-1.0, 1.0], requires_grad=True)
    with gn.detect_anomaly(), np.errstate(invalid="ignore"), pytest.raises(RuntimeError) as info:
        x.log()  # the line the error must point at
    message = str(info.value)
    assert "Log" in message and "NaN" in message and "forward" in message
    assert "test_autograd.py" in message and "x.log()  # the line the error must point at" in message


def test_detect_anomaly_names_op_and_user_line_for_inf_in_backward():
    x = gn.tensor([0.0, 4.0], requires_grad=True)
    with gn.detect_anomaly(), np.errstate(divide="ignore"):
        y = x.sqrt().sum()  # sqrt at 0: infinite slope
        with pytest.raises(RuntimeError) as info:
            y.backward()
    message = str(info.value)
    assert "Sqrt" in message and "Inf" in message and "backward" in message
    assert "y = x.sqrt().sum()  # sqrt at 0: infinite slope" in message
    assert x.grad is None


def test_without_detect_anomaly_nan_passes_silently():
    x = gn.tensor([0.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        x.sqrt().sum().backward()
    assert np.isinf(x.grad.item())


def test_detect_anomaly_is_off_again_after_the_block():
    with gn.detect_anomaly():
        pass
    with np.errstate(invalid="ignore"):
        assert np.isnan(gn.tensor([-1.0], requires_grad=True).log().item())


def test_leaf_grads_unchanged_when_a_leaf_hook_raises():
    a = gn.tensor([1.0, 2.0], requires_grad=True)
    b = gn.tensor([3.0, 4.0], requires_grad=True)
    a.grad = gn.tensor([5.0, 5.0])

    def refuse(g):
        raise ValueError("hook refuses")

    b.register_hook(refuse)
    with pytest.raises(ValueError, match="hook refuses"):
        (a * b).sum().backward()
    assert a.grad.tolist() == [5.0, 5.0] and b.grad is None


def test_second_derivative_tells_a_tensor_from_its_detached_alias():
    """x and x.detach() share one array; in a recorded backward only x may be differentiated."""
    results = []
    for lib in (gn, torch):
        grad = gn.grad if lib is gn else torch.autograd.grad
        x = lib.tensor(np.array([1.5, 2.0]), requires_grad=True)
        d = x.detach()
        y = (x * d).sum() + (d * x.exp()).sum() + x @ d + (x / d).sum() + x.clamp(d - 1, d).sum()
        (g,) = grad(y, x, create_graph=True)
        (g2,) = grad(g.sum(), x)
        results.append(g2.detach().numpy() if lib is torch else g2.data)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_observe_ops_sees_every_op_and_comparison_then_stops():
    seen = []
    x = gn.tensor([1.0, -2.0], requires_grad=True)
    with gn.autograd.observe_ops(lambda op, args, options, out: seen.append((op, out.shape))):
        y = (x * 2).tanh()
        with gn.no_grad():
            z = x + 1  # not recorded on the graph, still observed
        mask = x > 0
    names = [op.__name__ if op is not None else "compare" for op, _ in seen]
    assert names == ["Mul", "Tanh", "Add", "compare"]
    assert seen[-1][1] == mask.shape == (2,)
    assert y.grad_fn is not None and z.grad_fn is None
    seen.clear()
    _ = x * 3
    assert seen == []


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_observe_ops_nests_with_detect_anomaly():
    seen = []
    x = gn.tensor([-1.0], requires_grad=True)  # log(−1) = NaN (an −∞, as from log 0, may be intended: no error)
    with gn.autograd.detect_anomaly(), gn.autograd.observe_ops(lambda *a: seen.append(a[0].__name__)):
        with pytest.raises(RuntimeError, match="Log"):
            x.log()
    assert seen == []  # the anomaly error comes first, before the observers
    y = x.log()  # outside both: no anomaly error, no observer
    assert y.shape == (1,)


@pytest.mark.parametrize("build", [
    lambda x: ((x.tanh() * 2).sin() + 1).exp().sum(),  # a chain: walked without the heap
    lambda x: (lambda p: (p * p).sum())(x.tanh()),  # one op input used twice by one node
    lambda x: (lambda p: (p + p.sin() * p).sum())(x.exp()),  # a diamond: p reaches the sum by two paths
    lambda x: (lambda p, q: (p * q + q).tanh().sum())(x.sin(), x.cos() * 3),  # two branches of different depth
    lambda x: (lambda p: (p.tanh() * p.sigmoid()).sum() + p.sum())(x * 1.5),  # a chain that rejoins later
])
def test_walk_orders_chains_diamonds_and_repeats_like_torch(build):
    values = np.linspace(-1.2, 0.9, 6)
    x = gn.tensor(values, requires_grad=True)
    build(x).backward()
    tx = torch.tensor(values, requires_grad=True)
    build(tx).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_no_grad_decorator_restores_the_mode_through_recursion():
    @gn.no_grad()
    def depth(n):
        assert not gn.is_grad_enabled()
        return 0 if n == 0 else 1 + depth(n - 1)

    assert gn.is_grad_enabled()
    assert depth(3) == 3
    assert gn.is_grad_enabled()
    with gn.no_grad():
        with gn.enable_grad():
            assert gn.is_grad_enabled()
        with gn.set_grad_enabled(True):
            assert gn.is_grad_enabled()
        assert not gn.is_grad_enabled()
    assert gn.is_grad_enabled()


def _exact_ops():
    from glassnet.autograd import Function

    found, stack = [], [Function]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__dict__.get("exact_gradients"):
            found.append(cls)
    return found


def test_ops_claiming_exact_gradients_return_them_on_every_registry_sample():
    # The walk skips its shape/dtype check for ops that claim exact gradients: check each claim on every sample of
    # the op registry (both dtypes, broadcasting, 0-d and empty inputs), calling the nodes' backward directly.
    from opinfo import ALL_OPS, as_list, floating, make_arrays

    claimed = set(_exact_ops())
    assert claimed, "no op claims exact gradients: then this test and the flag can go"
    seen = set()
    rng = np.random.default_rng(0)
    for op in ALL_OPS:
        for sample in op.samples:
            for dtype in (np.float32, np.float64):
                xs = [gn.tensor(a, requires_grad=True) for a in make_arrays(op, sample, dtype)]
                try:
                    outs = floating(as_list(op.call(gn, *xs, **sample.kwargs)))
                except Exception:
                    continue
                stack = [o.grad_fn for o in outs if o.grad_fn is not None]
                while stack:
                    node = stack.pop()
                    stack.extend(i.grad_fn for i in node.inputs if isinstance(i, gn.Tensor) and i.grad_fn is not None)
                    if type(node) not in claimed:
                        continue
                    seen.add(type(node))
                    gy = rng.standard_normal(node._out.shape).astype(node._out.dtype)
                    gxs = node.backward(gy)
                    gxs = gxs if isinstance(gxs, tuple) else (gxs,)
                    for inp, gx in zip(node.inputs, gxs):
                        if gx is None or not isinstance(inp, gn.Tensor) or not inp.requires_grad:
                            continue
                        where = f"{node.name} on {op.name}[{sample}] {np.dtype(dtype).name}"
                        # (NumPy's 0-d math gives scalars: they have a shape and a dtype, and the walk takes them.)
                        assert isinstance(gx, (np.ndarray, np.generic)), where
                        assert gx.shape == inp.shape and gx.dtype == inp.dtype, where
    assert seen == claimed, f"ops claiming exact gradients but never exercised: {claimed - seen}"


def test_a_root_gradient_of_another_dtype_and_a_hook_changing_shape():
    x = gn.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
    y = x.tanh()
    y.backward(gn.tensor(np.ones((2, 2)), dtype=gn.float64))  # cast to float32 on entry, as torch does
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), 1 - np.tanh(x.detach().numpy()) ** 2, rtol=1e-6)
    z = x.tanh()
    z.register_hook(lambda g: g.sum(0))
    with pytest.raises(RuntimeError, match=r"hook returned a gradient of shape \(2,\) for a tensor of shape \(2, 2\)"):
        z.sum().backward()


def test_input_requires_grad_matches_needs_input_grad():
    class Probe(Function):
        def forward(self, a, b, c):
            return a + b + c

        def backward(self, gy):
            Probe.seen = (self.needs_input_grad, tuple(self.input_requires_grad(i) for i in range(3)))
            return gy, gy, None

    x = gn.ones(2, requires_grad=True)
    Probe.apply(x, gn.ones(2), np.ones(2)).sum().backward()
    assert Probe.seen == ((True, False, False), (True, False, False))
