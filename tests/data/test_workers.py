"""DataLoader(num_workers=N): real worker processes, the same batches in the same order as num_workers=0."""

import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.data import DataLoader, Dataset, TensorDataset
from glassnet.data.workers import WorkerError, get_worker_info


class Squares(Dataset):
    """A dataset with a Python __getitem__ (the per-sample path) that records which process served each item."""

    def __init__(self, n=37):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.full(3, i * i, dtype=np.float32), i, os.getpid()


def _epochs(loader, epochs=2):
    return [
        [tuple(np.asarray(t.numpy() if hasattr(t, "numpy") else t).tolist() for t in batch[:2]) for batch in loader]
        for _ in range(epochs)
    ]


def _pids(loader):
    return {int(p) for batch in loader for p in batch[2].numpy()}


@pytest.mark.parametrize("num_workers", [1, 3])
def test_same_batches_in_the_same_order_as_one_process(num_workers):
    seen = {}
    for workers in (0, num_workers):
        gn.manual_seed(7)
        loader = DataLoader(Squares(), batch_size=5, shuffle=True, num_workers=workers)
        seen[workers] = _epochs(loader)
    assert seen[0] == seen[num_workers]
    assert seen[0][0] != seen[0][1]  # shuffled afresh each epoch
    assert sorted(i for batch in seen[0][0] for i in batch[1]) == list(range(37))


def test_the_work_happens_in_other_processes_and_workers_stop():
    loader = DataLoader(Squares(), batch_size=4, num_workers=2)
    pids = _pids(loader)
    assert os.getpid() not in pids and len(pids) == 2
    import multiprocessing

    assert multiprocessing.active_children() == []  # joined at the end of the epoch
    batches = iter(DataLoader(Squares(), batch_size=4, num_workers=2))
    next(batches)
    assert len(multiprocessing.active_children()) == 2
    del batches  # leaving early stops the workers too
    assert multiprocessing.active_children() == []


def test_fast_path_generator_and_batch_size_none():
    x, y = gn.randn(50, 4), gn.arange(50)
    for kwargs in (
        {"batch_size": 8, "shuffle": True, "generator": gn.Generator().manual_seed(3)},
        {"batch_size": None},
    ):
        runs = []
        for workers in (0, 2):
            if "generator" in kwargs:
                kwargs["generator"].manual_seed(3)
            loader = DataLoader(TensorDataset(x, y), num_workers=workers, pin_memory=True, **kwargs)
            runs.append([(b[0].numpy().tolist(), b[1].numpy().tolist()) for b in loader])
        assert runs[0] == runs[1] and len(runs[0]) == (7 if kwargs["batch_size"] else 50)


def _record_worker(worker_id):
    info = get_worker_info()
    assert info.id == worker_id and info.num_workers == 2


class WorkerIds(Squares):
    def __getitem__(self, i):
        info = get_worker_info()
        return np.zeros(1, dtype=np.float32), info.id, info.seed


def test_worker_init_fn_worker_info_and_seeds():
    assert get_worker_info() is None  # in the main process
    batches = list(DataLoader(WorkerIds(8), batch_size=2, num_workers=2, worker_init_fn=_record_worker))
    assert [int(b[1].numpy()[0]) for b in batches] == [0, 1, 0, 1]  # round robin, in order
    seeds = {int(b[1].numpy()[0]): int(b[2].numpy()[0]) for b in batches}
    assert seeds[1] == seeds[0] + 1


class Failing(Squares):
    def __getitem__(self, i):
        if i == 13:
            raise KeyError("sample 13 is corrupt")
        return super().__getitem__(i)


class Dying(Squares):
    def __getitem__(self, i):
        if i == 9:
            os._exit(3)
        return super().__getitem__(i)


def test_a_worker_error_or_death_is_reported_in_the_main_process():
    with pytest.raises(WorkerError, match=r"(?s)failed on batch 3.*KeyError: 'sample 13 is corrupt'"):
        list(DataLoader(Failing(), batch_size=4, num_workers=2))
    with pytest.raises(WorkerError, match="exited unexpectedly with exit code 3"):
        list(DataLoader(Dying(), batch_size=4, num_workers=2))
    import multiprocessing

    assert multiprocessing.active_children() == []


def test_bad_options():
    with pytest.raises(ValueError, match="num_workers must be an int >= 0"):
        DataLoader(Squares(), num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor is for worker processes"):
        DataLoader(Squares(), prefetch_factor=4)


def test_resume_mid_epoch_with_workers():
    gn.manual_seed(1)
    loader = DataLoader(Squares(), batch_size=5, shuffle=True, num_workers=2)
    it = iter(loader)
    first = [next(it)[1].numpy().tolist() for _ in range(3)]
    state = loader.state_dict()
    rest = [b[1].numpy().tolist() for b in it]
    resumed = DataLoader(Squares(), batch_size=5, shuffle=True, num_workers=2)
    resumed.load_state_dict(state)
    assert [b[1].numpy().tolist() for b in resumed] == rest and len(first + rest) == 8


def test_spawned_workers_give_the_same_batches():
    """spawn (macOS and Windows' default; forkserver is Linux's from Python 3.14) pickles the dataset and fetcher."""
    gn.manual_seed(5)
    expected = _epochs(DataLoader(Squares(12), batch_size=4, shuffle=True), epochs=1)
    gn.manual_seed(5)
    loader = DataLoader(Squares(12), batch_size=4, shuffle=True, num_workers=1, multiprocessing_context="spawn")
    assert _epochs(loader, epochs=1) == expected


def test_persistent_workers_serve_every_epoch_with_the_same_processes():
    gn.manual_seed(3)
    expected = _epochs(DataLoader(Squares(), batch_size=5, shuffle=True), epochs=3)
    gn.manual_seed(3)
    loader = DataLoader(Squares(), batch_size=5, shuffle=True, num_workers=2, persistent_workers=True)
    epochs, pids = [], []
    for _ in range(3):
        batches = list(loader)
        epochs.append([tuple(np.asarray(t.numpy()).tolist() for t in b[:2]) for b in batches])
        pids.append({int(p) for b in batches for p in b[2].numpy()})
    assert epochs == expected
    assert pids[0] == pids[1] == pids[2] and len(pids[0]) == 2  # the same two processes throughout
    early = iter(loader)
    next(early)
    del early  # leaving an epoch early keeps the pool; that epoch's late results must not leak into the next
    state = gn.random.default_generator.get_state()
    after = _epochs(loader, epochs=1)
    gn.random.default_generator.set_state(state)
    assert after == _epochs(DataLoader(Squares(), batch_size=5, shuffle=True), epochs=1)
    import multiprocessing

    assert len(multiprocessing.active_children()) == 2
    loader._pool.close()
    assert multiprocessing.active_children() == []
    with pytest.raises(ValueError, match="persistent_workers=True needs num_workers > 0"):
        DataLoader(Squares(), persistent_workers=True)
