"""One rank of the distributed tests: `mpiexec -n 2 python tests/distributed/_worker.py CASE [ARGS]`.

test_distributed.py starts it; each case records its results as JSON lines [name, value] in $RESULTS_DIR/rankN.jsonl
(rank 0's, or every rank's where the test needs to see each rank), which the test reads and checks.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import numpy as np

import glassnet as gn
import glassnet.distributed as dist
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.nn.parallel import DistributedDataParallel

STEPS = 20
GLOBAL_BATCH = 64


def result(name: str, value, every_rank: bool = False) -> None:
    """Record a result for the test: one JSON line in this rank's file (mpiexec may interleave the ranks' stdout)."""
    rank = dist.get_rank()
    if every_rank or rank == 0:
        with open(os.path.join(os.environ["RESULTS_DIR"], f"rank{rank}.jsonl"), "a") as f:
            f.write(json.dumps([name, value]) + "\n")


def fault_time() -> None:
    """Record when this rank is about to fail (wall clock), so that the test times the job's end from the fault,
    not from a launch that a loaded machine may make slow."""
    with open(os.path.join(os.environ["RESULTS_DIR"], "fault_time"), "w") as f:
        f.write(repr(time.time()))
        f.flush()
        os.fsync(f.fileno())


def mlp(dtype) -> nn.Module:
    gn.manual_seed(1)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3)).to(dtype)


def conv_bn(dtype) -> nn.Module:
    gn.manual_seed(2)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 5 * 5, 8),
        nn.BatchNorm1d(8),
        nn.Tanh(),
        nn.Linear(8, 3),
    ).to(dtype)


def data(shape: tuple, dtype, seed: int = 3):
    """The same global batches on every rank: STEPS batches of GLOBAL_BATCH samples."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((STEPS, GLOBAL_BATCH, *shape)).astype(dtype)
    y = rng.integers(0, 3, size=(STEPS, GLOBAL_BATCH))
    return x, y


def train(model, optimizer, x, y, step_model=None, set_to_none: bool = True) -> None:
    forward = step_model or model
    for step in range(len(x)):
        optimizer.zero_grad(set_to_none=set_to_none)
        loss = F.cross_entropy(forward(gn.tensor(x[step])), gn.tensor(y[step]))
        loss.backward()
        optimizer.step()


