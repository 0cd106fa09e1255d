"""gn.save / gn.load: safetensors round trips, optimiser checkpoints, clear errors for bad files, atomic writes."""

import errno
import json
import os
import re
import struct

import numpy as np
import pytest

import glassnet as gn
from glassnet import files
from glassnet.io.weights import WeightsFileError

safetensors_numpy = pytest.importorskip("safetensors.numpy")


def _state_dict():
    rng = np.random.default_rng(0)
    return {
        "fc1.weight": gn.Tensor(rng.standard_normal((4, 3)).astype(np.float32)),
        "fc1.bias": gn.Tensor(np.arange(4, dtype=np.float64)),
        "bn.num_batches_tracked": gn.Tensor(np.array(7, dtype=np.int64)),
        "emb.mask": gn.Tensor(np.array([True, False])),
        "empty": gn.Tensor(np.zeros((0, 5), dtype=np.float32)),
    }


def test_flat_state_dict_round_trip(tmp_path):
    sd = _state_dict()
    path = tmp_path / "model.safetensors"
    gn.save(sd, path)
    out = gn.load(str(path))
    assert list(out) == list(sd)
    for name, t in sd.items():
        assert isinstance(out[name], gn.Tensor) and not out[name].requires_grad
        assert out[name].dtype == t.dtype and out[name].shape == t.shape
        np.testing.assert_array_equal(out[name].data, t.data)
    out["fc1.bias"].data += 1  # loaded arrays are ordinary, writable arrays


def test_flat_state_dict_is_readable_by_other_safetensors_tools(tmp_path):
    sd = _state_dict()
    gn.save(sd, tmp_path / "m.safetensors")
    plain = safetensors_numpy.load_file(str(tmp_path / "m.safetensors"))
    assert set(plain) == set(sd)
    np.testing.assert_array_equal(plain["fc1.weight"], sd["fc1.weight"].data)


def test_file_from_another_tool_loads_as_a_flat_dict(tmp_path):
    arrays = {"a": np.ones((2, 2), np.float32), "b.c": np.arange(3)}
    safetensors_numpy.save_file(arrays, str(tmp_path / "other.safetensors"))
    out = gn.load(tmp_path / "other.safetensors")
    assert set(out) == {"a", "b.c"} and all(isinstance(v, gn.Tensor) for v in out.values())
    np.testing.assert_array_equal(out["b.c"].data, arrays["b.c"])


def test_nested_structures_keep_their_types(tmp_path):
    t = gn.Tensor(np.ones(3))
    obj = {
        "state": {0: {"step": 3, "buf": t}, 1: {}},
        "groups": [{"lr": 0.1, "betas": (0.9, 0.999), "nesterov": False, "name": None, "params": [0, 1]}],
        "tied": [t, t],
        "inf": float("inf"),
        "np_scalar": np.float32(0.5),
        "a.b": gn.Tensor([1.0]),
        "a": {"b": gn.Tensor([2.0])},
        "transposed": gn.Tensor(np.arange(6.0).reshape(2, 3).T),
    }
    gn.save(obj, tmp_path / "x.safetensors")
    out = gn.load(tmp_path / "x.safetensors")
    assert set(out["state"]) == {0, 1} and out["state"][1] == {}
    assert out["state"][0]["step"] == 3 and isinstance(out["state"][0]["step"], int)
    assert out["groups"][0]["betas"] == (0.9, 0.999) and out["groups"][0]["params"] == [0, 1]
    assert out["groups"][0]["nesterov"] is False and out["groups"][0]["name"] is None
    assert out["tied"][0] is out["tied"][1] is out["state"][0]["buf"]
    assert out["inf"] == float("inf") and out["np_scalar"] == 0.5
    assert out["a.b"].item() == 1.0 and out["a"]["b"].item() == 2.0
    np.testing.assert_array_equal(out["transposed"].data, np.arange(6.0).reshape(2, 3).T)


def test_optimizer_checkpoint_continues_identically(tmp_path):
    rng = np.random.default_rng(1)
    init = [rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal(2)]
    grads = [[rng.standard_normal(a.shape).astype(a.dtype) for a in init] for _ in range(10)]

    def run(params, opt, ks):
        for k in ks:
            for p, g in zip(params, grads[k]):
                p.grad = gn.Tensor(g.copy())
            opt.step()

    ref = [gn.Tensor(a.copy(), requires_grad=True) for a in init]
    opt = gn.optim.Adam([{"params": ref[:1], "lr": 0.05}, {"params": ref[1:]}], amsgrad=True)
    run(ref, opt, range(4))
    gn.save({p_name: p for p_name, p in zip("ab", ref)}, tmp_path / "model.safetensors")
    gn.save(opt.state_dict(), tmp_path / "optim.safetensors")
    run(ref, opt, range(4, 10))

    model = gn.load(tmp_path / "model.safetensors")
    new = [gn.Tensor(model[k].data, requires_grad=True) for k in "ab"]
    opt2 = gn.optim.Adam([{"params": new[:1]}, {"params": new[1:]}])
    opt2.load_state_dict(gn.load(tmp_path / "optim.safetensors"))
    assert opt2.param_groups[0]["lr"] == 0.05 and opt2.param_groups[0]["betas"] == (0.9, 0.999)
    run(new, opt2, range(4, 10))
    for p, q in zip(ref, new):
        assert p.dtype == q.dtype
        np.testing.assert_array_equal(p.data, q.data)


