"""History: what `Trainer.fit` returns: per-epoch logs as lists (`history["val_loss"]`), recent per-batch records."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections import deque
from typing import Any

from glassnet.files import atomic_write


def _plain(value: Any) -> Any:
    """A JSON-friendly copy: numbers as Python floats/ints, arrays and Tensors as lists."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


class History:
    """Per-epoch logs (`history.history[key]` is one value per epoch, None where an epoch lacked the key) and the
    last `max_batch_records` per-batch records (`history.batches`, dicts with epoch, batch, loss, …)."""

    def __init__(self, max_batch_records: int = 10_000):
        self.epoch: list[int] = []
        self.history: dict[str, list[Any]] = {}
        self.batches: deque[dict[str, Any]] = deque(maxlen=max_batch_records)

    # ----- recording ---------------------------------------------------------------------------------------
    def append_epoch(self, epoch: int, logs: dict[str, Any]) -> None:
        """Record the logs of one finished epoch (keys new this epoch are padded with None before it)."""
        n = len(self.epoch)
        self.epoch.append(int(epoch))
        for key, value in logs.items():
            self.history.setdefault(key, [None] * n).append(_plain(value))
        for values in self.history.values():
            if len(values) < n + 1:
                values.append(None)

    def append_batch(self, record: dict[str, Any]) -> None:
        """Record one batch (the oldest record is dropped once `max_batch_records` are held)."""
        self.batches.append({k: _plain(v) for k, v in record.items()})

    # ----- reading -----------------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> list[Any]:
        return self.history[key]

    def __contains__(self, key: object) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def keys(self) -> list[str]:
        """The logged quantities."""
        return list(self.history)

    def best(self, key: str, mode: str = "min") -> tuple[int, float]:
        """(epoch, value) of the smallest (mode='min') or largest value of `key`, ignoring missing and NaN."""
        pairs = [(e, v) for e, v in zip(self.epoch, self.history[key]) if isinstance(v, (int, float)) and v == v]
        if not pairs:
            raise ValueError(f"History.best: no numeric values of {key!r}")
        pick = min if mode == "min" else max
        return pick(pairs, key=lambda p: p[1])

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={self.keys()}, batch_records={len(self.batches)})"

    def _repr_html_(self) -> str:
        """Jupyter's view: the curves (inline SVG, no matplotlib needed) and each quantity's last and best value."""
        from glassnet.display import history_html

        return history_html(self.epoch, self.history)

    # ----- saving --------------------------------------------------------------------------------------------
    def to_dict(self, batches: bool = True) -> dict[str, Any]:
        """Plain data: {"epoch": [...], "history": {...}, "batches": [...], "max_batch_records": N}."""
        out: dict[str, Any] = {
            "epoch": list(self.epoch),
            "history": {k: list(v) for k, v in self.history.items()},
            "max_batch_records": self.batches.maxlen,
        }
        if batches:
            out["batches"] = list(self.batches)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a History from `to_dict()` output."""
        h = cls(int(data.get("max_batch_records") or 10_000))
        h.epoch = [int(e) for e in data.get("epoch", [])]
        h.history = {str(k): list(v) for k, v in data.get("history", {}).items()}
        h.batches.extend(dict(b) for b in data.get("batches", []))
        return h

    def to_json(self, path: str | os.PathLike, batches: bool = True) -> None:
        """Write `to_dict()` as JSON (atomically; NaN and infinities as JSON's NaN/Infinity)."""
        atomic_write(path, json.dumps(self.to_dict(batches), indent=1))

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> History:
        """Read a History written by `to_json`."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write one row per epoch: epoch, then each key (lists as JSON, missing values empty)."""
        buf = io.StringIO()
        writer = csv.writer(buf)
        keys = self.keys()
        writer.writerow(["epoch", *keys])
        for i, e in enumerate(self.epoch):
            writer.writerow([e, *(_cell(self.history[k][i]) for k in keys)])
        atomic_write(path, buf.getvalue())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)