def largest_difference(a: nn.Module, b: nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    return max(float(np.max(np.abs(sa[k].data.astype(np.float64) - sb[k].data))) for k in sa)


def equivalence(
    build,
    shape,
    optimizer_name: str,
    dtype,
    convert_bn: bool = False,
    bucket_cap_mb: float = 25.0,
    parallel: bool = True,
    as_view: bool = False,
    set_to_none: bool = True,
):
    """2 ranks x half the batch against 1 process x the whole batch: the largest weight difference after 20 steps."""
    rank, size = dist.get_rank(), dist.get_world_size()
    x, y = data(shape, dtype)
    make = {
        "sgd": lambda params: gn.optim.SGD(params, lr=0.1, momentum=0.9),
        "adam": lambda params: gn.optim.Adam(params, lr=0.01),
    }[optimizer_name]
    reference = build(dtype)  # one process, whole batch (every rank computes it, alone)
    train(reference, make(reference.parameters()), x, y)
    model = build(dtype)
    if convert_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = (
        DistributedDataParallel(model, bucket_cap_mb=bucket_cap_mb, gradient_as_bucket_view=as_view)
        if parallel
        else model
    )
    share = GLOBAL_BATCH // size
    mine = slice(rank * share, (rank + 1) * share)
    train(model, make(model.parameters()), x[:, mine], y[:, mine], step_model=ddp, set_to_none=set_to_none)
    if not parallel:
        return largest_difference(model, reference), 0, {}
    return largest_difference(model, reference), len(ddp._buckets), ddp.last_reduction


def case_equivalence() -> None:
    for opt in ("sgd", "adam"):
        for dtype in (np.float64, np.float32):
            diff, _, _ = equivalence(mlp, (8,), opt, dtype)
            result(f"mlp-{opt}-{np.dtype(dtype).name}", diff)
            control, _, _ = equivalence(mlp, (8,), opt, dtype, parallel=False)  # each rank alone on its half
            result(f"control-mlp-{opt}-{np.dtype(dtype).name}", control)
    diff, buckets, timing = equivalence(mlp, (8,), "adam", np.float64, bucket_cap_mb=0.0005)
    result(
        "mlp-small-buckets",
        {
            "diff": diff,
            "buckets": buckets,
            "started_before_walk_ended": timing["first_start"] < timing["handed_over"],
            "started_fraction": timing["started_fraction"],
            "overlapped_fraction": timing["overlapped_fraction"],
            "waited": timing["waited"],
        },
    )
    for dtype in (np.float64, np.float32):
        diff, _, _ = equivalence(conv_bn, (2, 5, 5), "sgd", dtype, convert_bn=True)
        result(f"syncbn-sgd-{np.dtype(dtype).name}", diff)
        control, _, _ = equivalence(conv_bn, (2, 5, 5), "sgd", dtype)  # plain BatchNorm: each rank's statistics
        result(f"control-bn-sgd-{np.dtype(dtype).name}", control)


def case_views() -> None:
    """The bucket memory: gradient_as_bucket_view, gradients accumulated in place, one-parameter buckets reduced
    where they lie, and a .grad kept from an earlier step left as it was."""
    rank, size = dist.get_rank(), dist.get_world_size()
    for as_view in (False, True):
        for set_to_none in (True, False):
            for cap in (25.0, 0.0005):  # one bucket; one parameter per bucket
                for opt, dtype in (("sgd", np.float64), ("adam", np.float32)):
                    diff, buckets, _ = equivalence(
                        mlp, (8,), opt, dtype, bucket_cap_mb=cap, as_view=as_view, set_to_none=set_to_none
                    )
                    layout = "one-bucket" if cap == 25.0 else "small-buckets"
                    result(f"view={as_view}-none={set_to_none}-{layout}-{opt}-{np.dtype(dtype).name}", diff)
                    result(f"buckets-{layout}-{np.dtype(dtype).name}", buckets)

    x, y = data((8,), np.float64)
    share = GLOBAL_BATCH // size
    mine_x = gn.tensor(x[0, rank * share : (rank + 1) * share])
    mine_y = gn.tensor(y[0, rank * share : (rank + 1) * share])
    for as_view in (False, True):
        for cap in (25.0, 0.0005):
            model = mlp(np.float64)
            ddp = DistributedDataParallel(model, bucket_cap_mb=cap, gradient_as_bucket_view=as_view)
            F.cross_entropy(ddp(mine_x), mine_y).backward()
            kept = [p.grad for p in model.parameters()]
            values = [g.data.copy() for g in kept]
            model.zero_grad()
            F.cross_entropy(ddp(mine_x * 2), mine_y).backward()
            changed = any(not np.array_equal(g.data, v) for g, v in zip(kept, values))
            in_place = [b.in_place for b in ddp._buckets]
            result(f"kept-view={as_view}-cap={cap}", {"changed": changed, "in_place": in_place})

    # Unused parameters with gradients accumulated in place: a parameter no rank uses keeps its .grad exactly.
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.shared = nn.Linear(4, 2)
            self.extra = nn.Linear(4, 2)

        def forward(self, x, use_extra):
            out = self.shared(x)
            return out + self.extra(x) if use_extra else out

    for as_view in (False, True):
        gn.manual_seed(5)
        branchy = Branchy().to(np.float64)
        ddp = DistributedDataParallel(branchy, find_unused_parameters=True, gradient_as_bucket_view=as_view)
        xb = gn.tensor(np.ones((2, 4)) * (rank + 1))
        ddp(xb, use_extra=True).sum().backward()  # gradients 2 and 4: averages 3
        before = branchy.extra.weight.grad.data.copy()
        ddp(xb, use_extra=False).sum().backward()  # no zero_grad: shared accumulates 3 + 3, extra stays
        result(
            f"unused-accumulated-view={as_view}",
            {
                "extra_kept": bool(np.array_equal(branchy.extra.weight.grad.data, before)),
                "extra": branchy.extra.weight.grad.data[0].tolist(),
                "shared": branchy.shared.weight.grad.data[0].tolist(),
            },
        )
    dist.barrier()


def case_features() -> None:
    """no_sync accumulation, unused parameters, the architecture check, collectives."""
    rank, size = dist.get_rank(), dist.get_world_size()
    # Collectives.
    t = gn.tensor(np.array([rank + 1.0, -rank], dtype=np.float64))
    result(
        "all_reduce",
        {op: dist.all_reduce(gn.tensor(t.data.copy()), op=op).tolist() for op in ("sum", "mean", "max", "min")},
    )
    b = gn.tensor(np.full(3, float(rank)))
    result("broadcast", dist.broadcast(b, src=size - 1).tolist(), every_rank=True)
    result("all_gather", [g.tolist() for g in dist.all_gather(None, gn.tensor(np.array([rank, 10 * rank])))])

    # no_sync: two half-batches accumulated locally, then one synchronised backward == one step on the whole batch.
    x, y = data((8,), np.float64)
    reference = mlp(np.float64)
    ref_opt = gn.optim.SGD(reference.parameters(), lr=0.1)
    model = mlp(np.float64)
    ddp = DistributedDataParallel(model)
    opt = gn.optim.SGD(model.parameters(), lr=0.1)
    share = GLOBAL_BATCH // size
    for step in range(3):
        ref_opt.zero_grad()
        F.cross_entropy(reference(gn.tensor(x[step])), gn.tensor(y[step])).backward()
        ref_opt.step()
        opt.zero_grad()
        mine_x = x[step, rank * share : (rank + 1) * share]
        mine_y = y[step, rank * share : (rank + 1) * share]
        half = share // 2
        with ddp.no_sync():
            (F.cross_entropy(ddp(gn.tensor(mine_x[:half])), gn.tensor(mine_y[:half])) / 2).backward()
        (F.cross_entropy(ddp(gn.tensor(mine_x[half:])), gn.tensor(mine_y[half:])) / 2).backward()
        opt.step()
    result("no_sync", largest_difference(model, reference))

    # Unused parameters: a branch used only on rank 0.
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.shared = nn.Linear(4, 2)
            self.extra = nn.Linear(4, 2)
            self.never = nn.Linear(4, 2)

        def forward(self, x, use_extra):
            out = self.shared(x)
            return out + self.extra(x) if use_extra else out

    gn.manual_seed(5)
    branchy = Branchy().to(np.float64)
    ddp = DistributedDataParallel(branchy, find_unused_parameters=True)
    xb = gn.tensor(np.ones((2, 4)) * (rank + 1))
    ddp(xb, use_extra=(rank == 0)).sum().backward()
    result(
        "unused",
        {
            "shared": branchy.shared.weight.grad.data[0].tolist(),
            "extra": branchy.extra.weight.grad.data[0].tolist(),
            "never": branchy.never.weight.grad is None,
        },
    )
    strict = DistributedDataParallel(Branchy().to(np.float64))
    strict(xb, use_extra=False).sum().backward()
    try:
        strict(xb, use_extra=False)
        result("unused-strict", "no error", every_rank=True)
    except RuntimeError as e:
        result("unused-strict", str(e), every_rank=True)

    # A model converted to another dtype after wrapping: a clear error, not gradients of the wrong dtype.
    converted = mlp(np.float64)
    wrapped = DistributedDataParallel(converted)
    converted.to(np.float32)
    try:
        F.cross_entropy(wrapped(gn.tensor(x[0, :4].astype(np.float32))), gn.tensor(y[0, :4])).backward()
        result("converted-after-wrapping", "no error", every_rank=True)
    except TypeError as e:
        result("converted-after-wrapping", str(e), every_rank=True)
    wrapped._state.expecting = False  # (the failed backward left it waiting)

    # Different architectures: a clear error on every rank, not a hang.
    other = nn.Sequential(nn.Linear(8, 16 + rank), nn.Tanh())
    try:
        DistributedDataParallel(other)
        result("architecture", "no error", every_rank=True)
    except RuntimeError as e:
        result("architecture", str(e), every_rank=True)
    dist.barrier()


def case_raise() -> None:
    """Rank 1 fails while rank 0 waits in a collective: the job must end, with rank 1's message."""
    dist.init_process_group()
    if dist.get_rank() == 1:
        time.sleep(0.2)
        fault_time()
        raise ValueError("rank 1 could not read batch 7")
    dist.all_reduce(gn.tensor(np.ones(3)))
    time.sleep(60)


def case_kill() -> None:
    """Rank 1 is killed (SIGKILL) while rank 0 waits in a collective: the job must end."""
    dist.init_process_group()
    if dist.get_rank() == 1:
        time.sleep(0.2)
        fault_time()
        os.kill(os.getpid(), signal.SIGKILL)
    dist.all_reduce(gn.tensor(np.ones(3)))
    time.sleep(60)


def case_trainer(out: str, epochs: int, resume: str | None = None) -> None:
    """A Trainer under MPI: shards, averages, writes one run folder from rank 0; resumable."""
    from glassnet.data import DataLoader, TensorDataset
    from glassnet.train import Trainer

    gn.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((193, 8))
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    train_loader = DataLoader(TensorDataset(gn.tensor(x[:160]), gn.tensor(y[:160])), batch_size=16, shuffle=True)
    # 33 validation samples: shards of 17 and 16, so rank 0 evaluates 2 batches and rank 1 only 1
    val_loader = DataLoader(TensorDataset(gn.tensor(x[160:]), gn.tensor(y[160:])), batch_size=16)
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Dropout(0.1), nn.Linear(16, 2)).to(
        np.float64
    )

    class Output(gn.train.Callback):
        rank_zero_only = True

        def on_epoch_end(self, epoch, logs=None):
            print(f"OUTPUT-CALLBACK rank {dist.get_rank()}", file=sys.stderr, flush=True)

    class Everywhere(gn.train.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print(f"ALL-RANKS-CALLBACK rank {dist.get_rank()}", file=sys.stderr, flush=True)
            print(f"STDOUT-IN-FIT rank {dist.get_rank()}", flush=True)

    trainer = Trainer(
        model,
        nn.CrossEntropyLoss(),
        gn.optim.Adam(model.parameters(), lr=0.01),
        metrics=["accuracy"],
        run_dir=out,
        callbacks=[gn.train.ProgressBar(interactive=True), Output(), Everywhere()],
    )
    print(f"stdout of rank {dist.get_rank() if dist.is_initialized() else '?'}", flush=True)
    history = trainer.fit(train_loader, epochs=epochs, val_loader=val_loader, resume_from=resume)
    weights = {k: v.data.tolist() for k, v in model.state_dict().items()}
    logged = {key: history[key][-1] for key in ("val_loss", "val_accuracy", "loss")}
    whole = trainer.evaluate(val_loader)  # after the fit: this process alone, the whole validation set
    whole = {k: float(v) for k, v in whole.items()}
    result(f"trainer-rank{dist.get_rank()}", {"weights": weights, "logged": logged, "whole": whole}, every_rank=True)


def case_too_few_batches() -> None:
    from glassnet.data import DataLoader, TensorDataset
    from glassnet.train import Trainer

    x = gn.tensor(np.ones((6, 2), dtype=np.float32))
    model = nn.Linear(2, 1)
    trainer = Trainer(model, nn.MSELoss(), gn.optim.SGD(model.parameters(), lr=0.1))
    trainer.fit(DataLoader(TensorDataset(x, gn.tensor(np.ones((6, 1), dtype=np.float32))), batch_size=8), epochs=1)


def case_blas() -> None:
    """init_process_group divides this machine's cores among the ranks on it."""
    from threadpoolctl import threadpool_info

    dist.init_process_group()
    threads = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    result("blas", {"set": dist._world().blas_threads, "threads": threads}, every_rank=True)


def case_bypass() -> None:
    """A custom train_step that calls self.model directly: the replicas diverge, and the Trainer says so."""
    from glassnet.data import DataLoader, TensorDataset
    from glassnet.train import Trainer

    class Direct(Trainer):
        def train_step(self, batch):
            x, y = batch
            self.optimizer.zero_grad()
            loss = self.loss_fn(self.model(x), y)  # not self.forward: no gradient averaging
            loss.backward()
            self.optimizer.step()
            return {"loss": loss.detach()}

    rng = np.random.default_rng(0)
    data = TensorDataset(gn.tensor(rng.standard_normal((64, 3))), gn.tensor(rng.standard_normal((64, 1))))
    gn.manual_seed(0)
    model = nn.Linear(3, 1).to(np.float64)
    Direct(model, nn.MSELoss(), gn.optim.SGD(model.parameters(), lr=0.1)).fit(
        DataLoader(data, batch_size=8, shuffle=True), epochs=1
    )


if __name__ == "__main__":
    name, args = sys.argv[1], sys.argv[2:]
    case = globals()[f"case_{name.replace('-', '_')}"]
    if name in ("equivalence", "features", "views"):
        dist.init_process_group()
    case(*args) if name != "trainer" else case(args[0], int(args[1]), args[2] if len(args) > 2 else None)
