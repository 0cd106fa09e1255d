"""report: one self-contained HTML page about a training run, for people to look at rather than read.

`report(run_dir)` reads a run folder (see `glassnet.train.RunDir`): config.json, history.json, a saved recording
(`save_recording` writes recording.json), confusion_matrix.json, a tour's summary.json and the PNGs in artefacts/,
and writes `run_dir/report.html` with the key numbers, the curves, the diagnosis (`glassnet.lens.diagnose`) with the
per-layer numbers behind it, the pictures and the configuration. The page is rendered from the package's Jinja2
templates (`glassnet.lens.render`) with every value escaped; images are embedded as base64 PNG and the style is
inline, so the file opens anywhere without a network, and its Content-Security-Policy forbids any script.

A run folder is read as untrusted input (`glassnet.files.read_regular`): nothing outside it is read (links out are
refused), only regular files under a size limit are opened, and a malformed file becomes a note in its section
while the rest of the report is written. Plots need matplotlib (`glassnet[plots]`); without it the page still
renders and says which pictures are missing.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy

from glassnet.files import FileRefused, atomic_write, check_regular, read_regular, resolve_inside
from glassnet.lens.diagnose import Finding, diagnose
from glassnet.lens.recorder import Recorder, Recording
from glassnet.lens.render import format_value, render_html

__all__ = ["ReportError", "load_recording", "report", "save_recording"]

SCALARS_FILE = "scalars.jsonl"  # glassnet.train.runlog.SCALARS_FILE
RECORDING_FILE = "recording.json"
CONFUSION_FILE = "confusion_matrix.json"
MAX_PICTURES = 24  # artefact PNGs embedded at most (a GAN writes one per epoch)
MAX_PICTURE_BYTES = 4 * 1024 * 1024  # larger PNGs are listed, not embedded (and never read)
MAX_JSON_BYTES = 256 * 1024 * 1024  # config, history, recording, summary: larger files are refused unread
MAX_CHECKPOINT_BYTES = 4 * 1024**3  # a checkpoint is only opened for the history it carries
MAX_CURVE_FIGURES = 4  # figures of curves (3 metrics each); further metrics stay in the per-epoch table
MIN_EPOCHS_FOR_VERDICT = 5  # "healthy" needs this many epochs: overfitting and stalls show only over several
PLOTS_EXTRA = "pip install 'glassnet[plots]'"


class ReportError(ValueError):
    """The folder given to `report` is not a run folder (or one of its files cannot be read)."""


# ----- a Recorder's recording as JSON ------------------------------------------------------------------------------
def _encode(value: Any) -> Any:
    """JSON-ready data that `_decode` turns back into the same arrays, tuples and numbers."""
    if isinstance(value, numpy.ndarray):
        return {"__array__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, numpy.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, (list, numpy.ndarray)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "__array__" in value:
            dtype = numpy.dtype(value.get("dtype"))
            if dtype.kind not in "biuf":  # numbers only: a record dtype could claim gigabytes per element
                raise ValueError(f"an array of dtype {dtype}; expected numbers")
            return numpy.array(value["__array__"], dtype=dtype)
        if "__tuple__" in value:
            return tuple(_decode(v) for v in value["__tuple__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def save_recording(recording: Recording | Recorder, path: str | os.PathLike) -> Path:
    """Write a Recorder's recording as JSON (to `path`, or to `path/recording.json` when it is a folder)."""
    if isinstance(recording, Recorder):
        recording = recording.recording
    if not isinstance(recording, Recording):
        raise TypeError(f"save_recording: expected a Recording or Recorder, got {type(recording).__name__}")
    target = Path(os.fspath(path))
    if target.is_dir():
        target = target / RECORDING_FILE
    data = {
        "format": "glassnet.recording", "version": 1,
        "max_records": recording.records.cap, "strides": [recording.records.stride, recording.losses.stride,
                                                          recording.epochs.stride],
        "records": _encode(list(recording.records)), "losses": _encode(list(recording.losses)),
        "epochs": _encode(list(recording.epochs)), "layer_kinds": recording.layer_kinds,
        "param_order": recording.param_order,
    }
    atomic_write(target, json.dumps(data))
    return target


# ----- reading run-folder files: glassnet's one guarded read, each refusal a note naming the file ------------------
class RunFileError(ValueError):
    """A run-folder file that was not read (missing, outside the folder, not a regular file, too large, not JSON)."""


def read_inside(root: Path, relative: str, limit: int) -> bytes:
    """The bytes of `root/relative` through `glassnet.files.read_regular`: only a regular file that resolves inside
    `root`, its type and size checked before it is opened; RunFileError naming `relative` otherwise."""
    path = root / relative
    try:
        return read_regular(path, limit, inside=root)
    except FileNotFoundError:
        raise RunFileError(f"{relative}: no such file") from None
    except FileRefused as err:
        raise RunFileError(f"refused: {str(err).replace(str(path), relative)}") from None
    except (OSError, RuntimeError) as err:  # a permission problem, a link loop
        raise RunFileError(f"{relative} cannot be read: {err}") from None


