"""Reading a runs folder for the server: which runs there are, their status, series, layers and pictures.

Every file is reached through `RunsFolder`, which refuses anything whose real path leaves the runs folder
(`..`, absolute paths, symlinks pointing out) and anything that is not a regular file (a FIFO or a device is
never opened). JSON Lines files are tailed: each refresh reads only the bytes appended since the last one, up to
the last complete line. A file that is malformed or too big becomes an error of its run only.
"""

from __future__ import annotations

import json
import math
import os
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Any

import numpy

from glassnet.train.runlog import (
    HISTOGRAMS_FILE,
    LAYERS_FILE,
    SCALARS_FILE,
    STATUS_FILE,
    TEXT_FILE,
)

MAX_JSON_BYTES = 32 * 1024 * 1024  # config.json, history.json, ... larger ones are an error of their run
MAX_JSONL_BYTES = 512 * 1024 * 1024  # a JSON Lines file beyond this stops being read (an error of its run)
READ_CHUNK = 8 * 1024 * 1024  # bytes of a JSON Lines file parsed at once (the longest line it accepts)
MAX_PICTURE_BYTES = 16 * 1024 * 1024
STALE_SECONDS = 15 * 60  # a "running" run without a heartbeat this long (e.g. an exception in a notebook) is "stalled"
RUN_MARKERS = ("config.json", "history.json", STATUS_FILE, SCALARS_FILE, "summary.json", "checkpoint.safetensors")
PICTURE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}  # no SVG: it can carry scripts


class RunFileError(Exception):
    """A file of a run cannot be read (malformed, too big, not a regular file)."""


