"""Tests of glassnet/ops/shape.py: the generated OpInfo checks, then indexing in all its forms (against torch),
splitting, and the errors of bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, basic_indices, integer_array_indices
from opinfo import SHAPE, check_against_torch, generated_tests

import glassnet as gn
import glassnet.nn.functional as F

(test_forward_matches_torch, test_grad_matches_torch, test_gradcheck, test_gradgradcheck,
 test_gradgrad_matches_torch) = generated_tests(SHAPE)

X = np.arange(24.0).reshape(2, 3, 4) / 7


def idx(L, values):
    return L.tensor(np.array(values))


INDICES = {
    "int": lambda L, a: a[1],
    "0d_int_tensor": lambda L, a: a[L.tensor(1)],
    "numpy_int": lambda L, a: a[np.int64(1), -1],
    "negative_slice": lambda L, a: a[:, -2:],
    "step": lambda L, a: a[..., ::3],
    "slice_past_end": lambda L, a: a[5:],
    "none_everywhere": lambda L, a: a[None, :, None, 1, None],
    "ellipsis_middle": lambda L, a: a[0, ..., 2],
    "bool_true": lambda L, a: a[True],
    "mask_values": lambda L, a: a[a > 1],
    "mask_empty": lambda L, a: a[a > 100],
    "mask_full": lambda L, a: a[idx(L, np.ones((2, 3, 4), bool))],
    "mask_leading": lambda L, a: a[idx(L, [True, False])],
    "mask_2d_then_slice": lambda L, a: a[idx(L, [[True, False, True], [False, True, True]]), 1:],
    "mask_then_int": lambda L, a: a[idx(L, [True, False]), 1],
    "repeated_ints": lambda L, a: a[idx(L, [1, 1, 0, 1])],
    "repeated_list": lambda L, a: a[[0, 0, 0]],
    "negative_array": lambda L, a: a[idx(L, [-1, -2])],
    "two_arrays_adjacent": lambda L, a: a[:, idx(L, [0, 2, 0]), idx(L, [1, 1, 3])],
    "two_arrays_apart": lambda L, a: a[idx(L, [0, 1]), :, idx(L, [1, 0])],
    "array_and_int_apart": lambda L, a: a[1, :, idx(L, [3, 3])],
    "int_and_array_adjacent": lambda L, a: a[:, 1, idx(L, [0, 0])],
    "array_after_ellipsis": lambda L, a: a[..., idx(L, [0, 0, 3])],
    "array_after_slice": lambda L, a: a[1:, idx(L, [0, 0])],
    "none_then_array": lambda L, a: a[None, idx(L, [1, 1])],
    "broadcast_arrays": lambda L, a: a[idx(L, [[0], [1]]), idx(L, [[0, 1, 2]])],
    "array_2d": lambda L, a: a[:, idx(L, [[0, 1], [1, 1]])],
    "lists_in_tuple": lambda L, a: a[[0, 1], [2, 2]],
    "empty_array": lambda L, a: a[idx(L, np.zeros(0, dtype=np.int64))],
}


@pytest.mark.parametrize("name", list(INDICES))
def test_indexing_matches_torch_values_and_gradients(name):
    """Every index form gives torch's result, and its gradient scatters back (repeats add up) to second order."""
    check_against_torch(INDICES[name], X, second=True)


def test_repeated_indices_accumulate_gradient():
    x = gn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[gn.tensor([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 1.0])


def test_getitem_of_0d_and_zero_size():
    s = gn.tensor(2.5, requires_grad=True)
    assert s[...].shape == () and s[None].shape == (1,)
    z = gn.zeros(0, 3, requires_grad=True)
    assert z[:, 1].shape == (0,)
    z[:, 1].sum().backward()
    assert z.grad.shape == (0, 3)


@pytest.mark.parametrize("index,pattern", [
    (5, r"index 5 is out of range for dim 0 of size 2 \(shape \(2, 3\)\)"),
    ((0, -4), r"index -4 is out of range for dim 1 of size 3"),
    ((slice(None), [0, 3]), r"index 3 is out of range for dim 1 of size 3"),
    ((0, 0, 0), r"too many indices \(3\) for a tensor of shape \(2, 3\)"),
    (np.array([True, False, True]), r"mask of shape \(3,\) does not match"),
    (gn.tensor([0.5]), r"must be integer or bool, not float32"),
])
def test_bad_index_raises_index_error_naming_the_shape(index, pattern):
    x = gn.ones(2, 3, requires_grad=True)
    with pytest.raises(IndexError, match=pattern):
        x[index]


def test_setitem_refuses_tensors_that_require_grad_but_works_under_no_grad():
    x = gn.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="setitem"):
        x[0] = 1.0
    with gn.no_grad():
        x[gn.tensor([0, 2])] = gn.tensor([1.0, 2.0])
    np.testing.assert_array_equal(x.data, [1.0, 0.0, 2.0])


@pytest.mark.parametrize("n,size", [(6, 2), (5, 2), (4, 4), (3, 5), (0, 2)])
def test_split_and_chunk_pieces_match_torch(n, size):
    ours, theirs = gn.arange(n).split(size), torch.arange(n).split(size)
    assert [t.tolist() for t in ours] == [t.tolist() for t in theirs]
    ours, theirs = gn.arange(n).chunk(size), torch.arange(n).chunk(size)
    assert [t.tolist() for t in ours] == [t.tolist() for t in theirs]


def test_split_cat_round_trip_gradient():
    x = gn.tensor(np.arange(10.0).reshape(2, 5), requires_grad=True)
    parts = gn.split(x, [1, 3, 1], dim=1)
    (gn.cat([p * (k + 1) for k, p in enumerate(parts)], dim=1)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[1, 2, 2, 2, 3]] * 2)


def test_cat_and_stack_promote_dtypes_like_torch():
    a, b = gn.tensor([1, 2]), gn.tensor([0.5, 1.5])
    assert gn.cat([a, b]).dtype == gn.float32 and gn.stack([a, b]).dtype == gn.float32
    assert gn.cat([a, gn.tensor([3], dtype=gn.int32)]).dtype == gn.int64


def test_shape_methods_and_aliases():
    x = gn.tensor(np.arange(6.0).reshape(2, 3))
    assert x.view(3, 2).shape == (3, 2) and x.reshape((6,)).shape == (6,) and x.view_as(gn.ones(6)).shape == (6,)
    assert x.t().shape == (3, 2) and x.swapaxes(0, 1).shape == (3, 2) and x.broadcast_to(4, 2, 3).shape == (4, 2, 3)
    assert gn.reshape(x, (3, 2)).shape == (3, 2) and gn.unsqueeze(x, 0).shape == (1, 2, 3)
    assert gn.flatten(x).shape == (6,) and gn.permute(x, (1, 0)).shape == (3, 2)
    np.testing.assert_array_equal(x.unflatten(1, (3, 1)).squeeze(-1).data, x.data)


@pytest.mark.parametrize("call,error,pattern", [
    (lambda x: x.reshape(4, 2), ValueError, r"reshape.*\(2, 3\).*\(4, 2\)"),
    (lambda x: x.reshape(-1, -1), ValueError, "only one dimension can be -1"),
    (lambda x: x.view(4, -1), ValueError, r"reshape.*\(2, 3\)"),
    (lambda x: x.expand(3, 3), ValueError, r"expand.*\(2, 3\).*\(3, 3\)"),
    (lambda x: x.expand(3), ValueError, r"expand.*\(2, 3\)"),
    (lambda x: x.expand(-1, 2, 3), ValueError, r"expand: -1 is not allowed for the new leading dims"),
    (lambda x: x.permute(0, 0), ValueError, r"permute.*\(2, 3\)"),
    (lambda x: x.permute(0), ValueError, "permute"),
    (lambda x: x.permute(0, 5), IndexError, "permute: dim 5 is out of range for a tensor with 2 dims"),
    (lambda x: x.transpose(0, 2), IndexError, "transpose: dim 2 is out of range"),
    (lambda x: x.squeeze(2), IndexError, "squeeze: dim 2"),
    (lambda x: x.unsqueeze(4), IndexError, "unsqueeze: dim 4"),
    (lambda x: x.flatten(0, 5), IndexError, "flatten"),
    (lambda x: x.unflatten(1, (2, 2)), ValueError, r"\(2, 3\)"),
    (lambda x: x.repeat(2), ValueError, "repeat: 1 repeat counts for a tensor of 2 dims"),
    (lambda x: x.t().t().T.mT.reshape(2, 3, 1).t(), ValueError, r"t: expected at most 2 dims"),
    (lambda x: gn.cat([x, gn.ones(2, 2)]), ValueError, r"cat.*\(2, 3\).*\(2, 2\)"),
    (lambda x: gn.cat([]), ValueError, "cat"),
    (lambda x: gn.cat([x, x], dim=2), IndexError, "cat: dim 2"),
    (lambda x: gn.stack([x, gn.ones(3, 2)]), ValueError, r"stack.*\(2, 3\).*\(3, 2\)"),
    (lambda x: gn.split(x, [1, 3], dim=1), ValueError, r"split.*\[1, 3\].*\(2, 3\)"),
    (lambda x: gn.split(x, 0), ValueError, "split"),
    (lambda x: x.chunk(0), ValueError, "chunk"),
    (lambda x: F.pad(x, (1,)), ValueError, "pad"),
    (lambda x: F.pad(x, (1, 1, 1, 1, 1, 1)), ValueError, "pad"),
    (lambda x: F.pad(x, (1, 1), mode="wrap"), ValueError, "pad: mode must be"),
    (lambda x: F.pad(x, (3, 0), mode="reflect"), ValueError, r"pad: reflect padding \(3, 0\) must be smaller"),
])
def test_bad_shapes_raise_errors_naming_op_and_shapes(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(gn.ones(2, 3, requires_grad=True))


def test_iteration_and_len():
    x = gn.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    rows = list(x)
    assert len(rows) == len(x) == 3 and rows[1].tolist() == [2.0, 3.0]
    sum(r.sum() for r in rows).backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((3, 2)))
    with pytest.raises(TypeError, match="0-d"):
        len(gn.tensor(1.0))


# ----- Hypothesis: random indices ---------------------------------------------------------------------
@given(data=st.data(), shape=array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
def test_random_basic_indices_match_numpy_and_scatter_back(data, shape):
    index = data.draw(basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    x = np.arange(float(np.prod(shape))).reshape(shape)
    t = gn.tensor(x, requires_grad=True)
    out = t[index]
    np.testing.assert_array_equal(out.data, x[index])
    v = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(gn.tensor(v))
    expected = np.zeros(shape)
    expected[index] += v
    np.testing.assert_array_equal(t.grad.data, expected)


@given(data=st.data(), shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
def test_random_integer_array_indices_accumulate_repeats(data, shape):
    index = data.draw(integer_array_indices(shape, result_shape=array_shapes(min_dims=0, max_dims=2, max_side=5)))
    x = np.arange(float(np.prod(shape))).reshape(shape)
    t = gn.tensor(x, requires_grad=True)
    out = t[index]
    np.testing.assert_array_equal(out.data, x[index])
    v = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(gn.tensor(v))
    expected = np.zeros(shape)
    np.add.at(expected, index, v)
    np.testing.assert_allclose(t.grad.data, expected, rtol=1e-12)
    check_against_torch(lambda L, a: a[tuple(L.tensor(i) for i in index)], x)
