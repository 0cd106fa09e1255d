"""Run logs: the appendable files of a run folder, written while training runs, that `glassnet serve` tails live.

A run folder (see `RunDir`) gets, next to config.json and history.json:

    status.json       {"status": "running" | "finished" | "stopped early", "pid", "host", "world_size", "started",
                       "heartbeat", "ended", "epochs", "step", "best": {"val_loss": {"min", "max"}, ...}}
                      (rewritten atomically; world_size: the ranks of the MPI job that trained it, 1 outside one)
    scalars.jsonl     one point a line: {"tag", "step", "value", "wall", "epoch"?}
    layers.jsonl      one Recorder record a line: {"step", "wall", "activations": {...}, "params": {...}}
    histograms.jsonl  {"tag", "step", "wall", "counts": [...], "edges": [...]}
    text.jsonl        {"tag", "step", "wall", "text"}
    artefacts/        pictures from add_image/add_figure, as PNG

The JSON Lines files are only ever appended to and flushed after each write, so a reader can follow them as they
grow; a reader must skip a last line without its newline (it is being written). A run whose status says
"running" but whose process has died (same host, pid gone) was cut short: readers call it "crashed".

One writer per run folder and process (`RunLog.open`): the Trainer (through `RunLogger`), the `Recorder` and
`SummaryWriter` share it.
"""

from __future__ import annotations

import datetime
import io
import json
import math
import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

from glassnet.files import atomic_write
from glassnet.train.callbacks import Callback
from glassnet.train.history import _plain

__all__ = [
    "HISTOGRAMS_FILE",
    "LAYERS_FILE",
    "SCALARS_FILE",
    "STATUS_FILE",
    "TEXT_FILE",
    "RunLog",
    "RunLogger",
    "SummaryWriter",
    "read_jsonl",
]

STATUS_FILE = "status.json"
SCALARS_FILE = "scalars.jsonl"
LAYERS_FILE = "layers.jsonl"
HISTOGRAMS_FILE = "histograms.jsonl"
TEXT_FILE = "text.jsonl"
HEARTBEAT_SECONDS = 2.0  # status.json is rewritten at most this often while points stream in

_OPEN: dict[str, RunLog] = {}
_OPEN_LOCK = threading.Lock()


def _world_size() -> int:
    """The ranks of the MPI job this process belongs to, 1 outside one (only rank 0 writes the folder)."""
    from glassnet.distributed import get_world_size, is_initialized

    return get_world_size() if is_initialized() else 1


