"""Callbacks: observers of the one training event stream (fit, epoch and batch begin/end, after backward).

A callback subclasses `Callback` and overrides the events it cares about; the Trainer sets `callback.trainer`
before `on_fit_begin`, so a callback can read `trainer.model`, `trainer.optimizer`, `trainer.history`, or set
`trainer.stop_training = True`. Epoch numbers are 0-based; `logs` hold the epoch's (or batch's) numbers,
validation ones prefixed `val_`.

Order matters when several act at epoch end: callbacks run in the order given, so put `ModelCheckpoint`
after callbacks that change the learning rate if its full checkpoints should include the change.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from glassnet.io.weights import check_weights_path, save
from glassnet.optim import lr_scheduler as _lrs

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "JSONLLogger",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]

EVENTS = (
    "on_fit_begin",
    "on_fit_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_batch_begin",
    "on_batch_end",
    "on_after_backward",
)


class Callback:
    """Base class: every event is a no-op; `self.trainer` is set by the Trainer before the fit begins."""

    trainer: Any = None
    # True for callbacks that only write output (progress, files): in a data-parallel run only rank 0 runs them
    # (so they must not call trainer.evaluate(), which communicates with the other ranks).
    rank_zero_only: bool = False

    def set_trainer(self, trainer: Any) -> None:
        """Attach to a Trainer (called by the Trainer)."""
        self.trainer = trainer

    def on_fit_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Before the first epoch."""

    def on_fit_end(self, logs: dict[str, Any] | None = None) -> None:
        """After the last epoch (also after an early stop); `logs` are the last epoch's."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Before epoch `epoch` (0-based) trains."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """After epoch `epoch` trained and validated; `logs` hold loss, metrics, val_*, lr."""

    def on_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Before training batch `batch` (0-based within the epoch)."""

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """After training batch `batch`; `logs` hold that batch's loss (and other step outputs)."""

    def on_after_backward(self, trainer: Any) -> None:
        """After `loss.backward()` and before `optimizer.step()`: gradients are there to read or clip."""

    def state_dict(self) -> dict[str, Any]:
        """What a full checkpoint should keep of this callback (nothing by default)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()` output."""


