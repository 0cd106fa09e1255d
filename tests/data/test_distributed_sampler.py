"""DistributedSampler: disjoint shards that together cover the dataset once per epoch (padded or cut to equal size)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glassnet import tensor
from glassnet.data import DataLoader, DistributedSampler, TensorDataset


def shards(n: int, world: int, **options) -> list[list[int]]:
    return [list(DistributedSampler(range(n), num_replicas=world, rank=r, **options)) for r in range(world)]


@given(n=st.integers(1, 200), world=st.integers(1, 9), shuffle=st.booleans(), epoch=st.integers(0, 5))
def test_every_sample_is_seen_once_per_epoch_and_the_padding_is_the_smallest_possible(n, world, shuffle, epoch):
    samplers = [DistributedSampler(range(n), num_replicas=world, rank=r, shuffle=shuffle, seed=7) for r in range(world)]
    for s in samplers:
        s.set_epoch(epoch)
    parts = [list(s) for s in samplers]
    per_rank = -(-n // world)
    assert [len(p) for p in parts] == [per_rank] * world == [len(s) for s in samplers]
    counts = Counter(i for p in parts for i in p)
    assert set(counts) == set(range(n))  # every sample seen
    assert sum(counts.values()) - n == per_rank * world - n  # only the padding repeats
    if n >= world:
        assert max(counts.values()) <= 2


@given(n=st.integers(1, 200), world=st.integers(1, 9))
def test_drop_last_gives_disjoint_equal_shards(n, world):
    if n < world:
        with pytest.raises(ValueError, match="leaves every rank empty"):
            DistributedSampler(range(n), num_replicas=world, rank=0, drop_last=True)
        return
    parts = shards(n, world, shuffle=True, drop_last=True)
    seen = [i for p in parts for i in p]
    assert len(seen) == len(set(seen)) == (n // world) * world
    assert all(len(p) == n // world for p in parts)


def test_the_order_is_shared_by_the_ranks_and_changes_with_the_epoch():
    epoch0 = shards(40, 4, shuffle=True, seed=3)
    again = shards(40, 4, shuffle=True, seed=3)
    assert epoch0 == again  # every rank computes the same permutation from (seed, epoch)
    later = [DistributedSampler(range(40), num_replicas=4, rank=r, seed=3) for r in range(4)]
    for s in later:
        s.set_epoch(1)
    assert [list(s) for s in later] != epoch0
    assert sorted(i for s in later for i in s) == list(range(40))
    assert shards(10, 3, shuffle=False) == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]


def test_a_loader_with_the_sampler_yields_this_ranks_samples():
    data = TensorDataset(tensor(list(range(10))))
    loader = DataLoader(data, batch_size=2, sampler=DistributedSampler(data, num_replicas=2, rank=1, shuffle=False))
    assert [b[0].tolist() for b in loader] == [[1, 3], [5, 7], [9]]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="rank must be in 0 … 1"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be a positive int"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
