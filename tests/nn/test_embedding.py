"""Embedding: PyTorch's weight name, N(0, 1) init, padding_idx, from_pretrained, numbers and errors."""

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn as nn

from .helpers import compare, same_names_and_shapes


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [{}, {"padding_idx": 0}, {"padding_idx": -1}])
def test_embedding_matches_pytorch(kwargs, dtype):
    torch.manual_seed(0)
    ours, theirs = nn.Embedding(10, 4, **kwargs), torch.nn.Embedding(10, 4, **kwargs)
    same_names_and_shapes(ours, theirs)
    assert repr(ours) == repr(theirs)
    ids = np.array([[0, 3, 9, 3], [9, 9, 1, 0]], dtype=np.int64)
    compare(ours, theirs, [ids], dtype=dtype)
    if ours.padding_idx is not None:
        assert not ours.weight.grad.numpy()[ours.padding_idx].any()


def test_embedding_init():
    gn.manual_seed(0)
    emb = nn.Embedding(1000, 64, padding_idx=2)
    w = emb.weight.detach().numpy()
    assert abs(w.std() - 1) < 0.02 and abs(w.mean()) < 0.02
    assert not w[2].any()
    assert emb.padding_idx == 2 and nn.Embedding(5, 2, padding_idx=-2).padding_idx == 3


def test_from_pretrained():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    emb = nn.Embedding.from_pretrained(gn.tensor(table))
    assert not emb.weight.requires_grad and emb.weight.shape == (4, 3)
    np.testing.assert_array_equal(emb(gn.tensor([2, 0])).numpy(), table[[2, 0]])
    trainable = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=1)
    assert trainable.weight.requires_grad and trainable.padding_idx == 1
    assert trainable.weight.detach().numpy()[1].any()  # pretrained rows are kept, as in PyTorch
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(table), freeze=False, padding_idx=1)
    assert repr(trainable) == repr(theirs)
    with pytest.raises(ValueError, match="2-D"):
        nn.Embedding.from_pretrained(np.zeros(3))


def test_embedding_errors():
    emb = nn.Embedding(10, 3)
    with pytest.raises(IndexError, match=r"Embedding\(10, 3\) got id 12 in input of shape \(2,\); ids must be in"):
        emb(gn.tensor([1, 12]))
    with pytest.raises(IndexError, match="got id -1"):
        emb(gn.tensor([-1]))
    with pytest.raises(TypeError, match="integer ids"):
        emb(gn.tensor([1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(3, 2, padding_idx=3)
