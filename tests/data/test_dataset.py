"""Dataset, TensorDataset, Subset, ConcatDataset, random_split."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.data import ConcatDataset, Dataset, Subset, TensorDataset, random_split


def test_dataset_is_abstract():
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Dataset())


def test_tensor_dataset_items_and_len():
    x = gn.tensor(np.arange(12, dtype=np.float32).reshape(6, 2))
    y = np.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[4]
    assert xi.tolist() == [8.0, 9.0] and int(yi.item()) == 4
    xb, yb = ds.get_batch([5, 0])
    assert xb.shape == (2, 2) and yb.tolist() == [5, 0]


def test_tensor_dataset_keeps_graph_when_grad_is_required():
    x = gn.tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    ds = TensorDataset(x)
    (row,) = ds[1]
    row.sum().backward()
    assert x.grad.numpy().tolist() == [[0, 0], [1, 1], [0, 0]]


def test_tensor_dataset_rejects_mismatched_first_dims():
    with pytest.raises(ValueError, match=r"\(5, 2\), \(4,\)"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_subset_and_concat():
    ds = TensorDataset(np.arange(10))
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3 and [int(sub[i][0].item()) for i in range(3)] == [7, 2, 5]
    cat = ConcatDataset([ds, sub])
    assert len(cat) == 13
    assert int(cat[9][0].item()) == 9 and int(cat[10][0].item()) == 7 and int(cat[-1][0].item()) == 5
    with pytest.raises(IndexError, match="13"):
        cat[13]
    assert len(ds + sub) == 13


def test_random_split_lengths_and_fractions_are_disjoint_and_deterministic():
    ds = TensorDataset(np.arange(10))
    a, b = random_split(ds, [7, 3], generator=gn.Generator(1))
    got = sorted(a.indices + b.indices)
    assert got == list(range(10)) and len(a) == 7 and len(b) == 3
    a2, _ = random_split(ds, [7, 3], generator=gn.Generator(1))
    a3, _ = random_split(ds, [7, 3], generator=gn.Generator(2))
    assert a.indices == a2.indices and a.indices != a3.indices
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=gn.Generator(0))
    assert [len(p) for p in parts] == [5, 3, 2]
    parts = random_split(TensorDataset(np.arange(11)), [0.5, 0.5], generator=gn.Generator(0))
    assert [len(p) for p in parts] == [6, 5]


def test_random_split_uses_default_generator():
    ds = TensorDataset(np.arange(20))
    gn.manual_seed(5)
    a = random_split(ds, [10, 10])[0].indices
    gn.manual_seed(5)
    assert random_split(ds, [10, 10])[0].indices == a


def test_random_split_bad_lengths():
    with pytest.raises(ValueError, match="summing to the dataset's length 10"):
        random_split(TensorDataset(np.arange(10)), [3, 3])
