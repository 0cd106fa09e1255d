"""Tests of glassnet/creation.py (and random.py): every factory against PyTorch's shapes, dtypes and values,
reproducible random streams, and bad arguments."""

import numpy as np
import pytest
import torch

import glassnet as gn

FACTORIES = {
    "tensor_float_list": lambda L: L.tensor([1.0, 2.0]),
    "tensor_int_list": lambda L: L.tensor([1, 2]),
    "tensor_bool": lambda L: L.tensor([True, False]),
    "tensor_mixed": lambda L: L.tensor([1, 2.5]),
    "tensor_float_scalar": lambda L: L.tensor(1.5),
    "tensor_int_scalar": lambda L: L.tensor(3),
    "tensor_bool_scalar": lambda L: L.tensor(False),
    "tensor_numpy_f64": lambda L: L.tensor(np.array([1.0, 2.0])),
    "tensor_numpy_i32": lambda L: L.tensor(np.array([1], dtype=np.int32)),
    "tensor_numpy_scalar": lambda L: L.tensor(np.float64(2.0)),
    "tensor_dtype": lambda L: L.tensor([1, 2], dtype=L.float64),
    "tensor_empty": lambda L: L.tensor([]),
    "tensor_nested_empty": lambda L: L.tensor([[], []]),
    "zeros": lambda L: L.zeros(2, 3),
    "zeros_tuple": lambda L: L.zeros((2, 3)),
    "zeros_0d": lambda L: L.zeros(()),
    "zeros_empty": lambda L: L.zeros(0, 2),
    "ones_dtype": lambda L: L.ones(2, dtype=L.int64),
    "full_float": lambda L: L.full((2,), 1.5),
    "full_int": lambda L: L.full((2, 2), 3),
    "full_bool": lambda L: L.full((2,), True),
    "full_dtype": lambda L: L.full((2,), 3, dtype=L.float32),
    "arange": lambda L: L.arange(5),
    "arange_float_step": lambda L: L.arange(0, 1, 0.25),
    "arange_start_step": lambda L: L.arange(2, 7, 2),
    "arange_negative": lambda L: L.arange(5, 0, -1),
    "arange_float_end": lambda L: L.arange(2.5),
    "arange_dtype": lambda L: L.arange(3, dtype=L.float64),
    "linspace": lambda L: L.linspace(0, 1, 5),
    "linspace_one": lambda L: L.linspace(0, 1, 1),
    "linspace_none": lambda L: L.linspace(0, 1, 0),
    "linspace_int": lambda L: L.linspace(0, 10, 3, dtype=L.int64),
    "eye": lambda L: L.eye(3),
    "eye_rect": lambda L: L.eye(2, 3),
    "eye_dtype": lambda L: L.eye(2, dtype=L.int64),
    "zeros_like": lambda L: L.zeros_like(L.tensor([1, 2])),
    "ones_like": lambda L: L.ones_like(L.tensor([1.0, 2.0], dtype=L.float64)),
    "full_like": lambda L: L.full_like(L.tensor([1, 2]), 7),
    "full_like_float_on_int": lambda L: L.full_like(L.tensor([1, 2]), 2.7),
    "ones_like_dtype": lambda L: L.ones_like(L.tensor([1, 2]), dtype=L.float32),
}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_factories_match_torch(name):
    ours, theirs = FACTORIES[name](gn), FACTORIES[name](torch)
    assert ours.shape == tuple(theirs.shape)
    assert str(ours.dtype).replace("bool_", "bool") == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.data.astype(float), theirs.numpy().astype(float), rtol=1e-7)


RANDOM = {
    "rand": lambda L: L.rand(2, 3), "rand_tuple": lambda L: L.rand((4,)),
    "randn": lambda L: L.randn(3, dtype=L.float64),
    "randint": lambda L: L.randint(0, 5, (3, 2)), "randint_high_size": lambda L: L.randint(5, (2,)),
    "rand_like": lambda L: L.rand_like(L.ones(2, dtype=L.float64)), "randn_like": lambda L: L.randn_like(L.ones(2, 2)),
    "randint_like": lambda L: L.randint_like(L.ones(3), 4), "randperm": lambda L: L.randperm(5),
    "empty": lambda L: L.empty(2, 3), "empty_like": lambda L: L.empty_like(L.ones(2, dtype=L.int64)),
}