def test_scheduler_state_round_trips(tmp_path):
    p = gn.Tensor(np.zeros(2), requires_grad=True)
    opt = gn.optim.SGD([p], lr=0.1, momentum=0.9)
    sched = gn.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.5)
    for _ in range(3):
        opt.step()
        sched.step()
    gn.save(sched.state_dict(), tmp_path / "sched.safetensors")
    opt2 = gn.optim.SGD([p], lr=0.1, momentum=0.9)
    opt2.load_state_dict(opt.state_dict())
    sched2 = gn.optim.lr_scheduler.MultiStepLR(opt2, milestones=[1], gamma=0.1)
    sched2.load_state_dict(gn.load(tmp_path / "sched.safetensors"))
    for _ in range(3):
        opt.step(), sched.step(), opt2.step(), sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()


def test_unsupported_values_are_refused_by_name(tmp_path):
    with pytest.raises(TypeError, match=r"state\.0\.fn"):
        gn.save({"state": {0: {"fn": print}}}, tmp_path / "x.safetensors")

    class Model:
        def state_dict(self):
            return {}

    with pytest.raises(TypeError, match=r"model\.state_dict\(\)"):
        gn.save(Model(), tmp_path / "x.safetensors")
    assert not list(tmp_path.iterdir())


# ----- bad files -----------------------------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "w.safetensors"
    gn.save(_state_dict(), path)
    return path


@pytest.mark.parametrize("keep", [0, 5, 8, 30, -1])
def test_truncated_file_names_the_file_and_the_problem(saved, keep):
    data = saved.read_bytes()
    saved.write_bytes(data[: keep if keep >= 0 else len(data) - 7])
    with pytest.raises(WeightsFileError, match="truncated") as info:
        gn.load(saved)
    assert str(saved) in str(info.value)


def test_garbage_header_is_reported(saved):
    data = saved.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    saved.write_bytes(data[:8] + b"\xff{not json" + b" " * (n - 10) + data[8 + n :])
    with pytest.raises(WeightsFileError, match="not valid JSON") as info:
        gn.load(saved)
    assert str(saved) in str(info.value)


def test_random_bytes_are_reported(tmp_path):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(np.random.default_rng(0).bytes(200))
    with pytest.raises(WeightsFileError, match="noise.safetensors"):
        gn.load(path)


def test_inconsistent_header_is_reported(saved):
    data = saved.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    header["fc1.weight"]["shape"] = [5, 3]  # more elements than its bytes
    raw = json.dumps(header).encode()
    saved.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n :])
    with pytest.raises(WeightsFileError, match="not a valid safetensors file"):
        gn.load(saved)


def test_corrupt_structure_metadata_is_reported(tmp_path):
    path = tmp_path / "s.safetensors"
    data = safetensors_numpy.save({"x": np.ones(2)}, metadata={"glassnet.format": "1", "glassnet.structure": "{oops"})
    path.write_bytes(data)
    with pytest.raises(WeightsFileError, match="structure"):
        gn.load(path)
    data = safetensors_numpy.save(
        {"x": np.ones(2)}, metadata={"glassnet.format": "1", "glassnet.structure": '{"tensor": "y"}'}
    )
    path.write_bytes(data)
    with pytest.raises(WeightsFileError, match="'y'"):
        gn.load(path)


@pytest.mark.parametrize("start, what", [(b"PK\x03\x04", "zip archive"), (b"\x80\x04\x95", "pickle")])
def test_pickle_based_files_are_refused_without_unpickling(tmp_path, start, what):
    path = tmp_path / "model.pt"
    path.write_bytes(start + b"\x00" * 64)
    with pytest.raises(WeightsFileError, match=what):
        gn.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        gn.load(tmp_path / "nope.safetensors")


# ----- atomic writes -------------------------------------------------------------------------------------
def test_failure_mid_write_leaves_the_old_file_intact(saved, monkeypatch):
    before = saved.read_bytes()

    real_fdopen = os.fdopen

    class HalfThenFull:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: HalfThenFull(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match=f"could not write {re.escape(str(saved))}: no space left"):
        gn.save({"other": gn.Tensor(np.ones(1000))}, saved)
    assert saved.read_bytes() == before
    assert os.listdir(saved.parent) == [saved.name]  # no temporary file left behind
    np.testing.assert_array_equal(gn.load(saved)["fc1.bias"].data, np.arange(4.0))


def test_failure_at_fsync_or_rename_leaves_the_old_file_intact(saved, monkeypatch):
    before = saved.read_bytes()

    def fail(*args):
        raise OSError("no")

    for target in ("fsync", "replace"):
        with monkeypatch.context() as m:
            m.setattr(files.os, target, fail)
            with pytest.raises(OSError):
                gn.save({"other": gn.Tensor(np.ones(3))}, saved)
        assert saved.read_bytes() == before
        assert os.listdir(saved.parent) == [saved.name]


def test_save_replaces_an_existing_file_with_ordinary_permissions(saved):
    gn.save({"only": gn.Tensor([1.0, 2.0])}, saved)
    assert list(gn.load(saved)) == ["only"]
    umask = os.umask(0)
    os.umask(umask)
    if os.name == "posix":
        assert os.stat(saved).st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0o600


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".bin", ".PT"])
def test_saving_under_a_pickle_name_is_refused(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    with pytest.raises(ValueError, match=r"model\.safetensors") as err:
        gn.save({"w": gn.ones(2)}, path)
    assert suffix.lower() in str(err.value) and "pickle" in str(err.value)
    assert list(tmp_path.iterdir()) == []  # nothing written under the lying name


def test_model_checkpoint_refuses_a_pickle_name_before_training(tmp_path):
    from glassnet.train import ModelCheckpoint

    with pytest.raises(ValueError, match="ModelCheckpoint.*safetensors"):
        ModelCheckpoint(tmp_path / "best.pth")