def _number(value: Any) -> float | None:
    """A Python float from a number, a 0-d array or a one-element Tensor; None for anything else."""
    if hasattr(value, "numel") and hasattr(value, "item"):
        return float(value.item()) if value.numel() == 1 else None
    if hasattr(value, "ndim") and getattr(value, "ndim", 1) == 0:
        return float(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _json_line(record: dict[str, Any]) -> str:
    # NaN and infinities stay (Python's reader takes them; the server turns them into null for browsers)
    return json.dumps(record, separators=(",", ":"), default=_plain) + "\n"


class RunLog:
    """The writer of one run folder's live files. Get it with `RunLog.open(path)` (shared within a process)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(os.fspath(path))
        self.path.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, io.TextIOWrapper] = {}
        self._lock = threading.Lock()
        self._users = 0
        self._last_status = 0.0
        self.status: dict[str, Any] = {
            "status": "running",
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "world_size": _world_size(),
            "started": time.time(),
            "heartbeat": time.time(),
            "ended": None,
            "epochs": None,
            "step": 0,
            "best": {},
        }
        previous = self._previous_status()
        if previous:  # a resumed run keeps its start time, epochs done and best values
            for key in ("started", "epochs", "step", "best"):
                if key in previous:
                    self.status[key] = previous[key]

    def _previous_status(self) -> dict[str, Any] | None:
        try:
            with open(self.path / STATUS_FILE, encoding="utf-8") as f:
                data = json.load(f)
            return data if isinstance(data, dict) else None
        except (OSError, ValueError):
            return None

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunLog:
        """The process's writer for the run folder at `path` (created on first use); `close()` it when done."""
        key = os.path.realpath(os.fspath(path))
        with _OPEN_LOCK:
            log = _OPEN.get(key)
            if log is None:
                log = _OPEN[key] = cls(path)
                log.write_status()
            log._users += 1
            return log

    # ----- appending ---------------------------------------------------------------------------------------------
    def _append(self, name: str, record: dict[str, Any]) -> None:
        with self._lock:
            f = self._files.get(name)
            if f is None:
                f = self._files[name] = open(self.path / name, "a", encoding="utf-8")  # noqa: SIM115
            f.write(_json_line(record))
            f.flush()  # a reader sees the point now, not when a buffer fills
        self._maybe_heartbeat()

    def scalar(self, tag: str, value: Any, step: int, epoch: float | None = None, wall: float | None = None) -> None:
        """Append one point of the series `tag` (a number; other values are refused with a TypeError)."""
        x = _number(value)
        if x is None:
            raise TypeError(f"RunLog.scalar: {tag!r} should be a number, got {type(value).__name__}")
        record: dict[str, Any] = {
            "tag": str(tag),
            "step": int(step),
            "value": x,
            "wall": time.time() if wall is None else float(wall),
        }
        if epoch is not None:
            record["epoch"] = float(epoch)
        self.status["step"] = max(int(self.status.get("step") or 0), int(step))
        if str(tag).startswith("val_") and math.isfinite(x):
            best = self.status["best"].setdefault(str(tag), {"min": x, "max": x})
            best["min"], best["max"] = min(best["min"], x), max(best["max"], x)
        self._append(SCALARS_FILE, record)

    def histogram(self, tag: str, counts: Any, edges: Any, step: int, wall: float | None = None) -> None:
        """Append a histogram (`counts` per bin, `edges` one longer) of the series `tag`."""
        counts, edges = _plain(counts), _plain(edges)
        if len(edges) != len(counts) + 1:
            raise ValueError(
                f"RunLog.histogram: {tag!r} has {len(counts)} counts and {len(edges)} edges; expected "
                "one edge more than counts"
            )
        self._append(
            HISTOGRAMS_FILE,
            {"tag": str(tag), "step": int(step), "wall": wall or time.time(), "counts": counts, "edges": edges},
        )

    def text(self, tag: str, text: str, step: int, wall: float | None = None) -> None:
        """Append a piece of text (shown as text, never as HTML)."""
        self._append(TEXT_FILE, {"tag": str(tag), "step": int(step), "wall": wall or time.time(), "text": str(text)})

    def layer_record(self, record: dict[str, Any]) -> None:
        """Append one Recorder record (histograms, numpy's (counts, edges) pairs, become {"counts", "edges"})."""
        self._append(LAYERS_FILE, {"wall": time.time(), **_layer_json(record)})

    def image(self, tag: str, png: bytes, step: int) -> Path:
        """Write a PNG into artefacts/ as `<tag>_<step>.png` (atomically); returns its path."""
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            raise ValueError(f"RunLog.image: {tag!r} is not PNG data")
        folder = self.path / "artefacts"
        folder.mkdir(exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(tag)).strip("._") or "image"
        target = folder / f"{safe}_{int(step):06d}.png"
        atomic_write(target, png)
        self._maybe_heartbeat()
        return target

    # ----- status ------------------------------------------------------------------------------------------------
    def _maybe_heartbeat(self) -> None:
        if time.time() - self._last_status >= HEARTBEAT_SECONDS:
            self.write_status()

    def write_status(self, **fields: Any) -> None:
        """Rewrite status.json (atomically) with a fresh heartbeat and `fields` merged in."""
        with self._lock:
            self.status.update(fields)
            self.status["heartbeat"] = time.time()
            self._last_status = self.status["heartbeat"]
            atomic_write(self.path / STATUS_FILE, json.dumps(_plain(self.status)))

    def flush(self) -> None:
        """Flush the files and refresh the heartbeat."""
        with self._lock:
            for f in self._files.values():
                f.flush()
        self.write_status()

    def finish(self, status: str = "finished") -> None:
        """Mark the run ended ("finished" or "stopped early")."""
        self.write_status(status=status, ended=time.time())

    def close(self) -> None:
        """Give up this user's share; the last one closes the files."""
        key = os.path.realpath(os.fspath(self.path))
        with _OPEN_LOCK:
            self._users -= 1
            if self._users > 0:
                return
            _OPEN.pop(key, None)
        with self._lock:
            for f in self._files.values():
                f.close()
            self._files = {}


def _layer_json(value: Any) -> Any:
    """A Recorder record as plain JSON data: (counts, edges) histogram pairs become {"counts", "edges"}."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if str(k).endswith("histogram") and isinstance(v, tuple) and len(v) == 2:
                out[str(k)] = {"counts": _plain(v[0]), "edges": _plain(v[1])}
            else:
                out[str(k)] = _layer_json(v)
        return out
    return _plain(value)


def _encode_png(image: Any, dataformats: str = "CHW") -> bytes:
    """PNG bytes of an image (float in [0, 1] or uint8; layout CHW, HWC or HW; 1, 3 or 4 channels)."""
    import struct
    import zlib

    import numpy

    a = numpy.asarray(getattr(image, "data", image))
    fmt = dataformats.upper()
    if sorted(fmt) not in (sorted("CHW"), sorted("HW")) or a.ndim != len(fmt):
        raise ValueError(
            f"add_image: an image of shape {a.shape} does not match dataformats {dataformats!r}; "
            "expected 'CHW', 'HWC' or 'HW'"
        )
    a = a.transpose([fmt.index(c) for c in "HWC"]) if len(fmt) == 3 else a[:, :, None]
    if a.shape[2] not in (1, 3, 4):
        raise ValueError(f"add_image: {a.shape[2]} channels; expected 1, 3 or 4")
    if a.dtype != numpy.uint8:
        a = (numpy.clip(numpy.nan_to_num(a.astype(numpy.float64)), 0.0, 1.0) * 255 + 0.5).astype(numpy.uint8)
    h, w, c = a.shape
    raw = b"".join(b"\x00" + a[row].tobytes() for row in range(h))  # filter type 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    color = {1: 0, 3: 2, 4: 6}[c]
    header = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


class RunLogger(Callback):
    """Stream a Trainer's numbers into its run folder while it trains (the Trainer adds it when given a run_dir).

    Every `every` optimisation steps, the batch's numbers go to scalars.jsonl as `batch_<key>` (e.g. batch_loss);
    at each epoch end, the epoch's logs under their own names (loss, val_loss, accuracy, lr, …) at x = epochs
    done. status.json says running, then finished or stopped early.
    """

    def __init__(self, every: int = 10):
        if int(every) < 1:
            raise ValueError(f"RunLogger: every must be ≥ 1, got {every}")
        self.every = int(every)
        self.log: RunLog | None = None

    def on_fit_begin(self, logs=None):
        run_dir = getattr(self.trainer, "run_dir", None)
        if run_dir is None:
            return
        self.log = RunLog.open(run_dir.path)
        self.log.write_status(
            status="running",
            pid=os.getpid(),
            ended=None,
            epochs_planned=getattr(self.trainer, "epochs", None),
            steps_per_epoch=getattr(self.trainer, "steps_per_epoch", None),
        )

    def on_batch_end(self, batch, logs=None):
        trainer = self.trainer
        if self.log is None or trainer.global_step % self.every:
            return
        steps = trainer.steps_per_epoch
        epoch = trainer.epoch + ((batch + 1) / steps if steps else 0.0)
        for key, value in (logs or {}).items():
            x = _number(value)
            if x is not None:
                self.log.scalar(f"batch_{key}", x, trainer.global_step, epoch=epoch)

    def on_epoch_end(self, epoch, logs=None):
        if self.log is None:
            return
        for key, value in (logs or {}).items():
            x = _number(value)
            if x is not None:
                self.log.scalar(key, x, self.trainer.global_step, epoch=epoch + 1)
        self.log.write_status(epochs=epoch + 1)

    def on_fit_end(self, logs=None):
        if self.log is None:
            return
        trainer = self.trainer
        early = trainer.stop_training and trainer.epochs is not None and trainer.epochs_done < trainer.epochs
        self.log.finish("stopped early" if early else "finished")
        self.log.close()
        self.log = None


class SummaryWriter:
    """PyTorch's SummaryWriter for hand-written loops: writes the run-folder files `glassnet serve` and `report`
    read.

        writer = SummaryWriter("runs/my-loop")
        for step in range(1000):
            ...
            writer.add_scalar("loss", loss.item(), step)
        writer.close()

    `log_dir` defaults to runs/<date-time>. The folder gets config.json ({"writer": "SummaryWriter", ...,
    plus `config`}), status.json and the JSON Lines files described in `glassnet.train.runlog`.
    """

    def __init__(
        self, log_dir: str | os.PathLike | None = None, config: dict[str, Any] | None = None, comment: str = ""
    ):
        if log_dir is None:
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            log_dir = os.path.join("runs", stamp + comment)
        self.log_dir = Path(os.fspath(log_dir))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.log_dir / "config.json"
        if not config_path.exists():
            atomic_write(
                config_path, json.dumps(_plain({"writer": "SummaryWriter", **(config or {})}), indent=1, default=repr)
            )
        self.run_log: RunLog | None = RunLog.open(self.log_dir)
        self.run_log.write_status(status="running", pid=os.getpid(), ended=None)
        self._steps: dict[str, int] = {}

    def _log(self) -> RunLog:
        if self.run_log is None:
            raise RuntimeError(f"SummaryWriter({str(self.log_dir)!r}) is closed")
        return self.run_log

    def _step(self, tag: str, global_step: int | None) -> int:
        """The given step, or one more than the tag's last (0 first), as PyTorch's writer counts."""
        if global_step is None:
            global_step = self._steps.get(tag, -1) + 1
        self._steps[tag] = int(global_step)
        return int(global_step)

    def add_scalar(
        self, tag: str, scalar_value: Any, global_step: int | None = None, walltime: float | None = None
    ) -> None:
        """Log one number of the series `tag` at `global_step`."""
        if _number(scalar_value) is None:
            raise TypeError(f"SummaryWriter.add_scalar: {tag!r} should be a number, got {type(scalar_value).__name__}")
        self._log().scalar(tag, scalar_value, self._step(tag, global_step), wall=walltime)

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: dict[str, Any],
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log several numbers drawn on one chart: each as the series `main_tag/key`."""
        for key, value in tag_scalar_dict.items():
            self.add_scalar(f"{main_tag}/{key}", value, global_step, walltime)

    def add_histogram(
        self, tag: str, values: Any, global_step: int | None = None, bins: int | str = 30, walltime: float | None = None
    ) -> None:
        """Log the distribution of `values` (a Tensor or array; NaNs and infinities left out) as a histogram."""
        import numpy

        data = numpy.asarray(getattr(values, "data", values), dtype=numpy.float64).ravel()
        data = data[numpy.isfinite(data)]
        if data.size == 0:
            raise ValueError(f"SummaryWriter.add_histogram: {tag!r} has no finite values")
        counts, edges = numpy.histogram(data, bins=bins)
        self._log().histogram(tag, counts, edges, self._step(tag, global_step), wall=walltime)

    def add_image(self, tag: str, img_tensor: Any, global_step: int | None = None, dataformats: str = "CHW") -> None:
        """Save an image (float in [0, 1] or uint8; CHW, HWC or HW) as a PNG in artefacts/."""
        self._log().image(tag, _encode_png(img_tensor, dataformats), self._step(tag, global_step))

    def add_figure(self, tag: str, figure: Any, global_step: int | None = None, close: bool = True) -> None:
        """Save a matplotlib figure as a PNG in artefacts/ (closed afterwards unless close=False)."""
        buf = io.BytesIO()
        figure.savefig(buf, format="png", dpi=100)
        png = buf.getvalue()
        if close:
            import matplotlib.pyplot as plt

            plt.close(figure)
        self._log().image(tag, png, self._step(tag, global_step))

    def add_text(self, tag: str, text_string: str, global_step: int | None = None) -> None:
        """Log a piece of text (shown as text, never interpreted as HTML)."""
        self._log().text(tag, text_string, self._step(tag, global_step))

    def flush(self) -> None:
        """Push everything to disk (each point is already flushed; this refreshes status.json)."""
        self._log().flush()

    def close(self) -> None:
        """Mark the run finished and close the files (idempotent)."""
        if self.run_log is not None:
            self.run_log.finish("finished")
            self.run_log.close()
            self.run_log = None

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def read_jsonl(path: str | os.PathLike, offset: int = 0, limit: int | None = None) -> tuple[list[Any], int, int]:
    """Read the complete lines of a JSON Lines file from byte `offset`: (records, offset after the last complete
    line, number of malformed lines skipped). A last line without its newline is being written: it is left for
    the next call. `limit` caps the bytes read in one call."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read() if limit is None else f.read(limit)
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset, 0
    records, bad = [], 0
    for line in data[: end + 1].splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            bad += 1
    return records, offset + end + 1, bad