class CallbackList(Callback):
    """Several callbacks seen as one: each event is passed on to every callback, in order."""

    def __init__(self, callbacks: Iterable[Callback] = ()):
        self.callbacks: list[Callback] = []
        for cb in callbacks:
            self.append(cb)

    def append(self, callback: Callback) -> None:
        """Add a callback at the end."""
        if not isinstance(callback, Callback):
            raise TypeError(
                f"CallbackList: {type(callback).__name__} is not a Callback (wrap functions in LambdaCallback)"
            )
        self.callbacks.append(callback)
        if self.trainer is not None:
            callback.set_trainer(self.trainer)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer
        for cb in self.callbacks:
            cb.set_trainer(trainer)

    def on_fit_begin(self, logs=None):
        for cb in self.callbacks:
            cb.on_fit_begin(logs)

    def on_fit_end(self, logs=None):
        for cb in self.callbacks:
            cb.on_fit_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_batch_begin(self, batch, logs=None):
        for cb in self.callbacks:
            cb.on_batch_begin(batch, logs)

    def on_batch_end(self, batch, logs=None):
        for cb in self.callbacks:
            cb.on_batch_end(batch, logs)

    def on_after_backward(self, trainer):
        for cb in self.callbacks:
            cb.on_after_backward(trainer)

    def state_dict(self) -> dict[str, Any]:
        """Each callback's state, keyed by position and class name."""
        return {f"{i}:{type(cb).__name__}": cb.state_dict() for i, cb in enumerate(self.callbacks)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for i, cb in enumerate(self.callbacks):
            key = f"{i}:{type(cb).__name__}"
            if key in state:
                cb.load_state_dict(state[key])


class LambdaCallback(Callback):
    """A callback from functions: `LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs))`."""

    def __init__(self, **hooks: Callable[..., Any]):
        for name, fn in hooks.items():
            if name not in EVENTS:
                raise ValueError(f"LambdaCallback: unknown event {name!r}; events are {', '.join(EVENTS)}")
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable")
            setattr(self, name, fn)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _resolve_mode(mode: str, monitor: str, who: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    higher_is_better = ("acc", "f1", "precision", "recall", "auc")
    return "max" if any(w in monitor for w in higher_is_better) else "min"


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    With `restore_best_weights=True` the weights of the best epoch are put back at the end of the fit, whether
    or not training stopped early. `best_epoch` (0-based) and `stopped_epoch` (None if it never stopped) record
    what happened; `best` is the best monitored value.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        patience: int = 0,
        min_delta: float = 0.0,
        restore_best_weights: bool = False,
        verbose: bool = False,
    ):
        self.monitor = monitor
        self.mode = _resolve_mode(mode, monitor, "EarlyStopping")
        self.patience = patience
        self.min_delta = abs(min_delta)
        self.restore_best_weights = restore_best_weights
        self.verbose = verbose
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.best_weights: dict | None = None

    def _improved(self, current: float) -> bool:
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_fit_begin(self, logs=None):
        if getattr(self, "_loaded", False):  # resumed from a checkpoint: keep the counters
            self._loaded = False
            self.stopped_epoch = None
            return
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        current = _number((logs or {}).get(self.monitor))
        if current is None:
            warnings.warn(f"EarlyStopping: {self.monitor!r} is not in the logs ({', '.join(logs or {})})", stacklevel=2)
            return
        if self._improved(current):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = {k: v.clone() for k, v in self.trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True
            if self.verbose:
                print(
                    f"EarlyStopping: stopped at epoch {epoch + 1}; best {self.monitor}={self.best:.4g} "
                    f"at epoch {self.best_epoch + 1 if self.best_epoch is not None else '-'}"
                )

    def on_fit_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {"wait": self.wait, "best": self.best, "best_epoch": self.best_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.wait, self.best, self.best_epoch = int(state["wait"]), float(state["best"]), state["best_epoch"]
        self.best_weights = state.get("best_weights")
        self._loaded = True


class ModelCheckpoint(Callback):
    """Save the model every `every_n_epochs` epochs, or only when `monitor` improves (`save_best_only`).

    `path` is a pattern formatted with `epoch` (1-based: epochs completed) and the epoch's logs, e.g.
    "ckpt/epoch{epoch:03d}-{val_loss:.3f}.safetensors", or a folder (then "best.safetensors" with
    save_best_only, else "epoch{epoch:03d}.safetensors"). Writes are atomic safetensors files (gn.save).
    `weights_only=False` writes full checkpoints (optimiser, scheduler, epoch, history, RNG) for resuming.
    """

    rank_zero_only = True

    def __init__(
        self,
        path: str | os.PathLike,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best_only: bool = False,
        every_n_epochs: int = 1,
        weights_only: bool = True,
        verbose: bool = False,
    ):
        path = os.fspath(path)
        if os.path.isdir(path) or path.endswith(("/", os.sep)) or not os.path.splitext(path)[1]:
            name = "best.safetensors" if save_best_only else "epoch{epoch:03d}.safetensors"
            path = os.path.join(path, name)
        check_weights_path(path, "ModelCheckpoint")  # before training, not after the first epoch
        self.path = path
        self.monitor = monitor
        self.mode = _resolve_mode(mode, monitor, "ModelCheckpoint")
        self.save_best_only = save_best_only
        self.every_n_epochs = max(1, int(every_n_epochs))
        self.weights_only = weights_only
        self.verbose = verbose
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_path: str | None = None
        self.last_path: str | None = None
        self.saved: list[str] = []

    def _save(self, epoch: int, logs: dict[str, Any]) -> str:
        fields = {k: v for k, v in logs.items() if _number(v) is not None}
        target = self.path.format(epoch=epoch + 1, **{k: float(v) for k, v in fields.items()})
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        if self.weights_only:
            save(self.trainer.model.state_dict(), target)
        else:
            self.trainer.save_checkpoint(target, epoch=epoch + 1)
        self.last_path = target
        if target not in self.saved:
            self.saved.append(target)
        if self.verbose:
            print(f"ModelCheckpoint: saved {target}")
        return target

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if (epoch + 1) % self.every_n_epochs:
            return
        if not self.save_best_only:
            self._save(epoch, logs)
            return
        current = _number(logs.get(self.monitor))
        if current is None:
            warnings.warn(f"ModelCheckpoint: {self.monitor!r} is not in the logs; nothing saved", stacklevel=2)
            return
        better = current < self.best if self.mode == "min" else current > self.best
        if better:
            self.best = current
            self.best_path = self._save(epoch, logs)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_path": self.best_path}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_path = float(state["best"]), state.get("best_path")


class LearningRateScheduler(Callback):
    """Step a glassnet.optim scheduler once per epoch (at its end), or once per batch with `per_batch=True`.

    Instead of a scheduler, a function `schedule(epoch, lr) -> lr` may be given; it sets every group's lr at the
    beginning of each epoch (Keras style).
    """

    def __init__(self, scheduler: Any, per_batch: bool = False, verbose: bool = False):
        if isinstance(scheduler, _lrs.ReduceLROnPlateau):
            raise TypeError("LearningRateScheduler: use the ReduceLROnPlateau callback for a metric-driven schedule")
        self.scheduler = scheduler
        self.per_batch = per_batch
        self.verbose = verbose

    def _is_function(self) -> bool:
        return not hasattr(self.scheduler, "step")

    def on_epoch_begin(self, epoch, logs=None):
        if self._is_function():
            groups = self.trainer.optimizer.param_groups
            new = float(self.scheduler(epoch, float(groups[0]["lr"])))
            for g in groups:
                g["lr"] = new
            if self.verbose:
                print(f"LearningRateScheduler: lr={new:.4g} for epoch {epoch + 1}")

    def on_batch_end(self, batch, logs=None):
        if self.per_batch and not self._is_function():
            self.scheduler.step()

    def on_epoch_end(self, epoch, logs=None):
        if not self.per_batch and not self._is_function():
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return {} if self._is_function() else {"scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "scheduler" in state and not self._is_function():
            self.scheduler.load_state_dict(state["scheduler"])


class ReduceLROnPlateau(Callback):
    """Multiply the lr by `factor` when `monitor` stops improving (wraps glassnet.optim.lr_scheduler's)."""

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0.0,
        eps: float = 1e-8,
        verbose: bool = False,
    ):
        self.monitor = monitor
        self.kwargs = dict(
            mode=_resolve_mode(mode, monitor, "ReduceLROnPlateau"),
            factor=factor,
            patience=patience,
            threshold=threshold,
            threshold_mode=threshold_mode,
            cooldown=cooldown,
            min_lr=min_lr,
            eps=eps,
        )
        self.verbose = verbose
        self.scheduler: _lrs.ReduceLROnPlateau | None = None
        self._pending: dict[str, Any] | None = None

    def on_fit_begin(self, logs=None):
        if self.scheduler is None or self.scheduler.optimizer is not self.trainer.optimizer:
            self.scheduler = _lrs.ReduceLROnPlateau(self.trainer.optimizer, **self.kwargs)
        if self._pending is not None:
            self.scheduler.load_state_dict(self._pending)
            self._pending = None

    def on_epoch_end(self, epoch, logs=None):
        current = _number((logs or {}).get(self.monitor))
        if current is None:
            warnings.warn(f"ReduceLROnPlateau: {self.monitor!r} is not in the logs", stacklevel=2)
            return
        before = [g["lr"] for g in self.trainer.optimizer.param_groups]
        self.scheduler.step(current)
        after = [g["lr"] for g in self.trainer.optimizer.param_groups]
        if self.verbose and after != before:
            print(f"ReduceLROnPlateau: lr {before[0]:.4g} -> {after[0]:.4g} after epoch {epoch + 1}")

    def state_dict(self) -> dict[str, Any]:
        return {} if self.scheduler is None else {"scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "scheduler" in state:
            if self.scheduler is not None:
                self.scheduler.load_state_dict(state["scheduler"])
            else:
                self._pending = state["scheduler"]


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite (`terminated_batch` records where)."""

    def __init__(self, monitor: str = "loss"):
        self.monitor = monitor
        self.terminated_at: tuple[int, int] | None = None

    def on_batch_end(self, batch, logs=None):
        value = _number((logs or {}).get(self.monitor))
        if value is not None and not math.isfinite(value):
            self.terminated_at = (getattr(self.trainer, "epoch", 0), batch)
            self.trainer.stop_training = True
            warnings.warn(f"TerminateOnNaN: {self.monitor} is {value} at batch {batch}; stopping", stacklevel=2)


def _json_value(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


class CSVLogger(Callback):
    """Write one CSV row per epoch (epoch, then each log) to `path`; `append=True` continues an existing file."""

    rank_zero_only = True

    def __init__(self, path: str | os.PathLike, append: bool = False, separator: str = ","):
        self.path = os.fspath(path)
        self.append = append
        self.separator = separator
        self._file = None
        self._writer = None
        self._keys: list[str] | None = None

    def on_fit_begin(self, logs=None):
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        exists = self.append and os.path.exists(self.path) and os.path.getsize(self.path) > 0
        self._keys = None
        if exists:
            with open(self.path, newline="", encoding="utf-8") as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
            self._keys = header[1:] if header else None
        self._file = open(self.path, "a" if exists else "w", newline="", encoding="utf-8")  # noqa: SIM115

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._keys is None:
            self._keys = list(logs)
            self._writer = csv.writer(self._file, delimiter=self.separator)
            self._writer.writerow(["epoch", *self._keys])
        if self._writer is None:
            self._writer = csv.writer(self._file, delimiter=self.separator)
        row = []
        for k in self._keys:
            v = _json_value(logs.get(k, ""))
            row.append(json.dumps(v) if isinstance(v, (list, dict)) else v)
        self._writer.writerow([epoch, *row])
        self._file.flush()

    def on_fit_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class JSONLLogger(Callback):
    """A run log: one JSON object per line for fit begin/end and each epoch (and each batch with `batches=True`).

    Each record has "event", "time" (seconds since the epoch) and the event's fields (epoch, batch, logs).
    """

    rank_zero_only = True

    def __init__(self, path: str | os.PathLike, batches: bool = False, append: bool = True):
        self.path = os.fspath(path)
        self.batches = batches
        self.append = append
        self._file = None

    def _write(self, event: str, **fields: Any) -> None:
        if self._file is None:
            return
        record = {"event": event, "time": time.time(), **fields}
        self._file.write(json.dumps(record, default=_json_value) + "\n")
        self._file.flush()

    def on_fit_begin(self, logs=None):
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a" if self.append else "w", encoding="utf-8")  # noqa: SIM115
        self._write("fit_begin", epochs=getattr(self.trainer, "epochs", None))

    def on_epoch_end(self, epoch, logs=None):
        self._write("epoch_end", epoch=epoch, logs={k: _json_value(v) for k, v in (logs or {}).items()})

    def on_batch_end(self, batch, logs=None):
        if self.batches:
            self._write(
                "batch_end",
                epoch=getattr(self.trainer, "epoch", None),
                batch=batch,
                logs={k: _json_value(v) for k, v in (logs or {}).items()},
            )

    def on_fit_end(self, logs=None):
        self._write("fit_end", logs={k: _json_value(v) for k, v in (logs or {}).items()})
        if self._file is not None:
            self._file.close()
            self._file = None
