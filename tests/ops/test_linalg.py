"""Tests of glassnet/ops/linalg.py: the generated OpInfo checks, then dtypes and the errors of bad input."""

import re

import numpy as np
import pytest
import torch
from opinfo import LINALG, check_against_torch, generated_tests

import glassnet as gn

(test_forward_matches_torch, test_grad_matches_torch, test_gradcheck, test_gradgradcheck,
 test_gradgrad_matches_torch) = generated_tests(LINALG)


def test_integer_matmul_matches_torch():
    a, b = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    out = gn.tensor(a) @ gn.tensor(b)
    assert out.dtype == gn.int64
    np.testing.assert_array_equal(out.data, (torch.tensor(a) @ torch.tensor(b)).numpy())


def test_matmul_promotes_mixed_dtypes():
    out = gn.ones(2, 3) @ gn.ones(3, dtype=gn.float64)
    assert out.dtype == gn.float64 and out.shape == (2,)
    assert (gn.ones(2, 3) @ gn.tensor([1, 2, 3])).dtype == gn.float32


@pytest.mark.parametrize("a,b,pattern", [
    ((2, 3), (4, 2), r"matmul: shapes \(2, 3\) and \(4, 2\) do not align \(inner dims 3 != 4\)"),
    ((3,), (4,), r"matmul: shapes \(3,\) and \(4,\)"),
    ((2, 3), (2,), r"matmul: shapes \(2, 3\) and \(2,\)"),
    ((2, 3, 4), (3, 4, 5), r"matmul: batch dims of \(2, 3, 4\) and \(3, 4, 5\) cannot be broadcast"),
    ((), (3,), r"matmul: both operands must have at least 1 dim"),
])
def test_matmul_bad_shapes_name_the_op_and_shapes(a, b, pattern):
    with pytest.raises(ValueError, match=pattern):
        gn.ones(*a, requires_grad=True) @ gn.ones(*b)


def test_matmul_of_bool_raises_type_error():
    with pytest.raises(TypeError, match="matmul.*bool"):
        gn.tensor([True]) @ gn.tensor([True])


def test_rmatmul_with_numpy_array():
    w = gn.tensor(np.eye(3), requires_grad=True)
    out = np.ones((2, 3)) @ w
    assert isinstance(out, gn.Tensor) and out.requires_grad and out.shape == (2, 3)


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("b i j, b j k -> b i k", [(2, 2, 3), (2, 3, 2)]),
    ("Ab,bC->AC", [(2, 3), (3, 2)]),
    ("...i,...i->...", [(2, 3, 4), (3, 4)]),
    ("i,i", [(3,), (3,)]),
    ("ij", [(2, 3)]),
    ("ji", [(2, 3)]),
])
def test_einsum_spellings_match_torch(eq, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    check_against_torch(lambda L, *xs: L.einsum(eq, *xs), *arrays, second=True)


def test_einsum_accepts_a_list_of_operands():
    a, b = gn.ones(2, 3), gn.ones(3, 4)
    np.testing.assert_array_equal(gn.einsum("ij,jk->ik", [a, b]).data, np.full((2, 4), 3.0))


@pytest.mark.parametrize("eq,shapes,pattern", [
    ("ij,jk->ik", [(2, 3), (4, 5)], r"einsum: subscript 'j' of 'ij,jk->ik' has size 3 in operand 0 but 4 in operand 1 "
                                    r"\(shapes \[\(2, 3\), \(4, 5\)\]\)"),
    ("ij,jk->ik", [(2, 3)], "names 2 operands but 1 were given"),
    ("ijk->i", [(2, 3)], r"subscripts 'ijk' do not fit an operand of shape \(2, 3\)"),
    ("ii->i", [(3, 2)], r"repeated subscript 'i' in 'ii' needs equal sizes, got shape \(3, 2\)"),
])
def test_einsum_errors_name_the_equation_and_shapes(eq, shapes, pattern):
    with pytest.raises(RuntimeError, match=pattern):  # as in PyTorch (and still a ValueError)
        gn.einsum(eq, *[gn.ones(*s) for s in shapes])


def test_linear_bad_shapes_name_the_op():
    import glassnet as gn
    import glassnet.nn.functional as F

    with pytest.raises(ValueError, match=r"linear: input of shape \(4, 5\) does not fit weight of shape \(2, 3\)"):
        F.linear(gn.ones(4, 5), gn.ones(2, 3))
    with pytest.raises(ValueError, match=r"linear: bias of shape \(3,\)"):
        F.linear(gn.ones(4, 3), gn.ones(2, 3), gn.ones(3))


def test_sum_rows_equals_the_axis_0_sum_for_arrays_and_tensors_and_any_dtype():
    from glassnet.ops.linalg import sum_rows

    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64, np.float32):  # the ones vector is cached per row count: dtypes alternate
        a = rng.standard_normal((7, 3)).astype(dtype)
        got = sum_rows(a)
        assert got.dtype == dtype and got.shape == (3,)
        np.testing.assert_allclose(got, a.sum(axis=0), rtol=1e-6 if dtype == np.float32 else 1e-13)
    t = gn.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    s = sum_rows(t)  # on the graph (create_graph backward): the plain sum, differentiable
    assert s.grad_fn is not None
    s.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.ones((4, 2)))


