"""The Trainer in a data-parallel job: what `Trainer.fit` does differently when it runs as one of several MPI ranks.

`Trainer.fit` hands itself to `DistributedFit` when the process runs under mpiexec with 2 or more ranks:

- the model is wrapped in DistributedDataParallel (gradients averaged during backward; the Trainer's own
  `self.model` stays the plain model, so checkpoints and reports look as in a single process);
- the training loader is re-made with a DistributedSampler (the same batch size per rank, a fresh shared order
  each epoch from the run's seed), the validation loader is split into disjoint shards without padding;
- epoch logs (loss, metrics, validation) are averaged over the ranks, weighted by the samples each rank saw;
- only rank 0 writes the run folder, checkpoints and histories and runs the output callbacks (progress, loggers,
  ModelCheckpoint: those with `rank_zero_only`); the other ranks print nothing on stdout during the fit.
"""

from __future__ import annotations

import contextlib
import hashlib
import numbers
import os
from pathlib import Path
from typing import Any

import numpy

from glassnet import distributed
from glassnet import random as gn_random
from glassnet.data.dataloader import DataLoader, RandomSampler, default_collate
from glassnet.data.distributed import DistributedSampler
from glassnet.nn.parallel import DistributedDataParallel
from glassnet.train.callbacks import Callback, CallbackList


class _EpochSharded:
    """A rank's training loader: sets the sampler's epoch from the trainer before each pass."""

    def __init__(self, loader: DataLoader, sampler: DistributedSampler, trainer: Any):
        self.loader, self.sampler, self.trainer = loader, sampler, trainer

    def __iter__(self):
        self.sampler.set_epoch(self.trainer.epoch)
        return iter(self.loader)

    def __len__(self) -> int:
        return len(self.loader)


class DistributedFit:
    """One data-parallel `fit` of a Trainer (see the module's docstring)."""

    def __init__(self, trainer: Any):
        distributed.init_process_group()
        self.trainer = trainer
        self.rank = distributed.get_rank()
        self.world_size = distributed.get_world_size()
        model = trainer.model
        self.owns_wrapper = not isinstance(model, DistributedDataParallel)
        self.model = DistributedDataParallel(model) if self.owns_wrapper else model

    # ----- loaders ------------------------------------------------------------------------------------------------
    def shard_train(self, loader: Any) -> Any:
        """This rank's share of the training batches: every rank runs the same number of steps."""
        if isinstance(loader, DataLoader):
            if loader.batch_size is None:
                raise ValueError("Trainer: under MPI a DataLoader needs a batch_size to be sharded (no batch_sampler)")
            if len(loader) < self.world_size:
                raise ValueError(
                    f"Trainer: the training loader has {len(loader)} batch(es) but the job has {self.world_size} "
                    "ranks; every rank needs at least one batch: use fewer ranks or a smaller batch size"
                )
            sampler = DistributedSampler(
                loader.dataset,
                self.world_size,
                self.rank,
                shuffle=isinstance(loader.sampler, RandomSampler),
                seed=gn_random.default_generator.initial_seed,
                drop_last=loader.drop_last,
            )
            return _EpochSharded(self._loader_like(loader, sampler), sampler, self.trainer)
        if isinstance(loader, (list, tuple)):
            per_rank = len(loader) // self.world_size
            if per_rank == 0:
                raise ValueError(
                    f"Trainer: the training data has {len(loader)} batch(es) but the job has {self.world_size} "
                    "ranks; every rank needs at least one batch"
                )
            return list(loader[self.rank :: self.world_size][:per_rank])
        raise TypeError(
            f"Trainer: under MPI the training data must be a DataLoader or a list of batches to be sharded, "
            f"got {type(loader).__name__}"
        )

    def shard_eval(self, loader: Any) -> Any:
        """This rank's disjoint share of an evaluation loader (no padding: each sample is evaluated once)."""
        if loader is None:
            return None
        if isinstance(loader, DataLoader) and loader.batch_size is not None:
            indices = list(range(self.rank, len(loader.dataset), self.world_size))
            return self._loader_like(loader, indices)
        if isinstance(loader, (list, tuple)):
            return list(loader[self.rank :: self.world_size])
        return loader  # unknown iterable: every rank evaluates all of it (the averages are then the same)

    @staticmethod
    def _loader_like(loader: DataLoader, sampler: Any) -> DataLoader:
        collate = None if loader.collate_fn is default_collate else loader.collate_fn
        return DataLoader(
            loader.dataset,
            batch_size=loader.batch_size,
            sampler=sampler,
            drop_last=loader.drop_last,
            collate_fn=collate,
            generator=loader.generator,
        )

    # ----- logs ------------------------------------------------------------------------------------------------
    def average(self, logs: dict[str, Any], samples: float) -> dict[str, Any]:
        """Logs averaged over the ranks, each weighted by the samples it saw (exact for means over samples: loss,
        accuracy, MSE); values that are not numbers stay rank 0's. (Called at the end of every training epoch and
        evaluation, it first makes the replicas' buffers rank 0's and checks that their parameters agree.)"""
        self.synchronise()
        everyone = distributed.all_gather_json(
            [float(samples), {k: float(v) for k, v in logs.items() if _is_number(v)}]
        )
        total = sum(float(w) for w, _ in everyone)
        averaged = dict(logs)
        for key in {k for _, numbers_ in everyone for k in numbers_}:
            pairs = [(float(w), v[key]) for w, v in everyone if key in v]
            weight = sum(w for w, _ in pairs)
            if total > 0 and weight > 0:
                averaged[key] = sum(w * x for w, x in pairs) / weight
        return averaged

    def synchronise(self) -> None:
        """Give every rank rank 0's buffers, then raise on every rank if the ranks' parameters differ.

        Buffers: DistributedDataParallel copies them before each training forward, so after the last step of an
        epoch each rank holds the running statistics of its own last batch; from here on (validation, the
        checkpoint) every rank holds the same model. Parameters: a custom `train_step` that calls the model
        directly instead of `self.forward` skips DistributedDataParallel, and each rank would silently train its
        own copy.
        """
        for _, buffer in self.model.module.named_buffers():
            if buffer is not None:
                distributed.broadcast(buffer, src=0)
        digest = hashlib.blake2b(digest_size=16)
        for p in self.model.module.parameters():
            digest.update(numpy.ascontiguousarray(p.data).tobytes())
        digests = distributed.all_gather_json(digest.hexdigest())
        differing = [rank for rank, d in enumerate(digests) if d != digests[0]]
        if differing:
            raise RuntimeError(
                f"Trainer: the model's parameters on rank(s) {differing} differ from rank 0's: the ranks are no "
                "longer training one model. A custom train_step must run the model through self.forward(...), "
                "which averages the gradients (DistributedDataParallel)"
            )

    # ----- the fit -----------------------------------------------------------------------------------------------
    def fit(self, train_loader: Any, epochs: int, val_loader: Any, initial_epoch: int, resume_from: Any) -> Any:
        trainer = self.trainer
        train = self.shard_train(train_loader)
        val = self.shard_eval(val_loader)
        saved = trainer.callbacks, trainer.run_dir
        self._agree_on_run_dir()
        if self.rank != 0:
            quiet = [Callback() if getattr(cb, "rank_zero_only", False) else cb for cb in trainer.callbacks]
            trainer.callbacks, trainer.run_dir = CallbackList(quiet), None
        trainer._distributed = self
        try:
            with open(os.devnull, "w") if self.rank != 0 else contextlib.nullcontext() as sink:
                with contextlib.redirect_stdout(sink) if sink is not None else contextlib.nullcontext():
                    return trainer.fit(train, epochs, val, initial_epoch, resume_from)
        finally:
            trainer._distributed = None
            trainer.callbacks, trainer.run_dir = saved
            if self.owns_wrapper:
                self.model._release()

    def _agree_on_run_dir(self) -> None:
        """Rank 0's run folder is the run's: another rank that made its own (a timestamped name made a moment
        later) removes it if it is still empty."""
        run_dir = self.trainer.run_dir
        mine = os.fspath(run_dir.path) if run_dir is not None else None
        paths = distributed.all_gather_json(mine)
        if self.rank == 0 or mine is None or mine == paths[0]:
            return
        for folder in (run_dir.checkpoints, run_dir.artefacts, run_dir.path):
            with contextlib.suppress(OSError):  # only empty folders go: rmdir refuses the others
                Path(folder).rmdir()


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
