"""Tests of glassnet/ops/reduction.py: the generated OpInfo checks, ties and zeros, dtypes, stability, errors,
and Hypothesis properties over random shapes and dims."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from opinfo import REDUCTION, assert_close, check_against_torch, generated_tests

import glassnet as gn

(test_forward_matches_torch, test_grad_matches_torch, test_gradcheck, test_gradgradcheck,
 test_gradgrad_matches_torch) = generated_tests(REDUCTION)

TIES = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, -1.0]])

TIE_CASES = {
    "amax": lambda L, x: x.amax(),
    "amax_dim": lambda L, x: x.amax(1),
    "amin_dim": lambda L, x: x.amin(0),
    "max_all": lambda L, x: x.max(),
    "min_all": lambda L, x: x.min(),
    "max_dim": lambda L, x: x.max(1),  # the gradient goes to the index returned (the first maximum)
    "min_dim": lambda L, x: x.min(dim=1, keepdim=True),
    "max_dim_0": lambda L, x: x.max(0)[0],
}


@pytest.mark.parametrize("name", list(TIE_CASES))
def test_ties_share_the_gradient_like_torch(name):
    check_against_torch(TIE_CASES[name], TIES, second=True)


def test_argmax_argmin_pick_the_first_of_ties():
    x = gn.tensor(TIES)
    assert x.argmax().item() == 1 and x.argmin().item() == 5
    np.testing.assert_array_equal(x.argmax(1).data, [1, 0])
    np.testing.assert_array_equal(x.argmin(0, keepdim=True).data, [[0, 1, 1]])
    values, indices = x.max(1)
    np.testing.assert_array_equal(values.data, [3.0, 2.0])
    np.testing.assert_array_equal(indices.data, [1, 0])
    assert indices.dtype == gn.int64
    result = x.min(dim=0)  # named fields, as torch's (values, indices)
    assert result.values.tolist() == [1.0, 2.0, -1.0] and result.indices.tolist() == [0, 1, 1]


@pytest.mark.parametrize("x", [
    [[1.5, 0.0, 2.0], [0.0, 0.0, 3.0]],  # one zero in the first row, two in the second
    [[1.5, 0.0, 2.0], [0.0, 0.5, 3.0]],
    [0.0, 2.0, -1.0, 4.0],
    [0.0],
])
@pytest.mark.parametrize("dim", [None, 0, -1])
def test_prod_with_zeros_matches_torch_to_second_order(x, dim):
    fn = (lambda L, t: t.prod()) if dim is None else (lambda L, t: t.prod(dim))
    check_against_torch(fn, np.array(x), second=True)


def test_prod_with_zeros_gradgradcheck():
    x = gn.tensor(np.array([[1.5, 0.0, 2.0], [0.0, 0.0, 3.0]]), requires_grad=True)
    assert gn.autograd.gradgradcheck(lambda t: t.prod(1), [x])
    assert gn.autograd.gradgradcheck(lambda t: t.prod(), [x])


def test_std_of_constant_has_zero_gradient_like_torch():
    check_against_torch(lambda L, x: x.std(), np.full(4, 2.0))
    check_against_torch(lambda L, x: x.std(1), np.array([[1.0, 1.0], [1.0, 3.0]]))


def test_var_std_corrections_match_torch():
    x = np.random.default_rng(0).standard_normal((3, 5))
    for kw in ({}, {"correction": 0}, {"correction": 2}, {"unbiased": False}, {"unbiased": True}):
        check_against_torch(lambda L, t, kw=kw: t.var(1, **kw), x)
        check_against_torch(lambda L, t, kw=kw: t.std(0, keepdim=True, **kw), x)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_reductions_of_empty_tensors_match_torch():
    empty = np.zeros((0, 3))
    for fn in (lambda L, x: x.sum(), lambda L, x: x.sum(0), lambda L, x: x.mean(0), lambda L, x: x.prod(0),
               lambda L, x: x.mean(1)):
        check_against_torch(fn, empty)


def test_sum_dtypes_follow_torch():
    assert gn.tensor([1, 2]).sum().dtype == gn.int64
    assert gn.tensor([1, 2], dtype=gn.int32).sum().dtype == gn.int64
    assert gn.tensor([True, True, False]).sum().item() == 2
    assert gn.tensor([1, 2]).sum(dtype=gn.float64).dtype == gn.float64
    assert gn.tensor([1.0, 2.0]).sum().dtype == gn.float32
    assert gn.tensor([2, 3]).prod().item() == 6


def test_reductions_accept_numpy_style_axis_keepdims():
    x = gn.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.sum(axis=1, keepdims=True).data, [[3.0], [12.0]])
    np.testing.assert_array_equal(x.mean(axis=0).data, [1.5, 2.5, 3.5])


def test_logsumexp_is_stable_for_large_and_infinite_values():
    check_against_torch(lambda L, x: x.logsumexp(1), np.array([[1000.0, 1000.0, -1000.0], [-1e4, -1e4, -1e4]]))
    with np.errstate(all="ignore"):
        out = gn.tensor([-np.inf, -np.inf]).logsumexp(0)
    assert np.isneginf(out.item())
    np.testing.assert_allclose(gn.tensor([np.inf, 1.0]).logsumexp(0).item(), np.inf)


@pytest.mark.parametrize("call,name", [
    (lambda x: x.sum(3), "sum"), (lambda x: x.mean(-4), "mean"), (lambda x: x.amax(2), "amax"),
    (lambda x: x.argmax(5), "argmax"), (lambda x: x.var(3), "var"), (lambda x: x.logsumexp(7), "logsumexp"),
    (lambda x: x.prod(9), "prod"), (lambda x: x.max(4), "max"),
])
def test_dim_out_of_range_names_the_op_and_dims(call, name):
    with pytest.raises(IndexError) as info:
        call(gn.ones(2, 3))
    assert name in str(info.value) and "out of range" in str(info.value) and "2 dims" in str(info.value)


def test_reducing_an_empty_dim_without_identity_raises():
    with pytest.raises(RuntimeError, match=r"amax.*\(0, 3\)"):
        gn.zeros(0, 3).amax(0)
    with pytest.raises(RuntimeError, match=r"argmax.*\(0, 3\)"):
        gn.zeros(0, 3).argmax()
    with pytest.raises(ValueError, match="repeats"):
        gn.ones(2, 3).sum((1, -1))


def test_mean_and_var_of_integers_raise_type_error():
    with pytest.raises(TypeError, match="mean.*int64"):
        gn.tensor([1, 2]).mean()
    with pytest.raises(TypeError, match="^std: .*int64"):  # names the op the user called
        gn.tensor([1, 2]).std()


def test_gather_scatters_its_gradient_with_repeats():
    check_against_torch(lambda L, x: x.gather(0, L.tensor(np.array([[0, 0, 1], [0, 0, 0]]))), TIES, second=True)
    with pytest.raises(IndexError, match="gather"):
        gn.ones(2, 3).gather(1, gn.tensor([[3]]))
    with pytest.raises(ValueError, match=r"gather: index of shape \(3, 1\) is larger than the input \(2, 3\)"):
        gn.ones(2, 3).gather(1, gn.tensor([[0], [0], [0]]))


def test_gather_with_a_smaller_index_reads_the_leading_block_like_torch():
    x = np.arange(12.0).reshape(3, 4)
    check_against_torch(lambda L, t: t.gather(1, L.tensor(np.array([[2, 0]]))), x, second=True)
    check_against_torch(lambda L, t: t.gather(0, L.tensor(np.array([[2], [0], [1], [1]]))), x, second=True)


# ----- Hypothesis: random shapes and dims ---------------------------------------------------------------
@st.composite
def shape_and_dims(draw):
    shape = draw(array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4))
    ndim = len(shape)
    dims = draw(st.one_of(st.none(), st.lists(st.integers(-max(ndim, 1), max(ndim, 1) - 1), min_size=1, max_size=3)))
    if dims is not None:
        dims = sorted({d % max(ndim, 1) for d in dims})
        dims = dims[0] if len(dims) == 1 else tuple(dims)
    return shape, dims, draw(st.booleans())


REDUCERS = {
    "sum": lambda L, x, d, k: x.sum() if d is None else x.sum(d, keepdim=k),
    "mean": lambda L, x, d, k: x.mean() if d is None else x.mean(d, keepdim=k),
    "amax": lambda L, x, d, k: x.amax() if d is None else x.amax(d, keepdim=k),
    "amin": lambda L, x, d, k: x.amin() if d is None else x.amin(d, keepdim=k),
    "logsumexp": lambda L, x, d, k: x.logsumexp(tuple(range(x.ndim)) if d is None else d, keepdim=k),
    "var": lambda L, x, d, k: x.var(correction=0) if d is None else x.var(d, keepdim=k, correction=0),
    "std": lambda L, x, d, k: x.std() if d is None else x.std(d, keepdim=k),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")  # std over a size-1 dim: nan in both
@pytest.mark.parametrize("name", list(REDUCERS))
@given(case=shape_and_dims(), seed=st.integers(0, 2**16))
def test_reductions_over_random_shapes_match_torch(name, case, seed):
    shape, dims, keepdim = case
    x = np.random.default_rng(seed).standard_normal(shape)
    if name == "std" and x.size <= 1:
        return  # std of one element is nan (division by n - 1 = 0) in both; its gradient too
    fn = REDUCERS[name]
    ours = gn.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out, tout = fn(gn, ours, dims, keepdim), fn(torch, theirs, dims, keepdim)
    assert_close(out.data, tout, np.float64, f"{name}{shape} dims={dims}")
    v = np.random.default_rng(seed + 1).standard_normal(out.shape)
    out.backward(gn.tensor(v))
    tout.backward(torch.tensor(v))
    assert_close(ours.grad.data, theirs.grad, np.float64, f"d{name}/dx")