# ----- slogdet and logdet: hand-picked matrices (negative, singular, empty, a mixed batch) -------------------------
NEGATIVE = [[0.0, 1.0], [1.0, 0.0]]  # det −1
SINGULAR = [[1.0, 2.0], [2.0, 4.0]]
MIXED_BATCH = [[[1.0, 2.0], [3.0, 4.0]], [[2.0, 0.0], [0.0, 3.0]], NEGATIVE]


@pytest.mark.parametrize("a", [NEGATIVE, MIXED_BATCH, [[-3.0]], np.zeros((2, 0, 0))],
                         ids=["negative", "mixed-batch", "1x1", "empty"])
@pytest.mark.parametrize("fn", [lambda L, a: L.linalg.slogdet(a), lambda L, a: L.slogdet(a), lambda L, a: a.logdet()],
                         ids=["linalg.slogdet", "slogdet", "logdet"])
def test_slogdet_and_logdet_match_torch_on_negative_determinants(fn, a):
    check_against_torch(fn, a, second=True)  # logdet: NaN where det < 0, with gradient 0 there, as torch


@pytest.mark.parametrize("dtype", [gn.float32, gn.float64])
@pytest.mark.parametrize("a", [SINGULAR, np.zeros((2, 2)), [[1.0, 0.0], [0.0, 0.0]], np.ones((2, 3, 3))],
                         ids=["rank-1", "zeros", "diag-1-0", "batch-of-ones"])
def test_slogdet_of_singular_matrices_is_sign_0_and_minus_inf_as_torch(a, dtype):
    x = gn.tensor(a, dtype=dtype, requires_grad=True)
    t = torch.tensor(np.asarray(a), dtype=getattr(torch, str(dtype)), requires_grad=True)
    sign, logabsdet = gn.linalg.slogdet(x)
    tsign, tlogabsdet = torch.linalg.slogdet(t)
    np.testing.assert_array_equal(sign.data, tsign.detach().numpy())  # 0 (torch may say −0.0: equal)
    np.testing.assert_array_equal(logabsdet.data, tlogabsdet.detach().numpy())
    np.testing.assert_array_equal(gn.logdet(x).data, torch.logdet(t).detach().numpy())  # −inf
    # No derivative there: torch's gradient is ±inf and NaN (as its LU solve falls), glassnet's NaN; none finite.
    logabsdet.sum().backward()
    tlogabsdet.sum().backward()
    assert not np.isfinite(x.grad.data).any() and not np.isfinite(t.grad.numpy()).any()
    assert x.grad.dtype == dtype


def test_slogdet_of_a_batch_with_one_singular_matrix_keeps_the_others_gradients():
    a = np.array([SINGULAR, [[1.0, 2.0], [3.0, 4.0]]])
    x = gn.tensor(a, requires_grad=True)
    gn.linalg.slogdet(x).logabsdet.sum().backward()
    assert np.isnan(x.grad.data[0]).all()
    np.testing.assert_allclose(x.grad.data[1], np.linalg.inv(a[1]).T, rtol=1e-12)


def test_slogdet_returns_named_tuples_like_torch():
    a = gn.tensor(MIXED_BATCH)
    for result, fields in ((gn.linalg.slogdet(a), ("sign", "logabsdet")), (a.slogdet(), ("sign", "logabsdet"))):
        assert result._fields == fields and result.sign.shape == (3,) and result.logabsdet.shape == (3,)
    np.testing.assert_allclose((a.slogdet().sign * a.slogdet().logabsdet.exp()).data, np.linalg.det(a.data))


@pytest.mark.parametrize("fn", [gn.linalg.slogdet, gn.slogdet, gn.logdet])
@pytest.mark.parametrize("shape", [(2, 3), (3,), (2, 2, 3)])
def test_slogdet_and_logdet_of_non_square_input_name_the_op_and_shape(fn, shape):
    with pytest.raises(ValueError, match=r"linalg\.slogdet: expected square matrices.*" + re.escape(str(shape))):
        fn(gn.ones(*shape))


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-6), (np.float64, 1e-14)])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 4, 64), (3, 0), (0, 4)])
def test_sum_last_equals_the_last_axis_sum(dtype, tol, shape):
    from glassnet.ops.linalg import sum_last

    a = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    expected = a.sum(axis=-1, keepdims=True)
    got = sum_last(a)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * max(1, a.shape[-1]))
    for other in (a.astype(np.float16), (a * 10).astype(np.int64)):  # the plain sum
        np.testing.assert_array_equal(sum_last(other), other.sum(axis=-1, keepdims=True))
    if a.size:  # ∞, −∞ and NaN rows give what the plain sum gives
        a.reshape(-1, a.shape[-1])[0, 0] = np.nan
        a.reshape(-1, a.shape[-1])[-1, :2] = (np.inf, -np.inf) if a.shape[-1] > 1 else np.inf
        with np.errstate(invalid="ignore"):
            got, expected = sum_last(a), a.sum(axis=-1, keepdims=True)
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * a.shape[-1])  # NaN where NaN
