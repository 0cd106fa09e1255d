"""Tests of glassnet/ops/embedding.py through F.embedding: the generated OpInfo checks (forward, first and second
gradients against finite differences and PyTorch), then repeated indices, padding_idx, max_norm and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from opinfo import OpInfo, S, check_forward, check_grad_vs_torch, check_gradgrad_vs_torch, generated_tests

import glassnet as gn
import glassnet.nn.functional as F

IDX = np.array([[0, 2, 4], [2, 2, 1]])  # repeated indices: their gradients must add up


def _embedding(L, w, index=None, **kw):
    return L.nn.functional.embedding(L.tensor(index), w, **kw)


EMBEDDING = [
    OpInfo("F.embedding", _embedding,
           [S((5, 3), index=IDX, desc="repeats"), S((4, 2), index=np.array(3), desc="0d-index"),
            S((6, 2), index=np.array([[[5, 0], [0, 5]]]), desc="3d-index")]),
]

(test_forward_matches_torch, test_grad_matches_torch, test_gradcheck, test_gradgradcheck,
 test_gradgrad_matches_torch) = generated_tests(EMBEDDING)

# By design these gradients are not the derivative of the forward (the padding row is frozen; scale_grad_by_freq
# rescales), so finite differences do not apply: they are checked against PyTorch only.
NOT_DERIVATIVES = OpInfo("F.embedding", _embedding, [
    S((5, 3), index=IDX, padding_idx=2, desc="padding_idx"),
    S((5, 3), index=IDX, padding_idx=-1, desc="padding_idx=-1"),
    S((6, 2), index=np.array([[[5, 0], [0, 5]]]), padding_idx=0, desc="3d-index-padding"),
    S((5, 3), index=IDX, scale_grad_by_freq=True, desc="scale_grad_by_freq"),
    S((6, 2), index=np.array([[[5, 0], [0, 5]]]), padding_idx=0, scale_grad_by_freq=True, desc="scale-and-padding"),
    S((3, 4), index=np.zeros((0,), dtype=np.int64), desc="empty-index"),
])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("sample", NOT_DERIVATIVES.samples, ids=str)
def test_special_gradients_match_torch(sample, dtype):
    check_forward(NOT_DERIVATIVES, sample, dtype)
    check_grad_vs_torch(NOT_DERIVATIVES, sample, dtype)
    if "scale" not in sample.desc and "empty" not in sample.desc:  # torch's double backward ignores the scale
        check_gradgrad_vs_torch(NOT_DERIVATIVES, sample)


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_gradient_of_the_gradient_is_its_adjoint(padding_idx):
    """The weight gradient is linear in dL/dy: its own gradient G ↦ d<dW, G>/d(dL/dy) must be the adjoint map."""
    rng = np.random.default_rng(0)
    w = gn.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    gy = gn.tensor(rng.standard_normal((2, 3, 3)), requires_grad=True)
    big = rng.standard_normal((5, 3))
    out = F.embedding(gn.tensor(IDX), w, padding_idx=padding_idx, scale_grad_by_freq=True)
    (dw,) = gn.grad(out, w, gy, create_graph=True)
    (dgy,) = gn.grad((dw * gn.tensor(big)).sum(), gy)
    counts = np.bincount(IDX.reshape(-1), minlength=5)
    expected = big[IDX] / counts[IDX][..., None]
    if padding_idx is not None:
        expected[IDX == padding_idx] = 0
    np.testing.assert_allclose(dgy.data, expected, rtol=1e-12)


def test_repeated_indices_add_and_padding_row_gets_nothing():
    w = gn.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    out = F.embedding(gn.tensor([[1, 1, 0], [3, 1, 0]]), w, padding_idx=0)
    np.testing.assert_array_equal(out.data[0, 0], [3.0, 4.0, 5.0])
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [[0, 0, 0], [3, 3, 3], [0, 0, 0], [1, 1, 1]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int64, np.int32])
def test_dtypes(dtype, index_dtype):
    w = gn.tensor(np.ones((5, 2), dtype=dtype), requires_grad=True)
    out = F.embedding(gn.tensor(np.array([1, 4, 1], dtype=index_dtype)), w)
    assert out.dtype == dtype and out.shape == (3, 2)
    out.sum().backward()
    assert w.grad.dtype == dtype


def test_max_norm_renormalises_looked_up_rows_like_torch():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 4)) * 3
    index = np.array([[0, 2], [2, 5]])
    ours_w, theirs_w = gn.tensor(w.copy(), requires_grad=True), torch.tensor(w.copy(), requires_grad=True)
    ours = F.embedding(gn.tensor(index), ours_w, max_norm=1.5)
    theirs = torch.nn.functional.embedding(torch.tensor(index), theirs_w, max_norm=1.5)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours_w.data, theirs_w.detach().numpy(), rtol=1e-12)  # rows 0, 2, 5 changed in place
    assert np.all(np.linalg.norm(ours.data, axis=-1) <= 1.5 + 1e-9)


@pytest.mark.parametrize("call,error,message", [
    (lambda w: F.embedding(gn.tensor([0, 5]), w), IndexError,
     r"embedding: index 5 is out of range for a weight of 5 rows \(expected 0 <= index < 5; indices of shape \(2,\)\)"),
    (lambda w: F.embedding(gn.tensor([-1, 2]), w), IndexError, r"embedding: index -1 is out of range"),
    (lambda w: F.embedding(gn.tensor([0.0, 1.0]), w), TypeError,
     r"embedding: indices must be an integer tensor \(int64 or int32\), got float32"),
    (lambda w: F.embedding(gn.tensor([0, 1]), w[0]), ValueError,
     r"embedding: weight must be 2-D \(num_embeddings, embedding_dim\), got shape \(3,\)"),
    (lambda w: F.embedding(gn.tensor([0, 1]), w, padding_idx=5), ValueError,
     r"embedding: padding_idx=5 must be within num_embeddings=5"),
    (lambda w: F.embedding(gn.tensor([0, 1]), w, sparse=True), NotImplementedError, r"embedding: sparse gradients"),
])
def test_bad_input_is_explained(call, error, message):
    with pytest.raises(error, match=message):
        call(gn.tensor(np.zeros((5, 3)), requires_grad=True))
