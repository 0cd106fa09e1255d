"""Files given to gn.load, load_checkpoint and Trainer.fit(resume_from=): hostile or broken files are refused with an
error that names the file, and a refused checkpoint changes nothing (model, optimiser, scheduler, RNG)."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import nn, optim
from glassnet.io.weights import WeightsFileError
from glassnet.optim import lr_scheduler
from glassnet.train import Trainer, load_checkpoint, save_checkpoint
from glassnet.train.checkpoint import CheckpointError


@pytest.fixture(autouse=True)
def _no_hang():
    """A test that blocks (a FIFO opened for reading) fails after 10 s instead of hanging the suite."""

    def fail(*_):
        raise TimeoutError("blocked for 10 s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _raw_safetensors(path, header_json: str, data: bytes = b"") -> None:
    raw = header_json.encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


# ----- gn.load -------------------------------------------------------------------------------------------------
def test_a_fifo_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(WeightsFileError, match=r"model\.safetensors is a FIFO"):
        gn.load(fifo)


def test_a_deeply_nested_structure_names_the_file(tmp_path):
    structure = "[" * 5000 + "]" * 5000
    header = json.dumps({"__metadata__": {"glassnet.format": "1", "glassnet.structure": structure}})
    _raw_safetensors(tmp_path / "deep.safetensors", header)
    with pytest.raises(WeightsFileError, match=r"deep\.safetensors"):
        gn.load(tmp_path / "deep.safetensors")


@pytest.mark.parametrize(
    "structure, what",
    [
        ({"dict": 5}, "not a list"),
        ({"dict": [[1, 2, 3]]}, r"not a \[key, value\] pair"),
        ({"tuple": "abc"}, "not a list"),
        ({"tensor": 7}, "names a tensor"),
        ({"tensor": "x", "dict": []}, "unexpected entry"),
        ({"dict": [["a", 1], ["a", 2]]}, "appears twice"),
    ],
)
def test_a_malformed_structure_is_a_clear_error(tmp_path, structure, what):
    header = json.dumps({"__metadata__": {"glassnet.format": "1", "glassnet.structure": json.dumps(structure)}})
    _raw_safetensors(tmp_path / "bad.safetensors", header)
    with pytest.raises(WeightsFileError, match=rf"bad\.safetensors is corrupt: .*{what}"):
        gn.load(tmp_path / "bad.safetensors")


def test_duplicate_header_keys_are_refused(tmp_path):
    entry = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'
    _raw_safetensors(tmp_path / "dup.safetensors", f'{{"w":{entry},"w":{entry}}}', b"\0" * 4)
    with pytest.raises(WeightsFileError, match=r"dup\.safetensors .*'w' appears twice"):
        gn.load(tmp_path / "dup.safetensors")


# ----- checkpoints: all or nothing -----------------------------------------------------------------------------
def _setup(seed=0):
    gn.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    x = gn.randn(8, 3)
    loss = model(x).pow(2).mean()
    loss.backward()
    opt.step()
    sched.step()
    return model, opt, sched


def _state(model, opt, sched):
    weights = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    moments = {
        i: {k: np.array(v.numpy() if hasattr(v, "numpy") else v) for k, v in s.items()}
        for i, s in opt.state_dict()["state"].items()
    }
    return (
        weights,
        moments,
        json.dumps(sched.state_dict(), default=str),
        json.dumps(gn.random.default_generator.get_state()),
    )


def _assert_same(a, b):
    for key in a[0]:
        np.testing.assert_array_equal(a[0][key], b[0][key])
    for i in a[1]:
        for k in a[1][i]:
            np.testing.assert_array_equal(a[1][i][k], b[1][i][k])
    assert a[2:] == b[2:]


def _tampered(tmp_path, change):
    """A real checkpoint (of a differently seeded run), changed by `change(ckpt)`, written back with gn.save."""
    model, opt, sched = _setup(seed=7)
    path = tmp_path / "last.safetensors"
    save_checkpoint(path, model, opt, sched, epoch=3, history={"epoch": [1, 2, 3], "history": {"loss": [3, 2, 1]}})
    ckpt = gn.load(path)
    change(ckpt)
    gn.save(ckpt, path)
    return path


def _set(path, value):
    def change(ckpt):
        node = ckpt
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


TAMPERINGS = {
    "adam exp_avg of the wrong shape": (
        _set(["optimizer", "state", 0, "exp_avg"], gn.zeros(5, 5)),
        r"state\[0\]\['exp_avg'\] has shape \(5, 5\)",
    ),
    "a weight of the wrong shape, listed after good ones": (
        _set(["model", "2.weight"], gn.zeros(3, 3)),
        "size mismatch for 2.weight",
    ),
    "epoch 10**18": (_set(["epoch"], 10**18), "'epoch' should be a whole number"),
    "negative epoch": (_set(["epoch"], -1), "'epoch' should be a whole number"),
    "epoch as text": (_set(["epoch"], "three"), "'epoch' should be a whole number"),
    "rng state garbage": (_set(["rng"], {"bit_generator": "PCG64", "state": "x"}), "'rng' should be"),
    "rng of another generator": (_set(["rng"], {"bit_generator": "MT19937"}), "'rng' should be"),
    "history with ragged lists": (_set(["history", "history", "loss"], [1.0]), "'history' should be"),
    "history not a dict": (_set(["history"], [1, 2]), "'history' should be"),
    "scheduler garbage": (_set(["scheduler"], {"last_epoch": "x"}), "last_load|last_epoch|scheduler|could not"),
    "optimizer without groups": (_set(["optimizer"], {"state": {}}), "param_groups"),
    "optimizer state not a dict": (_set(["optimizer", "state", 0], 5), "state of parameter 0"),
    "model not a state dict": (_set(["model"], [1, 2]), "'model' should be a state dict"),
}


@pytest.mark.parametrize("case", sorted(TAMPERINGS))
def test_a_tampered_checkpoint_changes_nothing_and_says_what_is_wrong(tmp_path, case):
    change, message = TAMPERINGS[case]
    path = _tampered(tmp_path, change)
    model, opt, sched = _setup(seed=0)
    before = _state(model, opt, sched)
    with pytest.raises(CheckpointError, match="last.safetensors") as info:
        load_checkpoint(path, model, opt, sched)
    assert info.match(message), str(info.value)
    _assert_same(_state(model, opt, sched), before)


def test_a_tampered_checkpoint_through_trainer_resume_changes_nothing(tmp_path):
    path = _tampered(tmp_path, TAMPERINGS["adam exp_avg of the wrong shape"][0])
    model, opt, sched = _setup(seed=0)
    trainer = Trainer(model, nn.MSELoss(), opt, scheduler=sched)
    data = [(gn.randn(4, 3), gn.randn(4, 2))]
    before = _state(model, opt, sched)
    with pytest.raises(CheckpointError, match=r"last\.safetensors.*exp_avg"):
        trainer.fit(data, epochs=5, resume_from=path)
    _assert_same(_state(model, opt, sched), before)
    assert trainer.epochs_done == 0


def test_an_untouched_checkpoint_still_loads(tmp_path):
    path = _tampered(tmp_path, lambda ckpt: None)
    model, opt, sched = _setup(seed=0)
    ckpt = load_checkpoint(path, model, opt, sched)
    assert ckpt["epoch"] == 3
    original, _, _ = _setup(seed=7)
    for key, value in original.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), value.numpy())


# ----- writes ----------------------------------------------------------------------------------------------------
def test_a_killed_writer_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    target = tmp_path / "last.safetensors"
    gn.save({"w": gn.ones(3)}, target)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".last.safetensors.{dead_pid}.deadbeef.tmp"
    stale.write_bytes(b"\0" * 1000)
    live = tmp_path / f".last.safetensors.{os.getppid()}.cafef00d.tmp"  # a live writer's: not ours to remove
    live.write_bytes(b"\0")
    other = tmp_path / ".other.safetensors.1.deadbeef.tmp"  # another file's temporary: left alone
    other.write_bytes(b"\0")
    gn.save({"w": gn.zeros(3)}, target)
    assert not stale.exists()
    assert live.exists() and other.exists()
    np.testing.assert_array_equal(gn.load(target)["w"].numpy(), np.zeros(3))