@pytest.mark.parametrize("name", list(RANDOM))
def test_random_and_empty_factories_match_torch_shapes_and_dtypes(name):
    ours, theirs = RANDOM[name](gn), RANDOM[name](torch)
    assert ours.shape == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


def test_random_value_ranges():
    gn.manual_seed(0)
    u = gn.rand(1000)
    assert 0 <= u.data.min() and u.data.max() < 1 and abs(u.data.mean() - 0.5) < 0.05
    n = gn.randn(2000)
    assert abs(n.data.mean()) < 0.1 and abs(n.data.std() - 1) < 0.1
    r = gn.randint(-2, 3, (500,))
    assert set(r.tolist()) == {-2, -1, 0, 1, 2}
    assert sorted(gn.randperm(6).tolist()) == list(range(6))


def test_manual_seed_makes_streams_reproducible():
    gn.manual_seed(123)
    a = (gn.rand(3), gn.randn(2), gn.randint(0, 10, (4,)), gn.randperm(5))
    gn.manual_seed(123)
    b = (gn.rand(3), gn.randn(2), gn.randint(0, 10, (4,)), gn.randperm(5))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.data, y.data)
    gn.manual_seed(124)
    assert not np.array_equal(gn.rand(3).data, a[0].data)


def test_generator_is_a_private_stream():
    g1, g2 = gn.Generator(7), gn.Generator(7)
    gn.manual_seed(0)
    x = gn.randn(4, generator=g1)
    gn.rand(10)  # draws from the default stream do not disturb g2
    np.testing.assert_array_equal(x.data, gn.randn(4, generator=g2).data)
    state = g1.get_state()
    after = gn.rand(3, generator=g1)
    g1.set_state(state)
    np.testing.assert_array_equal(gn.rand(3, generator=g1).data, after.data)
    assert g1.manual_seed(7) is g1 and g1.initial_seed == 7
    with pytest.raises(TypeError, match="int seed"):
        gn.manual_seed(1.5)


def test_factories_with_requires_grad_are_leaves():
    for t in (gn.zeros(2, requires_grad=True), gn.ones(2, requires_grad=True), gn.randn(2, requires_grad=True),
              gn.rand(2, requires_grad=True), gn.full((2,), 1.0, requires_grad=True),
              gn.linspace(0, 1, 3, requires_grad=True), gn.eye(2, requires_grad=True),
              gn.tensor([1.0], requires_grad=True), gn.zeros_like(gn.ones(2), requires_grad=True)):
        assert t.requires_grad and t.is_leaf
    with pytest.raises(TypeError, match="floating"):
        gn.arange(3, requires_grad=True)


def test_default_dtype_for_factories():
    assert gn.zeros(1).dtype == gn.float32 and gn.rand(1).dtype == gn.float32 and gn.arange(1.0).dtype == gn.float32
    assert gn.get_default_dtype() == gn.float32
    assert gn.tensor([1.0], dtype=float).dtype == gn.float32 and gn.tensor([1.0], dtype=int).dtype == gn.int64
    assert gn.tensor([1], dtype=bool).dtype == gn.bool and gn.tensor([1], dtype="float64").dtype == gn.float64


@pytest.mark.parametrize("call,error,pattern", [
    (lambda: gn.zeros(-1), ValueError, r"invalid shape \(-1,\)"),
    (lambda: gn.ones(2.5), ValueError, "invalid shape"),
    (lambda: gn.arange(0, 5, 0), ValueError, "step must be non-zero"),
    (lambda: gn.linspace(0, 1, -1), ValueError, "steps must be non-negative"),
    (lambda: gn.randint(5, 5, (2,)), ValueError, r"empty range \[5, 5\)"),
    (lambda: gn.tensor(["x"]), TypeError, "unsupported"),
])
def test_bad_arguments_raise(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