def _finite(x: Any) -> float | None:
    """A float for JSON: NaN and infinities become None (browsers' JSON has no NaN)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def json_safe(value: Any) -> Any:
    """A copy of `value` in which every non-finite float is None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _utf8(name: str) -> bool:
    """Whether a file name is text (not bytes that are no UTF-8, which no URL or page could name)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, someone else's
        return True
    except (OSError, ValueError, OverflowError):
        return False
    return True


class Series:
    """One logged series, columnar: steps, values, wall times and epochs (NaN where not given)."""

    __slots__ = ("step", "value", "wall", "epoch", "_arrays")

    def __init__(self) -> None:
        self.step: list[int] = []
        self.value: list[float] = []
        self.wall: list[float] = []
        self.epoch: list[float] = []
        self._arrays: tuple[int, dict[str, numpy.ndarray]] | None = None

    def add(self, step: int, value: float, wall: float, epoch: float) -> bool:
        """Append a point; a step not after the last one means the run restarted there (e.g. resumed from a
        checkpoint): the points from that step on are dropped first. Returns whether anything was dropped."""
        dropped = False
        if self.step and step <= self.step[-1]:
            keep = next((i for i, s in enumerate(self.step) if s >= step), len(self.step))
            for column in (self.step, self.value, self.wall, self.epoch):
                del column[keep:]
            dropped = True
        self.step.append(step)
        self.value.append(value)
        self.wall.append(wall)
        self.epoch.append(epoch)
        return dropped

    def __len__(self) -> int:
        return len(self.step)

    def arrays(self) -> dict[str, numpy.ndarray]:
        if self._arrays is None or self._arrays[0] != len(self.step):
            self._arrays = (
                len(self.step),
                {
                    "step": numpy.asarray(self.step, dtype=numpy.float64),
                    "value": numpy.asarray(self.value, dtype=numpy.float64),
                    "wall": numpy.asarray(self.wall, dtype=numpy.float64),
                    "epoch": numpy.asarray(self.epoch, dtype=numpy.float64),
                },
            )
        return self._arrays[1]


def downsample_indices(x: numpy.ndarray, y: numpy.ndarray, max_points: int) -> numpy.ndarray:
    """Indices of at most ~`max_points` points keeping each bucket's first, lowest and highest value (spikes
    survive, as they do in TensorBoard's overview)."""
    n = len(x)
    if n <= max_points:
        return numpy.arange(n)
    buckets = max(1, max_points // 3)
    bounds = numpy.linspace(0, n, buckets + 1).astype(numpy.int64)
    keep = [0, n - 1]
    yy = numpy.where(numpy.isfinite(y), y, numpy.nan)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if hi <= lo:
            continue
        keep.append(lo)
        part = yy[lo:hi]
        if numpy.isnan(part).all():
            continue
        keep.append(lo + int(numpy.nanargmin(part)))
        keep.append(lo + int(numpy.nanargmax(part)))
    return numpy.unique(numpy.asarray(keep, dtype=numpy.int64))


class Tail:
    """Follows one JSON Lines file: the records appended since the last call."""

    def __init__(self, folder: RunsFolder, path: Path):
        self.folder, self.path = folder, path
        self.offset = 0
        self.ident: tuple[int, int] | None = None
        self.bad_lines = 0

    def read_new(self) -> tuple[list[Any], bool]:
        """(new records, whether the file was replaced or truncated, so everything read before is void)."""
        st = self.folder.regular_stat(self.path)
        if st is None:
            reset = self.offset > 0
            self.offset, self.ident = 0, None
            return [], reset
        reset = False
        ident = (st.st_dev, st.st_ino)
        if self.ident is not None and (ident != self.ident or st.st_size < self.offset):
            self.offset, self.bad_lines, reset = 0, 0, True
        self.ident = ident
        if st.st_size > MAX_JSONL_BYTES:
            raise RunFileError(
                f"{self.path.name} is {st.st_size:,} bytes; the server reads at most {MAX_JSONL_BYTES:,}"
            )
        if st.st_size == self.offset:
            return [], reset
        records: list[Any] = []
        while True:
            data, end = self.folder.read_bytes(self.path, self.offset, READ_CHUNK)
            cut = data.rfind(b"\n")
            if cut < 0:
                if len(data) >= READ_CHUNK:
                    raise RunFileError(f"{self.path.name} has a line longer than {READ_CHUNK:,} bytes")
                break  # only a half-written line: wait for its newline
            lines = [line for line in data[: cut + 1].split(b"\n") if line.strip()]
            try:  # one parse of the whole chunk as an array; line by line only when a line is malformed
                records.extend(json.loads(b"[" + b",".join(lines) + b"]"))
            except ValueError:
                for line in lines:
                    try:
                        records.append(json.loads(line))
                    except ValueError:
                        self.bad_lines += 1
            self.offset += cut + 1
            if not end:
                break
        return records, reset


class Run:
    """What the server knows of one run folder, refreshed from its files on demand (cheap when nothing changed)."""

    def __init__(self, folder: RunsFolder, name: str, path: Path):
        self.folder, self.name, self.path = folder, name, path
        self._base = os.fspath(path) + os.sep  # for the string paths of the hot loop (no pathlib objects)
        self.lock = threading.RLock()
        self.series: dict[str, Series] = {}
        self.order: list[tuple[str, int]] = []  # (tag, index) of each point in the order read (event streams)
        self.resets = 0  # bumped when read series were dropped (a file replaced, a run restarted)
        self.layers: list[dict[str, Any]] = []
        self.histograms: dict[str, list[dict[str, Any]]] = {}
        self.texts: list[dict[str, Any]] = []
        self._tails = {
            name: Tail(folder, path / name) for name in (SCALARS_FILE, LAYERS_FILE, HISTOGRAMS_FILE, TEXT_FILE)
        }
        self._json_cache: dict[str, tuple[Any, Any]] = {}
        self.errors: dict[str, str] = {}
        self.legacy = False  # series from history.json or a checkpoint (no scalars.jsonl)
        self._legacy_sig: Any = None
        self.version = 0

    # ----- small JSON files --------------------------------------------------------------------------------------
    def json_file(self, name: str) -> Any:
        """The parsed JSON file `name` of this run (cached until it changes); None when absent."""
        path = self._base + name
        st = self.folder.regular_stat(path)
        if st is None:
            self._json_cache.pop(name, None)
            self.errors.pop(name, None)
            return None
        sig = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._json_cache.get(name)
        if cached is not None and cached[0] == sig:
            return cached[1]
        try:
            if st.st_size > MAX_JSON_BYTES:
                raise RunFileError(f"{name} is {st.st_size:,} bytes; the server reads at most {MAX_JSON_BYTES:,}")
            data, _ = self.folder.read_bytes(path, 0, MAX_JSON_BYTES + 1)
            try:
                value = json.loads(data)
            except ValueError as e:
                raise RunFileError(f"{name} is not valid JSON ({e})") from None
            self.errors.pop(name, None)
        except RunFileError as e:
            self.errors[name] = str(e)
            value = None
        self._json_cache[name] = (sig, value)
        return value

    # ----- refreshing the tailed files ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read what was appended to the run's JSON Lines files since the last refresh."""
        with self.lock:
            before = (
                len(self.order),
                len(self.layers),
                len(self.texts),
                self.resets,
                sum(len(v) for v in self.histograms.values()),
            )
            for name, tail in self._tails.items():
                try:
                    records, reset = tail.read_new()
                except (RunFileError, OSError) as e:
                    self.errors[name] = str(e)
                    continue
                if reset:
                    self._forget(name)
                self._take(name, records)
                if tail.bad_lines:
                    self.errors[name] = f"{name}: {tail.bad_lines} malformed line(s) skipped"
                else:
                    self.errors.pop(name, None)
            if not self.series or self.legacy:
                self._legacy_series()
            after = (
                len(self.order),
                len(self.layers),
                len(self.texts),
                self.resets,
                sum(len(v) for v in self.histograms.values()),
            )
            if after != before:
                self.version += 1

    def _forget(self, name: str) -> None:
        if name == SCALARS_FILE:
            self.series, self.order = {}, []
        elif name == LAYERS_FILE:
            self.layers = []
        elif name == HISTOGRAMS_FILE:
            self.histograms = {}
        elif name == TEXT_FILE:
            self.texts = []
        self.resets += 1

    def _take(self, name: str, records: list[Any]) -> None:
        if name == SCALARS_FILE:
            if records and self.legacy:
                self.series, self.order, self.legacy = {}, [], False
                self.resets += 1
            bad, nan, order, all_series = 0, math.nan, self.order, self.series
            for r in records:
                try:
                    tag, step, value = r["tag"], r["step"], r["value"]
                except (TypeError, KeyError):
                    bad += 1
                    continue
                if type(tag) is not str or type(step) is not int or type(value) not in (float, int):
                    bad += 1
                    continue
                wall, epoch = r.get("wall", nan), r.get("epoch", nan)
                series = all_series.get(tag)
                if series is None:
                    series = all_series[tag] = Series()
                if series.step and step <= series.step[-1]:  # a restart: clients reload, the order is rebuilt
                    series.add(step, float(value), float(wall), float(epoch))
                    self.resets += 1
                    order = self.order = [(t, i) for t, s in all_series.items() for i in range(len(s))]
                    continue
                series.step.append(step)
                series.value.append(float(value))
                series.wall.append(float(wall) if type(wall) in (float, int) else nan)
                series.epoch.append(float(epoch) if type(epoch) in (float, int) else nan)
                order.append((tag, len(series.step) - 1))
            self._tails[name].bad_lines += bad
        elif name == LAYERS_FILE:
            self.layers = []
        elif name == HISTOGRAMS_FILE:
            self.histograms = {}
        elif name == TEXT_FILE:
            self.texts = []
        self.resets += 1

    def _take(self, name: str, records: list[Any]) -> None:
        if name == SCALARS_FILE:
            if records and self.legacy:
                self.series, self.order, self.legacy = {}, [], False
                self.resets += 1
            for r in records:
                if not isinstance(r, dict) or not isinstance(r.get("tag"), str):
                    self._tails[name].bad_lines += 1
                    continue
                value = r.get("value")
                step = r.get("step")
                if not isinstance(value, (int, float)) or isinstance(value, bool) or not isinstance(step, int):
                    self._tails[name].bad_lines += 1
                    continue
                epoch = r.get("epoch")
                wall = r.get("wall")
                series = self.series.get(r["tag"])
                if series is None:
                    series = self.series[r["tag"]] = Series()
                dropped = series.add(
                    step,
                    float(value),
                    float(wall) if isinstance(wall, (int, float)) else math.nan,
                    float(epoch) if isinstance(epoch, (int, float)) else math.nan,
                )
                if dropped:  # clients reload; the order is rebuilt from what is kept
                    self.resets += 1
                    self.order = [(t, i) for t, s in self.series.items() for i in range(len(s))]
                else:
                    self.order.append((r["tag"], len(series) - 1))
        elif name == LAYERS_FILE:
            self.layers.extend(r for r in records if isinstance(r, dict) and isinstance(r.get("step"), int))
        elif name == HISTOGRAMS_FILE:
            for r in records:
                if isinstance(r, dict) and isinstance(r.get("tag"), str) and isinstance(r.get("counts"), list):
                    self.histograms.setdefault(r["tag"], []).append(r)
        elif name == TEXT_FILE:
            self.texts.extend(r for r in records if isinstance(r, dict) and isinstance(r.get("tag"), str))

    def _legacy_series(self) -> None:
        """Series from history.json (a Trainer run that predates scalars.jsonl, a recipe's history list) or from
        the history a recipe's checkpoint carries."""
        history, source = self.json_file("history.json"), "history.json"
        if history is None:
            history, source = self._checkpoint_history()
        sig = (source, self._json_cache.get(source, (None,))[0])  # the file's (inode, mtime, size)
        if history is None or sig == self._legacy_sig:
            return
        self._legacy_sig = sig
        series: dict[str, Series] = {}
        try:
            for tag, step, value, epoch in _history_points(history):
                series.setdefault(tag, Series()).add(step, value, math.nan, epoch)
        except (TypeError, ValueError, KeyError) as e:
            self.errors[source] = f"{source}: not a history this server understands ({e})"
            return
        self.series, self.legacy = series, True
        self.order = [(t, i) for t, s in series.items() for i in range(len(s))]
        self.resets += 1

    def _checkpoint_history(self) -> tuple[Any, str]:
        """(the history in a recipe's or Trainer's checkpoint, or None; the checkpoint's path in the run)."""
        for rel in ("checkpoint.safetensors", "checkpoints/last.safetensors"):
            path = self.path / rel
            st = self.folder.regular_stat(path)
            if st is None:
                continue
            sig = (st.st_ino, st.st_mtime_ns, st.st_size)
            cached = self._json_cache.get(rel)
            if cached is not None and cached[0] == sig:
                return cached[1], rel
            try:
                value = _safetensors_history(self.folder, path)
                self.errors.pop(rel, None)
            except RunFileError as e:
                self.errors[rel] = str(e)
                value = None
            self._json_cache[rel] = (sig, value)
            return value, rel
        return None, "checkpoint.safetensors"

    # ----- what the pages ask for ----------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """{"status": running | finished | stopped early | crashed | stalled | unknown, "started", "updated", ...}."""
        data = self.json_file(STATUS_FILE)
        now = time.time()
        if not isinstance(data, dict):
            mtimes = [st.st_mtime for p in self.path.iterdir() if (st := self.folder.regular_stat(p)) is not None]
            done = any((self.path / m).exists() for m in ("history.json", "summary.json", "model.safetensors"))
            return {
                "status": "finished" if done else "unknown",
                "started": min(mtimes, default=None),
                "updated": max(mtimes, default=None),
                "pid": None,
            }
        state = str(data.get("status", "unknown"))
        heartbeat = _finite(data.get("heartbeat"))
        if state == "running":
            pid = data.get("pid")
            same_host = data.get("host") == socket.gethostname()
            if same_host and isinstance(pid, int) and not _pid_alive(pid):
                state = "crashed"
            elif heartbeat is not None and now - heartbeat > STALE_SECONDS:  # alive (or elsewhere) but silent
                state = "stalled"
        updated = _finite(data.get("ended")) or heartbeat
        st = self.folder.regular_stat(self._base + SCALARS_FILE)
        if st is not None and (updated is None or st.st_mtime > updated):
            updated = st.st_mtime
        return {
            "status": state,
            "started": _finite(data.get("started")),
            "updated": updated,
            "pid": data.get("pid"),
            "epochs": data.get("epochs"),
            "epochs_planned": data.get("epochs_planned"),
            "step": data.get("step"),
            "best": data.get("best") if isinstance(data.get("best"), dict) else {},
        }

    def summary(self) -> dict[str, Any]:
        """The runs list's row: name, kind, status, epochs, best validation metric, start, update, duration."""
        config = self.json_file("config.json")
        config = config if isinstance(config, dict) else {}
        info = self.status()
        kind = _kind(config, self.path)
        best = _best_from_status(info.get("best") or {})
        epochs = info.get("epochs")
        if best is None or epochs is None:  # no status.json: read the series (cached after the first time)
            self.refresh()
            with self.lock:
                if best is None:
                    best = _best_from_series(self.series)
                if epochs is None:
                    epochs = _epochs_from_series(self.series)
        started, updated = info.get("started"), info.get("updated")
        return json_safe(
            {
                "name": self.name,
                "kind": kind,
                "status": info["status"],
                "epochs": epochs,
                "epochs_planned": info.get("epochs_planned"),
                "best": best,
                "started": started,
                "updated": updated,
                "duration": (updated - started) if started is not None and updated is not None else None,
                "errors": sorted(self.errors.values()),
            }
        )


def _kind(config: dict[str, Any], path: Path) -> str:
    if (path / "summary.json").exists() and not config.get("model"):
        return "tour"
    parts = [str(config[k]) for k in ("recipe", "model", "writer") if isinstance(config.get(k), (str, int))]
    return " · ".join(dict.fromkeys(parts)) or "run"


_LOWER_IS_BETTER = ("loss", "error", "perplexity", "mse", "mae", "rmse", "nll")


def _better_low(tag: str) -> bool:
    return any(word in tag.lower() for word in _LOWER_IS_BETTER)


def _pick_best_tag(tags: list[str]) -> str | None:
    val = [t for t in tags if t.startswith("val_") or t.startswith("valid")]
    if not val:
        return None
    return next((t for t in val if t in ("val_loss", "valid_loss")), None) or sorted(val)[0]


def _best_from_status(best: dict[str, Any]) -> dict[str, Any] | None:
    tag = _pick_best_tag(list(best))
    if tag is None or not isinstance(best.get(tag), dict):
        return None
    value = best[tag].get("min" if _better_low(tag) else "max")
    return {"tag": tag, "value": _finite(value)}


def _best_from_series(series: dict[str, Series]) -> dict[str, Any] | None:
    tag = _pick_best_tag(list(series))
    if tag is None:
        return None
    values = [v for v in series[tag].value if math.isfinite(v)]
    if not values:
        return None
    return {"tag": tag, "value": min(values) if _better_low(tag) else max(values)}


def _epochs_from_series(series: dict[str, Series]) -> int | None:
    for tag in ("loss", "val_loss", *series):
        s = series.get(tag)
        if s is not None and not tag.startswith("batch_") and s.epoch and math.isfinite(s.epoch[-1]):
            return int(round(s.epoch[-1]))
    return None


def _history_points(history: Any):
    """(tag, step, value, epoch) of each number in a History.to_dict() or a recipe's [{"epoch": 1, ...}] list."""
    if isinstance(history, list):
        for i, record in enumerate(history):
            epoch = int(record.get("epoch", i + 1))
            step = int(record.get("step", epoch))
            for key, value in record.items():
                if key not in ("epoch", "step") and isinstance(value, (int, float)) and not isinstance(value, bool):
                    yield str(key), step, float(value), float(epoch)
        return
    if isinstance(history, dict) and isinstance(history.get("history"), dict):
        epochs = history.get("epoch") or []
        for key, values in history["history"].items():
            for i, value in enumerate(values):
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    epoch = (int(epochs[i]) if i < len(epochs) else i) + 1
                    yield str(key), epoch, float(value), float(epoch)
        return
    raise TypeError(f"a {type(history).__name__}")


def _safetensors_history(folder: RunsFolder, path: Path) -> Any:
    """The "history" entry of a glassnet checkpoint, read from the safetensors header alone (no tensor data)."""
    import struct

    head, _ = folder.read_bytes(path, 0, 8)
    if len(head) < 8:
        raise RunFileError(f"{path.name} is truncated")
    (n,) = struct.unpack("<Q", head)
    if n > MAX_JSON_BYTES:
        raise RunFileError(f"{path.name}: header of {n:,} bytes; the server reads at most {MAX_JSON_BYTES:,}")
    raw, _ = folder.read_bytes(path, 8, n)
    try:
        header = json.loads(raw)
        structure = json.loads(header["__metadata__"]["glassnet.structure"])
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(structure, dict) or "dict" not in structure:
        return None
    for key, value in structure["dict"]:
        if key == "history":
            return _plain_structure(value)
    return None


def _plain_structure(node: Any) -> Any:
    """gn.save's structure description as plain data (tensors become None: a history holds none)."""
    if isinstance(node, list):
        return [_plain_structure(v) for v in node]
    if isinstance(node, dict):
        if "dict" in node:
            return {str(k): _plain_structure(v) for k, v in node["dict"]}
        if "tuple" in node:
            return [_plain_structure(v) for v in node["tuple"]]
        return None
    return node


class RunsFolder:
    """The runs folder the server shows: its run subfolders, read safely and cached."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(os.path.realpath(os.fspath(root)))
        self._runs: dict[str, Run] = {}
        self._lock = threading.Lock()
        self._real_dirs: set[str] = {os.fspath(self.root)}  # directories inside the root with no link on the way

    # ----- the only ways to touch a file ---------------------------------------------------------------------------
    def inside(self, path: str | os.PathLike) -> str | None:
        """The real path of `path` if it lies inside the runs folder (symlinks resolved), else None."""
        text = os.fspath(path)
        parent, _, leaf = text.rpartition(os.sep)
        if parent in self._real_dirs and leaf not in ("", ".", ".."):
            # a name in a directory known to be real: only the name itself could be a link
            try:
                if not stat.S_ISLNK(os.lstat(text).st_mode):
                    return text
            except OSError:
                return text
        real = os.path.realpath(text)
        root = os.fspath(self.root)
        if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
            return None
        return real

    def regular_stat(self, path: str | os.PathLike) -> os.stat_result | None:
        """stat() of a regular file inside the runs folder; None for anything else (FIFOs are not opened)."""
        real = self.inside(path)
        if real is None:
            return None
        try:
            st = os.stat(real)
        except OSError:
            return None
        return st if stat.S_ISREG(st.st_mode) else None

    def read_bytes(self, path: Path, offset: int, size: int) -> tuple[bytes, bool]:
        """Up to `size` bytes from `offset` of a regular file inside the folder; (data, whether more follows)."""
        name = os.path.basename(os.fspath(path))
        real = self.inside(path)
        if real is None:
            raise RunFileError(f"{name} lies outside the runs folder")
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            st = os.stat(real)
            if not stat.S_ISREG(st.st_mode):  # checked before opening: a FIFO would block, a device could be anything
                raise RunFileError(f"{name} is not a regular file")
            fd = os.open(real, flags)
        except OSError as e:
            raise RunFileError(f"{name}: {e.strerror}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced between the two looks
                raise RunFileError(f"{name} is not a regular file")
            os.lseek(fd, offset, os.SEEK_SET)
            chunks, left = [], size
            while left > 0:
                chunk = os.read(fd, min(left, 8 * 1024 * 1024))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            more = left <= 0 and os.read(fd, 1) != b""
        finally:
            os.close(fd)
        return b"".join(chunks), more

    # ----- runs ----------------------------------------------------------------------------------------------------
    def _is_run(self, path: str | os.PathLike) -> bool:
        base = os.fspath(path) + os.sep
        return any(self.regular_stat(base + marker) is not None for marker in RUN_MARKERS)

    def names(self) -> list[str]:
        """The run folders directly inside the runs folder, sorted by name."""
        try:
            entries = list(os.scandir(self.root))
        except OSError:
            return []
        names = []
        for entry in entries:
            if entry.name.startswith(".") or not _utf8(entry.name):
                continue
            if entry.is_dir(follow_symlinks=False):
                real = entry.path
                self._real_dirs.add(entry.path)
            else:  # a link: followed only when it stays inside
                real = self.inside(entry.path)
                if real is None or not os.path.isdir(real) or real == os.fspath(self.root):
                    continue
            if self._is_run(real):
                names.append(entry.name)
        return sorted(names)

    def run(self, name: str) -> Run | None:
        """The run called `name`, or None (unknown names, `..`, paths and links out all give None)."""
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or name.startswith("."):
            return None
        path = self.root / name
        try:
            plain_dir = stat.S_ISDIR(os.lstat(path).st_mode)
        except OSError:
            return None
        if plain_dir:  # the root is real, so a directory (not a link) in it is real too
            real = path
            self._real_dirs.add(os.fspath(path))
        else:
            self._real_dirs.discard(os.fspath(path))
            inside = self.inside(path)
            real = Path(inside) if inside is not None else None
        if real is None or real == self.root or not real.is_dir() or not self._is_run(real):
            return None
        with self._lock:
            run = self._runs.get(name)
            if run is None or run.path != real:
                run = self._runs[name] = Run(self, name, real)
            return run

    def picture(self, run: Run, filename: str) -> tuple[Path, str] | None:
        """(path, media type) of a picture in the run's artefacts/ folder, or None."""
        if not filename or "/" in filename or "\\" in filename or filename.startswith(".") or "\0" in filename:
            return None
        media = PICTURE_TYPES.get(Path(filename).suffix.lower())
        path = run.path / "artefacts" / filename
        st = self.regular_stat(path)
        if media is None or st is None or st.st_size > MAX_PICTURE_BYTES:
            return None
        return path, media

    def pictures(self, run: Run) -> list[dict[str, Any]]:
        """The pictures in the run's artefacts/ folder: name, size, modification time."""
        folder = self.inside(run.path / "artefacts")
        if folder is None or not os.path.isdir(folder):
            return []
        out = []
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if _utf8(entry.name) and self.picture(run, entry.name) is not None:
                st = self.regular_stat(Path(entry.path))
                out.append({"name": entry.name, "bytes": st.st_size, "modified": st.st_mtime})
        return out