def read_json_inside(root: Path, relative: str, limit: int) -> Any:
    """`read_inside`, then JSON; text that is not UTF-8 or not JSON is a RunFileError naming the file."""
    data = read_inside(root, relative, limit)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise RunFileError(f"{relative} is not UTF-8 text: {err}") from None
    except RecursionError:
        raise RunFileError(f"{relative} is nested too deeply to be read") from None
    except ValueError as err:
        raise RunFileError(f"{relative} is not valid JSON: {err}") from None


def _fail(source: str, entry: str, expected: str, got: Any) -> ReportError:
    shown = repr(got)
    return ReportError(f"{source}: {entry} is {shown[:60]}{'…' if len(shown) > 60 else ''}; expected {expected}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_stats(source: str, where: str, stats: Any) -> None:
    if not isinstance(stats, dict):
        raise _fail(source, where, "a dict of statistics", stats)
    for key, v in stats.items():
        if key.endswith("histogram"):
            ok = (isinstance(v, tuple) and len(v) == 2 and all(isinstance(a, numpy.ndarray) and a.ndim == 1 for a in v)
                  and len(v[1]) == len(v[0]) + 1)
            if not ok:
                raise _fail(source, f"{where}[{key!r}]", "(counts, edges) arrays with one more edge than counts", v)
        elif not (_is_number(v) or v is None or isinstance(v, str)):
            raise _fail(source, f"{where}[{key!r}]", "a number (or a name)", v)


def _recording_from(data: Any, source: str) -> Recording:
    """A Recording from save_recording's JSON, every entry checked: a malformed file is a ReportError naming it."""
    if not isinstance(data, dict) or data.get("format") != "glassnet.recording":
        raise ReportError(f"load_recording: {source} is not a glassnet recording (expected save_recording's JSON)")
    max_records = data.get("max_records", 1000)
    if not _is_int(max_records) or not 2 <= max_records <= 10**7:
        raise _fail(source, "max_records", "a whole number from 2 to 10,000,000", max_records)
    strides = data.get("strides", [1, 1, 1])
    if not (isinstance(strides, list) and len(strides) == 3 and all(_is_int(v) and v >= 1 for v in strides)):
        raise _fail(source, "strides", "a list of 3 positive whole numbers", strides)
    try:
        records, losses, epochs = (_decode(data.get(key, [])) for key in ("records", "losses", "epochs"))
    except (ValueError, TypeError) as err:
        raise ReportError(f"{source}: an array could not be read: {err}") from None
    except RecursionError:
        raise ReportError(f"{source}: nested too deeply to be read") from None
    for key, value in (("records", records), ("losses", losses), ("epochs", epochs)):
        if not isinstance(value, list):
            raise _fail(source, key, "a list", value)
    for i, r in enumerate(records):
        if not (isinstance(r, dict) and _is_int(r.get("step"))):
            raise _fail(source, f"records[{i}]", "a dict with a whole-number 'step'", r)
        for kind in ("activations", "params"):
            group = r.setdefault(kind, {})
            if not isinstance(group, dict):
                raise _fail(source, f"records[{i}][{kind!r}]", "a dict", group)
            for name, stats in group.items():
                _check_stats(source, f"records[{i}][{kind!r}][{name!r}]", stats)
    for i, pair in enumerate(losses):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and _is_int(pair[0]) and _is_number(pair[1])):
            raise _fail(source, f"losses[{i}]", "a (step, loss) pair of numbers", pair)
    for i, logs in enumerate(epochs):
        if not isinstance(logs, dict):
            raise _fail(source, f"epochs[{i}]", "a dict of epoch logs", logs)
    kinds, order = data.get("layer_kinds", {}), data.get("param_order", [])
    if not (isinstance(kinds, dict) and all(isinstance(v, str) for v in kinds.values())):
        raise _fail(source, "layer_kinds", "a dict of layer name to class name", kinds)
    if not (isinstance(order, list) and all(isinstance(v, str) for v in order)):
        raise _fail(source, "param_order", "a list of parameter names", order)
    recording = Recording(max_records)
    for bounded, items, stride in zip((recording.records, recording.losses, recording.epochs),
                                      (records, losses, epochs), strides):
        bounded.extend(tuple(p) if isinstance(p, list) else p for p in items)
        bounded.stride = stride
    recording.layer_kinds = {str(k): v for k, v in kinds.items()}
    recording.param_order = list(order)
    return recording


def load_recording(path: str | os.PathLike) -> Recording:
    """Read a recording written by `save_recording` (a file, or a folder holding recording.json)."""
    source = Path(os.fspath(path))
    if source.is_dir():
        source = source / RECORDING_FILE
    try:
        data = read_json_inside(source.parent.resolve(), source.name, MAX_JSON_BYTES)
    except RunFileError as err:
        raise ReportError(f"load_recording: {source.parent}/{err}") from None
    return _recording_from(data, str(source))


# ----- reading a run folder ----------------------------------------------------------------------------------------
@dataclass
class _Run:
    """What a run folder holds, checked and normalised: per-epoch logs as equal-length lists of numbers (or None),
    optional recording and extras, and per section the notes on what could not be read."""

    path: Path
    config: dict[str, Any] | None = None
    epochs: list[int] = field(default_factory=list)  # 0-based, as History and EarlyStopping count
    logs: dict[str, list] = field(default_factory=dict)
    recording: Recording | None = None
    confusion: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None  # a tour's summary.json
    stopped_epoch: int | None = None  # config.json's early-stopping epoch (0-based), when it is a whole number
    pictures: list[tuple[str, bytes]] = field(default_factory=list)  # (artefacts/name.png, PNG bytes)
    notes: dict[str, list[str]] = field(default_factory=dict)  # section id -> what could not be read, and why

    def note(self, section: str, text: str) -> None:
        self.notes.setdefault(section, []).append(text)


def _plain_number(v: Any) -> bool:
    return v is None or _is_number(v)


def _logs_from(history: Any, source: str = "history.json") -> tuple[list[int], dict[str, list], list[str]]:
    """(0-based epochs, {key: values}, notes) from History.to_dict(), a dict of lists or a list of per-epoch dicts.

    Every list comes back as long as the epochs; a value that is not a number becomes None (a gap in the curve), a
    list of the wrong length is padded or cut, and each such repair is one note. Data of the wrong shape altogether
    is a ReportError.
    """
    notes: list[str] = []
    epochs: Any = None
    if isinstance(history, list):  # the recipes' form: [{"epoch": 1, "loss": ...}, ...] with 1-based epochs
        bad = next((i for i, rec in enumerate(history) if not isinstance(rec, dict)), None)
        if bad is not None:
            raise _fail(source, f"entry {bad}", "a dict of one epoch's numbers", history[bad])
        keys = [str(k) for rec in history for k in rec if k != "epoch"]
        logs = {k: [rec.get(k) for rec in history] for k in dict.fromkeys(keys)}
        if all("epoch" in rec for rec in history):
            epochs = [rec["epoch"] - 1 if _is_int(rec["epoch"]) else rec["epoch"] for rec in history]
    elif isinstance(history, dict):
        table = history["history"] if isinstance(history.get("history"), dict) else history
        if table is history and "history" in history:
            raise _fail(source, "'history'", "a dict of lists", history["history"])
        logs = {}
        for k, v in table.items():
            if isinstance(v, list):
                logs[str(k)] = v
            elif table is not history:
                notes.append(f"{source}: {str(k)[:40]!r} is not a list of numbers; left out")
        epochs = history.get("epoch") if table is not history else None
    else:
        raise _fail(source, "the history", "History.to_dict() data (a dict of lists) or a list of per-epoch dicts",
                    history)
    n = max((len(v) for v in logs.values()), default=0)
    if epochs is not None:
        if isinstance(epochs, list) and all(_is_int(e) and e >= 0 for e in epochs) and len(set(epochs)) == len(epochs):
            n = len(epochs) if len(epochs) >= n or not logs else n
            if len(epochs) != n:
                notes.append(f"{source}: {len(epochs)} epoch numbers for {n} values; epochs counted from 1 instead")
                epochs = list(range(n))
        else:
            notes.append(f"{source}: the epoch numbers are not distinct whole numbers from 0; counted from 1 instead")
            epochs = list(range(n))
    else:
        epochs = list(range(n))
    for key, values in logs.items():
        if len(values) != n:
            notes.append(f"{source}: {key[:40]!r} has {len(values)} values for {n} epochs; "
                         + ("the missing ones are left blank" if len(values) < n else "the extra ones are left out"))
            values = (values + [None] * n)[:n]
        if not all(_plain_number(v) for v in values):
            notes.append(f"{source}: {key[:40]!r} holds values that are not numbers; they are left blank")
            values = [v if _plain_number(v) else None for v in values]
        logs[key] = values
    return list(epochs), logs, notes


def _checkpoint_history(root: Path) -> Any:
    """The history a recipe's checkpoint carries, or None (only a regular file inside the run folder is opened)."""
    for relative in ("checkpoints/last.safetensors", "checkpoint.safetensors"):
        try:
            path = resolve_inside(root / relative, root)
            check_regular(path, MAX_CHECKPOINT_BYTES)
        except (FileRefused, OSError, RuntimeError):  # missing, a link out, not a file, too large: not a candidate
            continue
        from glassnet.io.weights import load

        try:
            state = load(path)
        except Exception:  # noqa: BLE001 - an unreadable checkpoint just means no history from it
            continue
        if isinstance(state, dict) and state.get("history"):
            return state["history"]
    return None


def _scalars_history(run: _Run) -> dict[str, Any] | None:
    """scalars.jsonl (a RunLog's or SummaryWriter's series) as History.to_dict() data: one row per logged step,
    batch_ series left out. Read like every run file (inside the folder, regular, size checked); a line that is not
    JSON, and a last line still being written, are skipped."""
    try:
        data = read_inside(run.path, SCALARS_FILE, MAX_JSON_BYTES)
    except RunFileError as err:
        run.note("curves", str(err))
        return None
    points = []
    for line in data[: data.rfind(b"\n") + 1].splitlines():
        try:
            points.append(json.loads(line))
        except (ValueError, RecursionError):
            continue
    points = [p for p in points if isinstance(p, dict) and isinstance(p.get("tag"), str)
              and not p["tag"].startswith("batch_") and _is_int(p.get("step"))]
    if not points:
        return None
    steps = sorted({p["step"] for p in points})
    row = {s: i for i, s in enumerate(steps)}
    logs: dict[str, list] = {}
    for p in points:
        logs.setdefault(p["tag"], [None] * len(steps))[row[p["step"]]] = p.get("value")
    return {"epoch": list(range(len(steps))), "history": logs}


def _read_json(run: _Run, name: str, section: str) -> Any:
    """The JSON in run folder file `name`, or None with a note in `section` when it is missing or cannot be read."""
    try:
        return read_json_inside(run.path, name, MAX_JSON_BYTES)
    except RunFileError as err:
        if not str(err).endswith("no such file"):
            run.note(section, f"{err}")
        return None


def _check_summary(run: _Run, summary: Any) -> dict[str, Any] | None:
    """A tour's summary.json with its chapters checked; malformed chapters are left out with a note."""
    if not isinstance(summary, dict) or not isinstance(summary.get("chapters"), list):
        run.note("results", "summary.json: expected an object with a list of chapters; the results are left out")
        return None
    chapters = []
    for i, ch in enumerate(summary["chapters"]):
        ok = (isinstance(ch, dict) and _is_int(ch.get("number")) and isinstance(ch.get("title"), str)
              and isinstance(ch.get("results", {}), dict) and _plain_number(ch.get("seconds"))
              and isinstance(ch.get("headlines", []), list))
        if not ok:
            run.note("results", f"summary.json: chapter entry {i} is not a chapter (a number, a title, a dict of "
                                "results); left out")
            continue
        chapters.append(ch)
    return {**summary, "chapters": chapters}


def _check_confusion(run: _Run, data: Any, name: str) -> dict[str, Any] | None:
    matrix = data.get("matrix") if isinstance(data, dict) else data
    labels = data.get("labels") if isinstance(data, dict) else None
    n = len(matrix) if isinstance(matrix, list) else 0
    square = 0 < n <= 1000 and all(isinstance(r, list) and len(r) == n and all(_is_number(v) and v >= 0 for v in r)
                                   for r in matrix)
    if not square:
        run.note("pictures", f"{name}: expected a square matrix of counts (at most 1,000 classes); not drawn")
        return None
    if labels is not None and not (isinstance(labels, list) and len(labels) == n):
        run.note("pictures", f"{name}: 'labels' should be a list of {n} names; numbered instead")
        labels = None
    return {"matrix": matrix, "labels": [str(v) for v in labels] if labels else None}


def _read_run(run_dir: str | os.PathLike) -> _Run:
    given = Path(os.fspath(run_dir))
    if not given.is_dir():
        raise ReportError(f"report: {given} is not a directory; expected a run folder holding config.json "
                          "and/or history.json")
    run = _Run(given.resolve())
    present = {name: os.path.lexists(run.path / name) for name in ("config.json", "history.json")}
    source = "history.json"
    if present["history.json"]:
        history = _read_json(run, "history.json", "curves")
    else:
        history, source = _checkpoint_history(run.path), "the run's checkpoint (no history.json)"
        if history is None and os.path.lexists(run.path / SCALARS_FILE):  # a SummaryWriter's (or live Trainer's)
            history, source = _scalars_history(run), f"{SCALARS_FILE} (one row per logged step)"
    if not any(present.values()) and history is None:
        raise ReportError(f"report: {given} is not a run folder: expected config.json or history.json in it (written "
                          "by Trainer(run_dir=...)), or a checkpoint.safetensors holding a history (written by "
                          "`glassnet train`); found none of them")
    if present["config.json"]:
        config = _read_json(run, "config.json", "config")
        if config is not None and not isinstance(config, dict):
            run.note("config", f"config.json holds {type(config).__name__} data; expected an object of settings")
            config = None
        run.config = config
        stopped = (config or {}).get("stopped_epoch")
        if _is_int(stopped) and stopped >= 0:
            run.stopped_epoch = stopped
        elif stopped is not None:
            run.note("config", f"config.json: stopped_epoch is {str(stopped)[:40]!r}; expected a whole number; "
                               "not marked on the curves")
    if history is not None:
        try:
            run.epochs, run.logs, notes = _logs_from(history)
        except ReportError as err:
            run.note("curves", f"{err}; the curves are left out")
        else:
            for text in notes:
                run.note("curves", text)
        if not present["history.json"]:
            run.note("config", f"series read from {source}")
    for folder in ("", "artefacts/"):
        if run.recording is None and os.path.lexists(run.path / folder / RECORDING_FILE):
            data = _read_json(run, folder + RECORDING_FILE, "diagnosis")
            if data is not None:
                try:
                    run.recording = _recording_from(data, folder + RECORDING_FILE)
                except ReportError as err:
                    run.note("diagnosis", f"{err}; the layer statistics are left out")
        if run.confusion is None and os.path.lexists(run.path / folder / CONFUSION_FILE):
            data = _read_json(run, folder + CONFUSION_FILE, "pictures")
            if data is not None:
                run.confusion = _check_confusion(run, data, folder + CONFUSION_FILE)
    if os.path.lexists(run.path / "summary.json"):
        summary = _read_json(run, "summary.json", "results")
        if summary is not None:
            run.summary = _check_summary(run, summary)
    _read_pictures(run)
    return run


def _read_pictures(run: _Run) -> None:
    """The artefact PNGs (at most MAX_PICTURES), each checked before it is opened."""
    if not os.path.lexists(run.path / "artefacts"):
        return
    try:
        folder = resolve_inside(run.path / "artefacts", run.path)
    except (FileRefused, RuntimeError) as err:
        run.note("pictures", f"refused: {str(err).replace(str(run.path / 'artefacts'), 'artefacts')}")
        return
    if not folder.is_dir():
        run.note("pictures", "artefacts is not a folder; no pictures read from it")
        return
    names = sorted(f"artefacts/{p.name}" for p in folder.glob("*.png"))  # listing opens nothing
    for name in names[:MAX_PICTURES]:
        try:
            data = read_inside(run.path, name, MAX_PICTURE_BYTES)
        except RunFileError as err:
            run.note("pictures", f"{err}; not embedded")
            continue
        if data[:8] != b"\x89PNG\r\n\x1a\n":
            run.note("pictures", f"{name} is not a PNG file; not embedded")
            continue
        run.pictures.append((name, data))
    if len(names) > MAX_PICTURES:
        run.note("pictures", f"{len(names) - MAX_PICTURES} more PNGs in artefacts/ are not embedded")


# ----- numbers and page blocks (rendered by templates/blocks.html) -------------------------------------------------
def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _human(key: str) -> str:
    """A log key as words: 'val_accuracy' -> 'validation accuracy', 'lr' -> 'learning rate'."""
    words = str(key).replace("_", " ").split()
    names = {"val": "validation", "lr": "learning rate", "acc": "accuracy"}
    return " ".join(names.get(w, w) for w in words)


def _kind_of(key: str, values: list) -> str | None:
    """'percent' for accuracies and fractions held as numbers from 0 to 1; otherwise the default formatting."""
    numbers = [v for v in values if _is_number(v) and math.isfinite(v)]
    looks = any(w in str(key).lower() for w in ("acc", "fraction", "precision", "recall", "f1"))
    return "percent" if looks and numbers and all(0 <= v <= 1 for v in numbers) else None


def _text(text: str, cls: str = "") -> dict:
    return {"kind": "text", "text": text, "cls": cls}


def _table(columns: list[str], rows: list[list[Any]], cls: str = "", kinds: list | None = None,
           title: str = "") -> dict:
    return {"kind": "table", "columns": columns, "rows": rows, "cls": cls, "kinds": kinds or [], "title": title}


def _figure(title: str, png: bytes | None, caption: str = "", wide: bool = False) -> dict:
    return {"title": title, "png": png, "caption": caption, "wide": wide}


def _plots_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _png(fig: Any) -> bytes:
    from glassnet.lens.plots import figure_to_png_bytes

    return figure_to_png_bytes(fig, dpi=100)


# Drawing data read from a file can fail inside matplotlib in many ways; each becomes a note for its picture.
_DRAWING_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, RuntimeError)


# ----- sections ----------------------------------------------------------------------------------------------------
_NOT_CURVES = {"time", "seconds", "epoch_time", "duration"}  # bookkeeping, not learning: left to the table


def _numeric_keys(run: _Run) -> list[str]:
    """Logged quantities worth a curve: numeric, not timings, and (for learning rates) changing over the run."""
    keys = []
    for key, values in run.logs.items():
        numbers = {v for v in values if _is_number(v)}
        if not numbers or key in _NOT_CURVES or (key == "lr" or key.endswith("_lr")) and len(numbers) == 1:
            continue
        keys.append(key)
    return keys


def _best_epoch(run: _Run) -> int | None:
    values = run.logs.get("val_loss")
    pairs = [(v, ep) for ep, v in zip(run.epochs, values or []) if _is_number(v) and math.isfinite(v)]
    return min(pairs)[1] if pairs else None


def _key_numbers(run: _Run) -> list[dict]:
    cards: list[dict] = []
    if run.epochs:
        cards.append({"label": "epochs", "value": format_value(len(run.epochs)), "detail": ""})
    for key in _numeric_keys(run)[:6]:
        values = [v for v in run.logs[key] if _is_number(v)]
        kind = _kind_of(key, values)
        if key == "val_loss" and _best_epoch(run) is not None:
            cards.append({"label": "best validation loss", "value": format_value(min(values)),
                          "detail": f"epoch {_best_epoch(run) + 1}"})
        else:
            cards.append({"label": f"final {_human(key)}", "value": format_value(values[-1], kind),
                          "detail": f"first {format_value(values[0], kind)}" if len(values) > 1 else ""})
    params = (run.config or {}).get("parameters")
    if _is_number(params):
        model = (run.config or {}).get("model", "")
        cards.append({"label": "parameters", "value": format_value(params),
                      "detail": model if isinstance(model, str) else ""})
    return cards


def _metric_groups(run: _Run) -> list[list[str]]:
    keys = _numeric_keys(run)
    bases = [k for k in keys if not k.startswith("val_")]
    bases += [k[4:] for k in keys if k.startswith("val_") and k[4:] not in bases]
    bases.sort(key=lambda k: (k != "loss", "lr" in k))
    return [bases[i:i + 3] for i in range(0, len(bases), 3)]


def _curves_section(run: _Run, missing: list[str]) -> list[dict]:
    if not _numeric_keys(run):
        what = ("Curves appear here when the run folder holds a per-epoch history: history.json, written by "
                "`Trainer(run_dir=...)` or `History.to_json`.")
        if run.summary is not None:
            what += " The tour's chapters draw their own curves; they are among the pictures."
        return [_text(what, "muted")]
    blocks: list[dict] = []
    if _plots_available():
        from glassnet.lens.plots import plot_history

        history = {"epoch": run.epochs, "history": run.logs}
        figures = []
        groups = _metric_groups(run)
        for group in groups[:MAX_CURVE_FIGURES]:
            try:
                fig = plot_history(history, metrics=group, best_epoch=_best_epoch(run),
                                   stopped_epoch=run.stopped_epoch)
                figures.append(_figure(", ".join(_human(k) for k in group), _png(fig),
                                       "validation dashed; solid: what the key names (training unless it says test)"))
            except _DRAWING_ERRORS as err:
                run.note("curves", f"the curves of {', '.join(group)} could not be drawn: {err}")
        if len(groups) > MAX_CURVE_FIGURES:
            run.note("curves", f"{len(groups) - MAX_CURVE_FIGURES} more groups of metrics are only in the table")
        if figures:
            blocks.append({"kind": "figures", "items": figures, "wide": True})
    else:
        missing.append("training curves")
    keys = list(run.logs)
    rows = [[ep + 1, *[run.logs[k][i] for k in keys]] for i, ep in enumerate(run.epochs)]
    kinds = [None, *[_kind_of(k, run.logs[k]) for k in keys]]
    blocks.append({"kind": "details", "open": len(rows) <= 12, "summary": f"Per-epoch numbers ({len(rows)} epochs)",
                   "blocks": [_table(["epoch", *keys], rows, "numbers", kinds)]})
    return blocks


def _findings(run: _Run) -> tuple[list[Finding], list[str]]:
    """Findings from the recording (if any) then from the history, without repeating a kind; and problems met."""
    findings: list[Finding] = []
    problems: list[str] = []
    sources = []
    if run.recording is not None and not run.recording.empty:
        sources.append(("recording", run.recording))
    if any(_is_number(v) for v in run.logs.get("loss", [])):
        sources.append(("history", {k: v for k, v in run.logs.items() if k in ("loss", "val_loss")}))
    for name, source in sources:
        try:
            found = diagnose(source)
        except (ValueError, TypeError, KeyError) as err:
            problems.append(f"the {name} could not be diagnosed: {err}")
            continue
        kinds = {f.kind for f in findings}
        findings += [f for f in found if f.kind not in kinds]
    return findings, problems


