"""DistributedSampler: each rank of a data-parallel job gets its own disjoint shard of the dataset's indices."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy

from glassnet.data.dataloader import Sampler
from glassnet.data.dataset import Dataset


class DistributedSampler(Sampler):
    """Rank r of W ranks draws the indices r, r + W, r + 2W, … of one order shared by all ranks.

    The order is 0 … N − 1, or with `shuffle` a permutation drawn from `seed + epoch` (call `set_epoch(e)` at the
    start of every epoch, as in PyTorch, or every epoch repeats the first's order). So that every rank runs the same
    number of steps, the order is padded by repeating its first indices up to a multiple of W (every sample is seen
    at least once per epoch, a few twice), or with `drop_last` cut down to one (a few are not seen this epoch).

    `num_replicas` and `rank` default to the process group's world size and rank.
    """

    def __init__(
        self,
        dataset: Sequence | Dataset,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ):
        if num_replicas is None or rank is None:
            from glassnet import distributed

            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got {num_replicas!r}")
        if not isinstance(rank, int) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in 0 … {num_replicas - 1}, got {rank!r}")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if drop_last and n < num_replicas:
            raise ValueError(
                f"DistributedSampler: drop_last with {n} samples and {num_replicas} ranks leaves every rank empty"
            )
        self.num_samples = n // num_replicas if drop_last else -(-n // num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the order of epoch `epoch` (with shuffle, a fresh permutation per epoch, the same on every rank)."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            order = numpy.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            order = numpy.arange(n)
        if self.total_size > n:  # pad by repeating from the start (several times over if the dataset is tiny)
            order = numpy.resize(order, self.total_size)
        order = order[: self.total_size]
        return iter(order[self.rank : self.total_size : self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples
