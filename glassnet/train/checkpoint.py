"""Checkpoints (model + optimiser + scheduler + epoch + history + RNG state, in one safetensors file) and run folders.

A checkpoint is written with `gn.save`, so it is atomic and holds no pickle: tensors are safetensors tensors,
and everything else (epoch, history, the state of `glassnet.random.default_generator`, scheduler counters)
travels in the file's JSON metadata. Restoring the RNG state is what makes a resumed run continue with the
same shuffles and dropout masks as an uninterrupted one.

A run folder (`RunDir`) is where a training run leaves its traces for later tools (report, dashboard)::

    runs/<name>/config.json       what was trained, how
    runs/<name>/history.json      per-epoch logs (+ recent per-batch records); history.csv the same as a table
    runs/<name>/checkpoints/      last.safetensors (full checkpoint, each epoch) and any ModelCheckpoint files
    runs/<name>/artefacts/        figures, reports, samples
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import os
from pathlib import Path
from typing import Any

import numpy

from glassnet import random as gn_random
from glassnet.files import atomic_write
from glassnet.io.weights import load, save
from glassnet.train.history import History, _plain

FORMAT = "glassnet.checkpoint"
VERSION = 1


def _state_of(obj: Any) -> Any:
    """state_dict() of an object, of each value of a dict of objects, or None."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return {str(k): v.state_dict() for k, v in obj.items()}
    return obj.state_dict()


def _load_into(obj: Any, state: Any, what: str) -> None:
    if obj is None:
        return
    if state is None:
        raise ValueError(f"the checkpoint holds no {what} state to load")
    if isinstance(obj, dict):
        if not isinstance(state, dict) or set(state) != {str(k) for k in obj}:
            raise ValueError(f"entry {what!r} should hold the states of {sorted(map(str, obj))}, got {state!r:.100}")
        for k, v in obj.items():
            v.load_state_dict(state[str(k)])
    else:
        obj.load_state_dict(state)


def save_checkpoint(
    path: str | os.PathLike,
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    epoch: int = 0,
    history: History | dict | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write model, optimiser(s), scheduler(s), `epoch` (epochs completed), history and the default RNG state.

    `optimizer` and `scheduler` may each be one object, a dict of them (e.g. {"g": opt_g, "d": opt_d}) or None.
    `extra` is any further gn.save-able data (callback states, config).
    """
    history_data = history.to_dict() if isinstance(history, History) else history
    ckpt = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": int(epoch),
        "model": model.state_dict(),
        "optimizer": _state_of(optimizer),
        "scheduler": _state_of(scheduler),
        "history": history_data,
        "rng": gn_random.default_generator.get_state(),
        "extra": extra or {},
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save(ckpt, path)


class CheckpointError(ValueError):
    """A checkpoint that cannot be restored: names the file, the entry and what was expected; nothing was changed."""


MAX_EPOCH = 10**6  # far beyond any real run; a larger count is a corrupt or tampered file


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a checkpoint without loading it into anything: format, epoch, RNG state and history."""
    try:
        ckpt = load(path)
    except ValueError as e:  # corrupt, refused or not safetensors (a missing file stays a FileNotFoundError)
        raise CheckpointError(f"load_checkpoint: cannot read {path}: {e}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(
            f"load_checkpoint: {path} is not a glassnet checkpoint (a plain weights file? load it with gn.load and "
            "model.load_state_dict)"
        )

    def bad(entry: str, expected: str, got: Any) -> CheckpointError:
        return CheckpointError(f"load_checkpoint: {path}: entry {entry!r} should be {expected}, got {got!r:.100}")

    epoch = ckpt.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch <= MAX_EPOCH:
        raise bad("epoch", f"a whole number of epochs from 0 to {MAX_EPOCH:,}", epoch)
    if not isinstance(ckpt.get("model"), dict):
        raise bad("model", "a state dict", type(ckpt.get("model")).__name__)
    rng = ckpt.get("rng")
    if rng is not None:
        try:
            numpy.random.PCG64().state = rng  # a throwaway generator: checks the state without using it
        except (TypeError, ValueError, KeyError) as e:
            raise bad("rng", f"a NumPy PCG64 generator state ({e})", rng) from None
    if ckpt.get("history") is not None:
        try:
            ckpt["history"] = _checked_history(ckpt["history"])
        except (TypeError, ValueError, AttributeError) as e:
            raise bad("history", f"a History.to_dict() record ({e})", ckpt["history"]) from None
    if not isinstance(ckpt.get("extra") or {}, dict):
        raise bad("extra", "a dict", ckpt.get("extra"))
    return ckpt


def _checked_history(data: Any) -> History:
    if not isinstance(data, dict):
        raise TypeError("not a dict")
    history = History.from_dict(data)
    for key, values in history.history.items():
        if len(values) != len(history.epoch):
            raise ValueError(f"{key!r} has {len(values)} values for {len(history.epoch)} epochs")
    return history


def _snapshot(objects: tuple[Any, ...]) -> list[tuple[Any, Any]]:
    """(object, copy of its state) for everything a checkpoint may change, to put back if loading fails."""
    saved = [(o, copy.deepcopy(o.state_dict())) for group in objects for o in _each(group)]
    return saved + [(gn_random.default_generator, copy.deepcopy(gn_random.default_generator.get_state()))]


def _each(obj: Any) -> list[Any]:
    return [] if obj is None else list(obj.values()) if isinstance(obj, dict) else [obj]


def _restore(snapshot: list[tuple[Any, Any]]) -> None:
    for obj, state in snapshot:
        if obj is gn_random.default_generator:
            obj.set_state(state)
        else:
            obj.load_state_dict(state)


@contextlib.contextmanager
def all_or_nothing(path: str | os.PathLike, *objects: Any):
    """Load a checkpoint's parts inside this block: if any part fails, each of `objects` (anything with
    state_dict/load_state_dict, a dict of such, or None) and the default RNG are put back as they were."""
    snapshot = _snapshot(objects)
    try:
        yield
    except Exception as e:
        _restore(snapshot)
        raise CheckpointError(f"load_checkpoint: {path}: {e} (nothing was changed)") from e


def load_checkpoint(
    path: str | os.PathLike,
    model: Any = None,
    optimizer: Any = None,
    scheduler: Any = None,
    restore_rng: bool = True,
) -> dict[str, Any]:
    """Read a checkpoint, load it into whichever of model/optimizer/scheduler are given, restore the RNG state.

    All or nothing: the file is checked first, and if loading any part fails, the model, optimiser(s),
    scheduler(s) and RNG are put back as they were and a `CheckpointError` names the file and the entry.
    Returns the checkpoint dict: "epoch" (epochs completed), "history" (a History, or None), "extra", and
    the raw "model"/"optimizer"/"scheduler" states.
    """
    ckpt = read_checkpoint(path)
    with all_or_nothing(path, model, optimizer, scheduler):
        apply_checkpoint(ckpt, model, optimizer, scheduler, restore_rng)
    return ckpt


def apply_checkpoint(ckpt: dict[str, Any], model: Any, optimizer: Any, scheduler: Any, restore_rng: bool) -> None:
    """Load a checked checkpoint's parts (use inside `all_or_nothing`)."""
    if model is not None:
        model.load_state_dict(ckpt["model"])
    _load_into(optimizer, ckpt.get("optimizer"), "optimizer")
    _load_into(scheduler, ckpt.get("scheduler"), "scheduler")
    if restore_rng and ckpt.get("rng") is not None:
        gn_random.default_generator.set_state(ckpt["rng"])


class RunDir:
    """A run folder `root/name/` with config.json, history.json/.csv, checkpoints/ and artefacts/.

    `name=None` picks a timestamp (made unique); an existing folder with the given name is reused (to resume).
    """

    def __init__(self, root: str | os.PathLike = "runs", name: str | None = None):
        root = Path(root)
        if name is None:
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            name, i = stamp, 1
            while (root / name).exists():
                name, i = f"{stamp}-{i}", i + 1
        self.name = name
        self.path = root / name
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        self.artefacts.mkdir(parents=True, exist_ok=True)

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunDir:
        """An existing (or new) run folder given its full path."""
        p = Path(path)
        return cls(p.parent, p.name)

    @property
    def checkpoints(self) -> Path:
        """The folder for checkpoint files."""
        return self.path / "checkpoints"

    @property
    def artefacts(self) -> Path:
        """The folder for figures, reports and other outputs."""
        return self.path / "artefacts"

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def history_path(self) -> Path:
        return self.path / "history.json"

    @property
    def last_checkpoint(self) -> Path:
        """Where the Trainer keeps the full checkpoint of the latest finished epoch."""
        return self.checkpoints / "last.safetensors"

    def write_config(self, config: dict[str, Any]) -> None:
        """Write config.json (atomically)."""
        atomic_write(self.config_path, json.dumps(_plain(config), indent=1, default=repr))

    def read_config(self) -> dict[str, Any]:
        """Read config.json."""
        with open(self.config_path, encoding="utf-8") as f:
            return json.load(f)

    def write_history(self, history: History) -> None:
        """Write history.json and history.csv (atomically)."""
        history.to_json(self.history_path)
        history.to_csv(self.path / "history.csv")

    def read_history(self) -> History:
        """Read history.json."""
        return History.from_json(self.history_path)

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"