def _finding_block(f: Finding) -> dict:
    rows = [[k, v if _is_number(v) else (", ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v))]
            for k, v in f.evidence.items()]
    return {"kind": "finding", "severity": f.severity, "badge": f.severity, "title": f.kind.replace("_", " "),
            "message": f.message, "remedy": f.remedy,
            "evidence": _table(["evidence", "value"], rows, "evidence") if rows else None}


def _median(values: list) -> float | None:
    vals = [v for v in values if _is_number(v) and math.isfinite(v)]
    return float(numpy.median(vals[-max(1, len(vals) // 2):])) if vals else None


def _layer_tables(rec: Recording) -> list[dict]:
    """The per-layer numbers behind the diagnosis: activations and parameters, medians over the recent half."""
    blocks = []
    act_keys = ("mean", "std", "zero_fraction", "dead_fraction", "saturated_fraction")
    rows = [[layer, kind, *[_median(rec.series("activations", layer, k)[1]) for k in act_keys]]
            for layer, kind in rec.layer_kinds.items()]
    if rows:
        blocks.append(_table(["layer", "kind", *act_keys], rows, "numbers", title="Activations per layer"))
    param_keys = ("weight_norm", "grad_norm", "update_ratio")
    rows = [[name, *[_median(rec.series("params", name, k)[1]) for k in param_keys]] for name in rec.param_order]
    if any(any(v is not None for v in r[1:]) for r in rows):
        blocks.append(_table(["parameter", *param_keys], rows, "numbers", title="Parameters"))
    if not blocks:
        return []
    return [{"kind": "details", "open": False, "blocks": blocks,
             "summary": "The numbers behind it (medians over the recent half of training)"}]


def _evidence_epochs(run: _Run) -> int:
    """How many epochs of training the diagnosis saw (from the history, or the recording's epoch logs)."""
    counted = len([v for v in run.logs.get("loss", []) if _is_number(v)])
    if run.recording is not None:
        counted = max(counted, len(run.recording.epochs) * run.recording.epochs.stride)
    return counted


def _verdict(run: _Run, looked_at: str) -> dict:
    """No findings: 'healthy' only with enough epochs to have seen overfitting or a stall; else 'too early'."""
    epochs = _evidence_epochs(run)
    if epochs < MIN_EPOCHS_FOR_VERDICT:
        return {"kind": "finding", "severity": "info", "badge": "too early to tell", "title": "No problems seen yet",
                "message": f"From {looked_at}: nothing wrong in {epochs} epoch{'s' if epochs != 1 else ''}, but that "
                           f"is too short to judge: overfitting and a stalled loss show over several epochs. A "
                           f"verdict needs at least {MIN_EPOCHS_FOR_VERDICT} epochs.",
                "remedy": "", "evidence": None}
    losses = [v for v in run.logs.get("loss", []) if _is_number(v) and math.isfinite(v)]
    still = ""
    if len(losses) >= 2 and losses[-2] > 0 and (losses[-2] - losses[-1]) / losses[-2] > 0.05:
        drop = format_value((losses[-2] - losses[-1]) / losses[-2], "percent")
        still = f" The loss was still falling at the end ({drop} in the last epoch): more epochs would probably help."
    return {"kind": "finding", "severity": "ok", "badge": "healthy", "title": "No problems found",
            "message": f"From {looked_at} over {epochs} epochs: no vanishing or exploding gradients, dead or "
                       f"saturated units, divergence, stalled loss or overfitting.{still}",
            "remedy": "", "evidence": None}


def _diagnosis_section(run: _Run) -> list[dict]:
    findings, problems = _findings(run)
    blocks: list[dict] = []
    looked_at = " and ".join(x for x in ("the recorded layer statistics" if run.recording else "",
                                         "the loss history" if run.logs.get("loss") else "") if x)
    if not looked_at:
        blocks.append(_text("A diagnosis appears here when the run has a loss history (history.json, written by "
                            "`Trainer(run_dir=...)`) or a recording of its layers (recording.json: train with a "
                            "`Recorder` and save it with `glassnet.lens.report.save_recording`). It names vanishing "
                            "or exploding gradients, dead units, divergence, a stalled loss and overfitting.",
                            "muted"))
    elif findings:
        blocks.append(_text(f"From {looked_at}:"))
        blocks += [_finding_block(f) for f in findings]
    else:
        blocks.append(_verdict(run, looked_at))
    if not run.recording and run.logs.get("loss"):
        blocks.append(_text("Layer-level checks (gradients, dead units, update ratios) need a recording: train with "
                            "a `Recorder` and save it with `save_recording`.", "muted"))
    blocks += [_text(p, "muted") for p in problems]
    if run.recording is not None:
        blocks += _layer_tables(run.recording)
    return blocks


def _title_from(name: str) -> str:
    """A caption from a file name: 'ch05_1_training_loss.png' -> 'chapter 5: training loss'."""
    stem = Path(name).stem
    chapter = re.match(r"ch(\d+)_(\d+_)?", stem)
    if chapter:
        stem = f"chapter {int(chapter.group(1))}: {stem[chapter.end():]}"
    return stem.replace("_", " ").replace("-", " ")


def _pictures_section(run: _Run, missing: list[str]) -> list[dict]:
    figures: list[dict] = []
    plots = _plots_available()
    rec = run.recording
    if rec is not None and rec.records:
        if plots:
            from glassnet.lens.plots import plot_gradient_flow, plot_histograms

            try:
                figures.append(_figure("gradient flow", _png(plot_gradient_flow(rec)),
                                       "bars shrinking towards the input mean vanishing gradients", wide=True))
                if any("weight_histogram" in s for r in rec.records for s in r["params"].values()):
                    figures.append(_figure("weight distributions", _png(plot_histograms(rec, "weights")),
                                           "one curve per recorded step, dark early to yellow late", wide=True))
            except _DRAWING_ERRORS as err:
                run.note("pictures", f"the recording's pictures could not be drawn: {err}")
        else:
            missing.append("the gradient-flow chart")
    if run.confusion is not None:
        if plots:
            from glassnet.lens.plots import plot_confusion_matrix

            try:
                fig = plot_confusion_matrix(run.confusion["matrix"], labels=run.confusion["labels"])
                figures.append(_figure("confusion matrix", _png(fig), "rows: true class, columns: predicted"))
            except _DRAWING_ERRORS as err:
                run.note("pictures", f"{CONFUSION_FILE}: {err}")
        else:
            missing.append("the confusion matrix")
    figures += [_figure(_title_from(name), data, name) for name, data in run.pictures]
    if figures:
        return [{"kind": "figures", "items": figures, "wide": False}]
    return [_text("Pictures appear here when the run has a recording of its layers (recording.json, from "
                  "`save_recording`), a confusion matrix (confusion_matrix.json) or PNG files in artefacts/.",
                  "muted")]


def _flatten(config: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows += _flatten(value, name + ".")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                rows += _flatten(item, f"{name}[{i}].")
        else:
            rows.append((name, value))
    return rows


def _config_section(run: _Run) -> list[dict]:
    if run.config is None:
        return [_text("No config.json in this run folder: the settings of a run (model, optimiser, learning rate, "
                      "epochs) appear here when it has one, as `Trainer(run_dir=...)` writes.", "muted")]
    long_text = {k: v for k, v in run.config.items() if isinstance(v, str) and "\n" in v}
    try:
        rows = [[k, v if _is_number(v) or v is None else (json.dumps(v) if not isinstance(v, str) else v)]
                for k, v in _flatten({k: v for k, v in run.config.items() if k not in long_text})]
    except RecursionError:
        run.note("config", "config.json is nested too deeply to be shown")
        rows = []
    blocks = [_table(["setting", "value"], rows, "config")]
    blocks += [{"kind": "details", "open": False, "summary": key,
                "blocks": [{"kind": "pre", "title": "", "text": text}]} for key, text in long_text.items()]
    return blocks


def _results_section(run: _Run) -> list[dict]:
    """A tour's chapters: each one's headline results (or all its results) in a card."""
    items = []
    for ch in run.summary.get("chapters", []):
        heading = f"{ch['number']}. {ch['title']}"
        if ch.get("status") != "ran":
            items.append({"heading": heading, "detail": f"coming with issue {ch.get('coming_with')}", "muted": True,
                          "table": None})
            continue
        results = ch.get("results") or {}
        shown = [h for h in ch.get("headlines", []) if isinstance(h, dict) and h.get("key") in results]
        if shown:
            rows = [[str(h.get("label", h["key"])), format_value(results[h["key"]], h.get("kind"))] for h in shown]
        else:
            rows = [[_human(k), format_value(v, _kind_of(k, [v] if _is_number(v) else []))] for k, v in results.items()]
        seconds = ch.get("seconds")
        items.append({"heading": heading, "muted": False, "table": _table(["result", "value"], rows),
                      "detail": format_value(seconds, "seconds") if seconds is not None else ""})
    return [{"kind": "chapters", "items": items}]


_LABELS = {"curves": "Curves", "diagnosis": "Diagnosis", "pictures": "Pictures", "results": "Results by chapter",
           "config": "Configuration"}


def _render(run: _Run) -> str:
    import glassnet

    missing: list[str] = []
    config = run.config or {}
    what = ", ".join(str(x) for x in (config.get("recipe"), config.get("model"), config.get("optimizer"))
                     if isinstance(x, (str, int, float)) and x)
    built = {"curves": _curves_section(run, missing), "diagnosis": _diagnosis_section(run),
             "pictures": _pictures_section(run, missing), "config": _config_section(run)}
    if run.summary is not None:
        built["results"] = _results_section(run)
    elif "results" in run.notes:
        built["results"] = []
    # figures first: a run without per-epoch curves (a tour) opens with its pictures and results instead
    order = ["curves", "diagnosis", "pictures", "results", "config"] if run.logs else \
        ["pictures", "results", "curves", "diagnosis", "config"]
    order = [key for key in order if key in built]
    sections = [{"id": key, "title": _LABELS[key],
                 "blocks": built[key] + [_text(n, "muted") for n in run.notes.get(key, [])]} for key in order]
    warnings = []
    if missing:
        warnings.append(f"Not drawn because matplotlib is not installed: {', '.join(missing)}. Install it with "
                        f"`{PLOTS_EXTRA}`.")
    created = datetime.datetime.now().isoformat(timespec="seconds")
    return render_html("report.html", page_title=f"glassnet report: {run.path.name}", heading=run.path.name,
                       subheading=f"{what or 'glassnet run'} · {run.path}",
                       nav=[(s["id"], s["title"]) for s in sections],
                       cards=_key_numbers(run), warnings=warnings, sections=sections,
                       footer=f"written by glassnet {glassnet.__version__} on {created}")


def report(run_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write one self-contained HTML report of the run in `run_dir` (default `run_dir/report.html`); return its path.

    A run folder holds config.json and/or history.json (a recipe's checkpoint with a history also counts); a
    recording.json (`save_recording`), confusion_matrix.json ({"matrix": [[...]], "labels": [...]}) and PNGs in
    artefacts/ add pictures. Raises ReportError when `run_dir` is not a run folder. Files that cannot be read
    (malformed, too large, not regular files, links out of the folder) become notes in their sections.
    """
    run = _read_run(run_dir)
    target = Path(os.fspath(out)) if out is not None else run.path / "report.html"
    if target.is_dir():
        raise ReportError(f"report: {target} is a directory; expected the path of the HTML file to write")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, _render(run))
    return target
