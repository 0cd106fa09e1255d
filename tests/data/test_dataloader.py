"""DataLoader, samplers, default_collate, resume state."""

import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
    default_collate,
)


class ListDataset(Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def _ds(n=10):
    return TensorDataset(np.arange(n * 3, dtype=np.float32).reshape(n, 3), np.arange(n))


def test_sequential_batches_shapes_and_len():
    loader = DataLoader(_ds(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    assert sum((b[1].tolist() for b in batches), []) == list(range(10))


def test_drop_last():
    loader = DataLoader(_ds(10), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [b[1].shape for b in loader] == [(4,), (4,)]


def test_shuffle_is_a_permutation_and_deterministic_per_seed():
    def order(seed=None, generator=None):
        if seed is not None:
            gn.manual_seed(seed)
        loader = DataLoader(_ds(50), batch_size=8, shuffle=True, generator=generator)
        return sum((b[1].tolist() for b in loader), [])

    a, b, c = order(seed=0), order(seed=0), order(seed=1)
    assert sorted(a) == list(range(50)) and a == b and a != c and a != list(range(50))
    assert order(generator=gn.Generator(3)) == order(generator=gn.Generator(3))


def test_epochs_differ_but_replay_from_generator_state():
    gen = gn.Generator(7)
    loader = DataLoader(_ds(30), batch_size=5, shuffle=True, generator=gen)
    saved = gen.get_state()
    e1 = [b[1].tolist() for b in loader]
    e2 = [b[1].tolist() for b in loader]
    assert e1 != e2
    gen.set_state(saved)
    assert [b[1].tolist() for b in loader] == e1


def test_fast_path_matches_per_sample_collate():
    ds = _ds(23)
    gn.manual_seed(11)
    fast = list(DataLoader(ds, batch_size=6, shuffle=True))
    gn.manual_seed(11)
    slow = list(DataLoader(ds, batch_size=6, shuffle=True, collate_fn=default_collate))
    assert len(fast) == len(slow) == 4
    for (fx, fy), (sx, sy) in zip(fast, slow):
        np.testing.assert_array_equal(fx.numpy(), sx.numpy())
        np.testing.assert_array_equal(fy.numpy(), sy.numpy())
        assert fx.dtype == sx.dtype and fy.dtype == sy.dtype


def test_state_dict_resumes_mid_epoch():
    gn.manual_seed(0)
    loader = DataLoader(_ds(40), batch_size=4, shuffle=True)
    it = iter(loader)
    first = [next(it)[1].tolist() for _ in range(3)]
    state = json.loads(json.dumps(loader.state_dict()))  # survives a JSON checkpoint
    rest = [b[1].tolist() for b in it]
    assert state["batches_done"] == 3
    gn.manual_seed(123)  # scramble, then restore
    loader2 = DataLoader(_ds(40), batch_size=4, shuffle=True)
    loader2.load_state_dict(state)
    assert [b[1].tolist() for b in loader2] == rest
    assert len(first) + len(rest) == len(loader)


def test_collate_numbers_dicts_tuples_arrays():
    items = [{"x": np.full((2, 2), i, dtype=np.uint8), "y": i, "w": 0.5 * i, "name": f"s{i}"} for i in range(3)]
    batch = next(iter(DataLoader(ListDataset(items), batch_size=3)))
    assert batch["x"].shape == (3, 2, 2) and batch["x"].dtype == np.uint8
    assert batch["y"].dtype == np.int64 and batch["y"].tolist() == [0, 1, 2]
    assert batch["w"].dtype == np.float32 and batch["name"] == ["s0", "s1", "s2"]
    pairs = [(gn.tensor([1.0, 2.0]), 3), (gn.tensor([4.0, 5.0]), 6)]
    x, y = default_collate(pairs)
    assert x.shape == (2, 2) and y.tolist() == [3, 6]


def test_collate_errors_name_shapes():
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="object"):
        default_collate([object()])


def test_custom_collate_and_samplers():
    loader = DataLoader(ListDataset(list(range(7))), batch_size=3, collate_fn=lambda b: b)
    assert list(loader) == [[0, 1, 2], [3, 4, 5], [6]]
    loader = DataLoader(ListDataset(list(range(7))), sampler=[6, 5, 4], batch_size=2, collate_fn=list)
    assert list(loader) == [[6, 5], [4]]
    bs = BatchSampler(SequentialSampler(range(7)), 3, drop_last=True)
    assert list(bs) == [[0, 1, 2], [3, 4, 5]] and len(bs) == 2
    loader = DataLoader(ListDataset(list(range(7))), batch_sampler=bs, collate_fn=list)
    assert len(loader) == 2 and list(loader) == [[0, 1, 2], [3, 4, 5]]
    loader = DataLoader(ListDataset(list("abc")), batch_size=None)
    assert list(loader) == ["a", "b", "c"]


def test_random_sampler_replacement_and_num_samples():
    s = RandomSampler(range(5), replacement=True, num_samples=20, generator=gn.Generator(0))
    draws = list(s)
    assert len(draws) == 20 == len(s) and set(draws) <= set(range(5))
    s = RandomSampler(range(5), num_samples=12, generator=gn.Generator(0))
    draws = list(s)
    assert len(draws) == 12 and sorted(draws[:5]) == list(range(5))


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_ds(), batch_size=0)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(_ds(), sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(_ds(), batch_sampler=[[0]], batch_size=4)


def test_fast_path_through_subset_and_char_dataset():
    from glassnet.data import CharDataset, random_split

    train, _ = random_split(_ds(30), [20, 10], generator=gn.Generator(0))
    assert callable(getattr(train, "get_batch", None))
    gn.manual_seed(2)
    fast = [b[1].tolist() for b in DataLoader(train, batch_size=7, shuffle=True)]
    gn.manual_seed(2)
    slow = [b[1].tolist() for b in DataLoader(train, batch_size=7, shuffle=True, collate_fn=default_collate)]
    assert fast == slow and sorted(sum(fast, [])) == sorted(train.indices)
    assert not hasattr(ListDataset([1]), "get_batch")

    text = CharDataset("the quick brown fox jumps over the lazy dog", block_size=5)
    gn.manual_seed(4)
    fast = list(DataLoader(text, batch_size=8, shuffle=True))
    gn.manual_seed(4)
    slow = list(DataLoader(text, batch_size=8, shuffle=True, collate_fn=default_collate))
    for (fx, fy), (sx, sy) in zip(fast, slow):
        np.testing.assert_array_equal(fx.numpy(), sx.numpy())
        np.testing.assert_array_equal(fy.numpy(), sy.numpy())


def test_torch_utils_data_import_paths_work_and_name_the_same_objects():
    """`from torch.utils.data import …` habits, in a fresh process (the aliases must exist on first import)."""
    import subprocess
    import sys

    code = (
        "from glassnet.utils.data import DataLoader, TensorDataset, WeightedRandomSampler\n"
        "from glassnet.utils.data.distributed import DistributedSampler\n"
        "from glassnet.utils.data.sampler import SubsetRandomSampler\n"
        "from glassnet.utils.data.dataloader import default_collate\n"
        "from glassnet.utils.data.dataset import Subset\n"
        "import glassnet.utils.data as d, glassnet.data as g\n"
        "assert d is g and DistributedSampler is g.DistributedSampler and Subset is g.Subset\n"
        "assert SubsetRandomSampler is g.SubsetRandomSampler and DataLoader is g.DataLoader\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_weighted_random_sampler_draws_in_proportion_to_the_weights():
    weights = [1.0, 2.0, 7.0, 0.0]
    sampler = gn.data.WeightedRandomSampler(weights, 20_000, generator=gn.Generator().manual_seed(0))
    drawn = list(sampler)
    assert len(drawn) == len(sampler) == 20_000
    counts = np.bincount(drawn, minlength=4) / 20_000
    np.testing.assert_allclose(counts, [0.1, 0.2, 0.7, 0.0], atol=0.015)  # 0.015 ≈ 5 standard errors at p = 0.2
    again = gn.data.WeightedRandomSampler(gn.tensor(weights), 50, generator=gn.Generator().manual_seed(0))
    assert list(again) == drawn[:50]  # a seeded generator repeats its draws; a Tensor of weights works too


def test_weighted_random_sampler_without_replacement_and_bad_arguments():
    sampler = gn.data.WeightedRandomSampler([5, 0, 1, 1], 3, replacement=False, generator=gn.Generator().manual_seed(1))
    assert sorted(sampler) == [0, 2, 3]  # each non-zero index once, the zero-weight one never
    loader = gn.data.DataLoader(gn.data.TensorDataset(gn.arange(4)), batch_size=3, sampler=sampler)
    assert sorted(next(iter(loader))[0].tolist()) == [0, 2, 3]
    for args, message in [
        (([1, 1], 0), "num_samples must be a positive int"),
        (([1, 1], 2, "yes"), "replacement must be a bool"),
        (([[1, 1]], 2), r"non-empty 1-D sequence, got shape \(1, 2\)"),
        (([1, -1], 2), "finite and ≥ 0"),
        (([0, 0], 2), "positive sum"),
        (([1, 0, 0], 2, False), "2 samples without replacement, but only 1 of the 3 weights"),
    ]:
        with pytest.raises(ValueError, match=f"WeightedRandomSampler: .*{message}"):
            gn.data.WeightedRandomSampler(*args)


class _Stream(gn.data.IterableDataset):
    def __init__(self, n, sized=False):
        self.n, self.sized = n, sized

    def __iter__(self):
        return iter([[float(i), float(i * i)] for i in range(self.n)])

    def __len__(self):
        if not self.sized:
            raise TypeError("_Stream has no length")
        return self.n


@pytest.mark.parametrize("batch_size, drop_last", [(4, False), (4, True), (1, False), (None, False)])
def test_iterable_dataset_batches_the_stream_as_torch(batch_size, drop_last):
    torch = pytest.importorskip("torch")

    class TorchStream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(_Stream(10))

    def values(b):  # a collated batch (a tensor, or a list of per-column tensors) or a sample as it came
        return np.asarray(b.tolist() if hasattr(b, "tolist") else [getattr(x, "tolist", lambda x=x: x)() for x in b])

    ours = [values(b) for b in gn.utils.data.DataLoader(_Stream(10), batch_size=batch_size, drop_last=drop_last)]
    theirs = [values(b) for b in
              torch.utils.data.DataLoader(TorchStream(), batch_size=batch_size, drop_last=drop_last)]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.reshape(b.shape), b)
    sized = gn.data.DataLoader(_Stream(10, sized=True), batch_size=batch_size, drop_last=drop_last)
    assert len(sized) == len(ours)  # from the dataset's __len__, as PyTorch
    with pytest.raises(TypeError, match="no length"):
        len(gn.data.DataLoader(_Stream(10), batch_size=batch_size))


def test_iterable_dataset_refuses_indices_options():
    for option in ({"shuffle": True}, {"sampler": [0, 1]}, {"batch_sampler": [[0]]}):
        name = next(iter(option))
        with pytest.raises(ValueError, match=f"IterableDataset: expected unspecified {name} option"):
            gn.data.DataLoader(_Stream(4), **({"batch_size": 1} if name != "batch_sampler" else {}), **option)


class _Shards(gn.data.IterableDataset):
    """Items start..stop-1, each worker taking its own contiguous share (PyTorch's documented sharding recipe)."""

    def __init__(self, start, stop, info):
        self.start, self.stop, self.info = start, stop, info

    def __iter__(self):
        worker = self.info()
        lo, hi = self.start, self.stop
        if worker is not None:
            per = -(-(hi - lo) // worker.num_workers)
            lo = lo + worker.id * per
            hi = min(lo + per, self.stop)
        return iter([float(i) for i in range(lo, hi)])


@pytest.mark.parametrize("persistent", [False, True])
def test_iterable_dataset_with_workers_gives_torchs_batches_in_torchs_order(persistent):
    torch = pytest.importorskip("torch")

    class TorchShards(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(_Shards(3, 20, torch.utils.data.get_worker_info))

    options = dict(batch_size=3, num_workers=2, persistent_workers=persistent)
    ours = gn.utils.data.DataLoader(_Shards(3, 20, gn.utils.data.get_worker_info), **options)
    theirs = torch.utils.data.DataLoader(TorchShards(), **options)
    expected = [b.tolist() for b in theirs]
    assert sorted(x for b in expected for x in b) == [float(i) for i in range(3, 20)]  # each item once
    for _ in range(2):  # two epochs (the same workers again when persistent)
        assert [b.tolist() for b in ours] == expected
    unsharded = gn.data.DataLoader(_Stream(5), batch_size=2, num_workers=2)  # each worker's copy is a whole stream
    assert sorted(sum((b[0].tolist() for b in unsharded), [])) == sorted(2 * [0.0, 1.0, 2.0, 3.0, 4.0])


def test_iterable_dataset_resume_skips_the_batches_done():
    loader = gn.data.DataLoader(_Stream(10), batch_size=3)
    it = iter(loader)
    next(it), next(it)
    state = loader.state_dict()
    rest = [[column.tolist() for column in b] for b in it]
    again = gn.data.DataLoader(_Stream(10), batch_size=3)
    again.load_state_dict(state)
    assert [[column.tolist() for column in b] for b in again] == rest == [[[6.0, 7.0, 8.0], [36.0, 49.0, 64.0]],
                                                                            [[9.0], [81.0]]]
