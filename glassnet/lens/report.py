"""report: one self-contained HTML page about a training run, for people to look at rather than read.

`report(run_dir)` reads a run folder (see `glassnet.train.RunDir`): config.json, history.json, a saved recording
(`save_recording` writes recording.json), confusion_matrix.json and the PNGs in artefacts/, and writes
`run_dir/report.html` with the key numbers, the curves, the diagnosis (`glassnet.lens.diagnose`) with the
per-layer numbers behind it, the pictures and the configuration. Images are embedded as base64 PNG and the style
is inline, so the file opens anywhere without a network and needs no script. Plots need matplotlib
(`glassnet[plots]`); without it the page still renders and says which pictures are missing.
"""

from __future__ import annotations

import base64
import datetime
import html
import importlib.util
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy

from glassnet.files import atomic_write
from glassnet.lens.diagnose import Finding, diagnose
from glassnet.lens.recorder import Recorder, Recording

__all__ = ["ReportError", "load_recording", "report", "save_recording"]

SCALARS_FILE = "scalars.jsonl"  # glassnet.train.runlog.SCALARS_FILE
RECORDING_FILE = "recording.json"
CONFUSION_FILE = "confusion_matrix.json"
MAX_PICTURES = 24  # artefact PNGs embedded at most (a GAN writes one per epoch)
MAX_PICTURE_BYTES = 4 * 1024 * 1024  # larger PNGs are listed, not embedded
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
            return numpy.array(value["__array__"], dtype=value["dtype"])
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


def load_recording(path: str | os.PathLike) -> Recording:
    """Read a recording written by `save_recording` (a file, or a folder holding recording.json)."""
    source = Path(os.fspath(path))
    if source.is_dir():
        source = source / RECORDING_FILE
    data = _read_json(source)
    if not isinstance(data, dict) or data.get("format") != "glassnet.recording":
        raise ReportError(f"load_recording: {source} is not a glassnet recording (expected save_recording's JSON)")
    recording = Recording(int(data.get("max_records", 1000)))
    for bounded, key, stride in zip((recording.records, recording.losses, recording.epochs),
                                    ("records", "losses", "epochs"), data.get("strides", [1, 1, 1])):
        bounded.extend(_decode(data.get(key, [])))
        bounded.stride = int(stride)
    recording.layer_kinds = dict(data.get("layer_kinds", {}))
    recording.param_order = list(data.get("param_order", []))
    return recording


# ----- reading a run folder ----------------------------------------------------------------------------------------
def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except ValueError as e:
        raise ReportError(f"{path} is not valid JSON: {e}") from None


@dataclass
class _Run:
    """What a run folder holds, normalised: per-epoch logs as lists, optional recording and extras."""

    path: Path
    config: dict[str, Any] | None = None
    epochs: list[int] = field(default_factory=list)  # 0-based, as History and EarlyStopping count
    logs: dict[str, list] = field(default_factory=dict)
    recording: Recording | None = None
    confusion: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None  # a tour's summary.json
    notes: list[str] = field(default_factory=list)


def _logs_from(history: Any) -> tuple[list[int], dict[str, list]]:
    """(0-based epochs, {key: values}) from History.to_dict(), a dict of lists or a list of per-epoch dicts."""
    if isinstance(history, list):  # the recipes' form: [{"epoch": 1, "loss": ...}, ...] with 1-based epochs
        keys = [k for rec in history for k in rec if k != "epoch"]
        logs = {k: [rec.get(k) for rec in history] for k in dict.fromkeys(keys)}
        epochs = [int(rec["epoch"]) - 1 if "epoch" in rec else i for i, rec in enumerate(history)]
        return epochs, logs
    if isinstance(history, dict) and isinstance(history.get("history"), dict):
        logs = {str(k): list(v) for k, v in history["history"].items()}
        n = max((len(v) for v in logs.values()), default=0)
        epochs = [int(e) for e in history.get("epoch", [])]
        return (epochs if len(epochs) == n else list(range(n))), logs
    if isinstance(history, dict):
        logs = {str(k): list(v) for k, v in history.items() if isinstance(v, list)}
        return list(range(max((len(v) for v in logs.values()), default=0))), logs
    raise ReportError(f"report: the history is a {type(history).__name__}; expected History.to_dict() data")


def _checkpoint_history(path: Path) -> Any:
    """The history a recipe's checkpoint carries, or None."""
    for ckpt in (path / "checkpoints" / "last.safetensors", path / "checkpoint.safetensors"):
        if ckpt.is_file():
            from glassnet.io.weights import load

            try:
                state = load(ckpt)
            except Exception:  # noqa: BLE001 - an unreadable checkpoint just means no history from it
                continue
            if isinstance(state, dict) and state.get("history"):
                return state["history"]
    return None


def _scalars_history(path: Path) -> dict[str, Any] | None:
    """scalars.jsonl as History.to_dict() data: one row per logged step (batch_ series left out)."""
    from glassnet.train.runlog import read_jsonl

    points, _, _ = read_jsonl(path)
    points = [p for p in points if isinstance(p, dict) and isinstance(p.get("tag"), str)
              and not p["tag"].startswith("batch_") and isinstance(p.get("step"), int)]
    if not points:
        return None
    steps = sorted({p["step"] for p in points})
    row = {s: i for i, s in enumerate(steps)}
    logs: dict[str, list] = {}
    for p in points:
        logs.setdefault(p["tag"], [None] * len(steps))[row[p["step"]]] = p.get("value")
    return {"epoch": list(range(len(steps))), "history": logs}


def _read_run(run_dir: str | os.PathLike) -> _Run:
    path = Path(os.fspath(run_dir))
    if not path.is_dir():
        raise ReportError(f"report: {path} is not a directory; expected a run folder holding config.json "
                          "and/or history.json")
    run = _Run(path)
    has_config, has_history = (path / "config.json").is_file(), (path / "history.json").is_file()
    history = _read_json(path / "history.json") if has_history else _checkpoint_history(path)
    if history is None and (path / SCALARS_FILE).is_file():  # a SummaryWriter's (or a live Trainer's) series
        history = _scalars_history(path / SCALARS_FILE)
        run.notes.append(f"series read from {SCALARS_FILE} (one row per logged step)")
    if not has_config and history is None:
        raise ReportError(f"report: {path} is not a run folder: expected config.json or history.json in it (written "
                          "by Trainer(run_dir=...)), or a checkpoint.safetensors holding a history (written by "
                          "`glassnet train`); found none of them")
    if has_config:
        run.config = _read_json(path / "config.json")
    if history is not None:
        run.epochs, run.logs = _logs_from(history)
        if not has_history and not run.notes:
            run.notes.append("history read from the run's checkpoint (no history.json)")
    for folder in (path, path / "artefacts"):
        if run.recording is None and (folder / RECORDING_FILE).is_file():
            run.recording = load_recording(folder / RECORDING_FILE)
        if run.confusion is None and (folder / CONFUSION_FILE).is_file():
            data = _read_json(folder / CONFUSION_FILE)
            run.confusion = data if isinstance(data, dict) else {"matrix": data}
    if (path / "summary.json").is_file():
        summary = _read_json(path / "summary.json")
        run.summary = summary if isinstance(summary, dict) and "chapters" in summary else None
    return run


# ----- numbers and small HTML pieces -------------------------------------------------------------------------------
e = html.escape


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _num(v: Any) -> str:
    if isinstance(v, bool) or not _is_number(v):
        return "—" if v is None else str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}"


def _table(columns: list[str], rows: list[list[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{e(str(c))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = "".join(f"<td class='num'>{e(_num(v))}</td>" if _is_number(v) or v is None
                        else f"<td>{e(str(v))}</td>" for v in row)
        body.append(f"<tr>{cells}</tr>")
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure_html(title: str, png: bytes, caption: str = "", wide: bool = False) -> str:
    data = base64.b64encode(png).decode("ascii")
    cap = f"<figcaption><b>{e(title)}</b>{' — ' + e(caption) if caption else ''}</figcaption>"
    img = f"<img alt='{e(title)}' src='data:image/png;base64,{data}'>"
    opening = "<figure class='wide'>" if wide else "<figure>"
    return f"{opening}{img}{cap}</figure>"


def _plots_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _png(fig: Any) -> bytes:
    from glassnet.lens.plots import figure_to_png_bytes

    return figure_to_png_bytes(fig, dpi=100)


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


def _key_numbers(run: _Run) -> str:
    cards: list[tuple[str, str, str]] = []  # (label, value, detail)
    if run.epochs:
        cards.append(("epochs", str(len(run.epochs)), ""))
    for key in _numeric_keys(run)[:6]:
        values = [v for v in run.logs[key] if _is_number(v)]
        if key == "val_loss" and _best_epoch(run) is not None:
            best = _best_epoch(run)
            cards.append(("best val_loss", _num(min(values)), f"epoch {best + 1}"))
        else:
            cards.append((f"final {key}", _num(values[-1]), f"first {_num(values[0])}" if len(values) > 1 else ""))
    params = (run.config or {}).get("parameters")
    if _is_number(params):
        cards.append(("parameters", _num(params), str((run.config or {}).get("model", ""))))
    if not cards:
        return ""
    items = "".join(f"<div class='card'><div class='label'>{e(lab)}</div><div class='value'>{e(val)}</div>"
                    f"<div class='detail'>{e(det)}</div></div>" for lab, val, det in cards)
    return f"<div class='cards'>{items}</div>"


def _metric_groups(run: _Run) -> list[list[str]]:
    keys = _numeric_keys(run)
    bases = [k for k in keys if not k.startswith("val_")]
    bases += [k[4:] for k in keys if k.startswith("val_") and k[4:] not in bases]
    bases.sort(key=lambda k: (k != "loss", "lr" in k))
    return [bases[i:i + 3] for i in range(0, len(bases), 3)]


def _curves_section(run: _Run, missing: list[str]) -> str:
    parts = ["<section id='curves'><h2>Curves</h2>"]
    if not _numeric_keys(run):
        parts.append("<p class='muted'>This run has no per-epoch history (history.json), so there are no curves.</p>")
        return "".join(parts) + "</section>"
    if _plots_available():
        from glassnet.lens.plots import plot_history

        history = {"epoch": run.epochs, "history": run.logs}
        figures = []
        for group in _metric_groups(run):
            fig = plot_history(history, metrics=group, best_epoch=_best_epoch(run),
                               stopped_epoch=(run.config or {}).get("stopped_epoch"))
            figures.append(_figure_html(", ".join(group), _png(fig), "train solid, validation dashed"))
        parts.append(f"<div class='figures wide'>{''.join(figures)}</div>")
    else:
        missing.append("training curves")
    keys = list(run.logs)
    rows = [[ep + 1, *[run.logs[k][i] if i < len(run.logs[k]) else None for k in keys]]
            for i, ep in enumerate(run.epochs)]
    open_attr = " open" if len(rows) <= 12 else ""
    parts.append(f"<details{open_attr}><summary>Per-epoch numbers ({len(rows)} epochs)</summary>"
                 f"{_table(['epoch', *keys], rows, 'numbers')}</details>")
    return "".join(parts) + "</section>"


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
        except (ValueError, TypeError) as err:
            problems.append(f"the {name} could not be diagnosed: {err}")
            continue
        kinds = {f.kind for f in findings}
        findings += [f for f in found if f.kind not in kinds]
    return findings, problems


def _finding_html(f: Finding) -> str:
    rows = [[k, v if _is_number(v) else (", ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v))]
            for k, v in f.evidence.items()]
    evidence = _table(["evidence", "value"], rows, "evidence") if rows else ""
    title = f.kind.replace("_", " ")
    return (f"<div class='finding {e(f.severity)}'><div class='badge'>{e(f.severity)}</div><h3>{e(title)}</h3>"
            f"<p>{e(f.message)}</p><p class='remedy'><b>What helps:</b> {e(f.remedy)}</p>{evidence}</div>")


def _median(values: list) -> float | None:
    vals = [v for v in values if _is_number(v) and math.isfinite(v)]
    return float(numpy.median(vals[-max(1, len(vals) // 2):])) if vals else None


def _layer_tables(rec: Recording) -> str:
    """The per-layer numbers behind the diagnosis: activations and parameters, medians over the recent half."""
    parts = []
    act_keys = ("mean", "std", "zero_fraction", "dead_fraction", "saturated_fraction")
    rows = []
    for layer, kind in rec.layer_kinds.items():
        rows.append([layer, kind, *[_median(rec.series("activations", layer, k)[1]) for k in act_keys]])
    if rows:
        parts.append("<h3>Activations per layer</h3>" + _table(["layer", "kind", *act_keys], rows, "numbers"))
    param_keys = ("weight_norm", "grad_norm", "update_ratio")
    rows = [[name, *[_median(rec.series("params", name, k)[1]) for k in param_keys]] for name in rec.param_order]
    if any(any(v is not None for v in r[1:]) for r in rows):
        parts.append("<h3>Parameters</h3>" + _table(["parameter", *param_keys], rows, "numbers"))
    if not parts:
        return ""
    return ("<details><summary>The numbers behind it (medians over the recent half of training)</summary>"
            + "".join(parts) + "</details>")


def _diagnosis_section(run: _Run) -> str:
    findings, problems = _findings(run)
    parts = ["<section id='diagnosis'><h2>Diagnosis</h2>"]
    looked_at = " and ".join(x for x in ("the recorded layer statistics" if run.recording else "",
                                         "the loss history" if run.logs.get("loss") else "") if x)
    if not looked_at:
        parts.append("<p class='muted'>Nothing to diagnose: the run has neither a loss history nor a recording "
                     f"({RECORDING_FILE}, written by <code>glassnet.lens.report.save_recording</code>).</p>")
    elif findings:
        parts.append(f"<p>From {e(looked_at)}:</p>" + "".join(_finding_html(f) for f in findings))
    else:
        parts.append(f"<div class='finding ok'><div class='badge'>healthy</div><h3>No problems found</h3>"
                     f"<p>From {e(looked_at)}: no vanishing or exploding gradients, dead or saturated units, "
                     "divergence, stalled loss or overfitting.</p></div>")
    if not run.recording and run.logs.get("loss"):
        parts.append("<p class='muted'>Layer-level checks (gradients, dead units, update ratios) need a recording: "
                     "train with a <code>Recorder</code> and save it with <code>save_recording</code>.</p>")
    parts += [f"<p class='muted'>{e(p)}</p>" for p in problems]
    if run.recording is not None:
        parts.append(_layer_tables(run.recording))
    return "".join(parts) + "</section>"


def _title_from(name: str) -> str:
    """A caption from a file name: 'ch05_1_training_loss.png' -> 'chapter 5: training loss'."""
    stem = Path(name).stem
    chapter = re.match(r"ch(\d+)_(\d+_)?", stem)
    if chapter:
        stem = f"chapter {int(chapter.group(1))}: {stem[chapter.end():]}"
    return stem.replace("_", " ").replace("-", " ")


def _pictures_section(run: _Run, missing: list[str]) -> str:
    figures: list[str] = []
    notes: list[str] = []
    plots = _plots_available()
    rec = run.recording
    if rec is not None and rec.records:
        if plots:
            from glassnet.lens.plots import plot_gradient_flow, plot_histograms

            try:
                figures.append(_figure_html("gradient flow", _png(plot_gradient_flow(rec)),
                                            "bars shrinking towards the input mean vanishing gradients", wide=True))
            except ValueError as err:
                notes.append(str(err))
            if any("weight_histogram" in s for r in rec.records for s in r["params"].values()):
                figures.append(_figure_html("weight distributions", _png(plot_histograms(rec, "weights")),
                                            "one curve per recorded step, dark early to yellow late", wide=True))
        else:
            missing.append("the gradient-flow chart")
    if run.confusion is not None:
        if plots:
            from glassnet.lens.plots import plot_confusion_matrix

            try:
                fig = plot_confusion_matrix(run.confusion["matrix"], labels=run.confusion.get("labels"))
                figures.append(_figure_html("confusion matrix", _png(fig), "rows: true class, columns: predicted"))
            except (KeyError, ValueError, TypeError) as err:
                notes.append(f"{CONFUSION_FILE}: {err}")
        else:
            missing.append("the confusion matrix")
    artefacts = sorted((run.path / "artefacts").glob("*.png")) if (run.path / "artefacts").is_dir() else []
    for png in artefacts[:MAX_PICTURES]:
        data = png.read_bytes()
        if len(data) > MAX_PICTURE_BYTES or data[:8] != b"\x89PNG\r\n\x1a\n":
            notes.append(f"artefacts/{png.name} not embedded ({len(data):,} bytes, or not a PNG)")
            continue
        figures.append(_figure_html(_title_from(png.name), data, f"artefacts/{png.name}"))
    if len(artefacts) > MAX_PICTURES:
        notes.append(f"{len(artefacts) - MAX_PICTURES} more PNGs in artefacts/ are not embedded")
    parts = ["<section id='pictures'><h2>Pictures</h2>"]
    if figures:
        parts.append(f"<div class='figures'>{''.join(figures)}</div>")
    else:
        parts.append("<p class='muted'>No pictures: the run has no recording, no confusion matrix and no PNGs in "
                     "artefacts/.</p>")
    parts += [f"<p class='muted'>{e(n)}</p>" for n in notes]
    return "".join(parts) + "</section>"


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


def _config_section(run: _Run) -> str:
    parts = ["<section id='config'><h2>Configuration</h2>"]
    if run.config is None:
        parts.append("<p class='muted'>No config.json in this run folder.</p>")
    else:
        long_text = {k: v for k, v in run.config.items() if isinstance(v, str) and "\n" in v}
        rows = [[k, v if _is_number(v) or v is None else (json.dumps(v) if not isinstance(v, str) else v)]
                for k, v in _flatten({k: v for k, v in run.config.items() if k not in long_text})]
        parts.append(_table(["setting", "value"], rows, "config"))
        for key, text in long_text.items():
            parts.append(f"<details><summary>{e(key)}</summary><pre>{e(text)}</pre></details>")
    parts += [f"<p class='muted'>{e(n)}</p>" for n in run.notes]
    return "".join(parts) + "</section>"


def _results_section(summary: dict[str, Any]) -> str:
    """A tour's chapters: each one's results as a table."""
    parts = ["<section id='results'><h2>Results by chapter</h2><div class='chapters'>"]
    for ch in summary.get("chapters", []):
        if ch.get("status") != "ran":
            parts.append(f"<div class='chapter muted'><h3>{ch['number']}. {e(ch['title'])}</h3>"
                         f"<p>coming with issue {e(str(ch.get('coming_with')))}</p></div>")
            continue
        rows = [[k, v] for k, v in (ch.get("results") or {}).items()]
        parts.append(f"<div class='chapter'><h3>{ch['number']}. {e(ch['title'])}</h3>"
                     f"<p class='muted'>{ch.get('seconds', 0):.1f} s</p>{_table(['result', 'value'], rows)}</div>")
    return "".join(parts) + "</div></section>"


_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f3f5f8;color:#1d2733;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{background:#1d3557;color:#fff;padding:1.4em 2em 1em}
header h1{margin:0;font-size:1.6em;font-weight:600}
header p{margin:.2em 0 0;opacity:.8}
nav{background:#24406a;padding:.4em 2em;position:sticky;top:0;z-index:1}
nav a{color:#dce6f5;text-decoration:none;margin-right:1.4em;font-size:.9em}
nav a:hover{color:#fff}
main{max-width:78em;margin:0 auto;padding:1.2em 2em 3em}
section{background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:1em 1.5em 1.3em;margin:1.2em 0}
h2{margin:.2em 0 .6em;font-size:1.25em;color:#1d3557}
h3{margin:.3em 0;font-size:1.02em}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(10em,1fr));gap:.8em;margin:1.2em 0 0}
.card{background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:.7em 1em}
.card .label{font-size:.78em;text-transform:uppercase;letter-spacing:.04em;color:#6b7785}
.card .value{font-size:1.6em;font-weight:600;font-variant-numeric:tabular-nums}
.card .detail{font-size:.8em;color:#6b7785;min-height:1.2em}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(26em,1fr));gap:1em}
.figures.wide{grid-template-columns:1fr}
figure{margin:0;text-align:center}figure.wide{grid-column:1/-1}
figure img{max-width:100%;height:auto;border:1px solid #e3e7ec;border-radius:6px}
figcaption{font-size:.85em;color:#4a5562;margin-top:.2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.88em}
th{background:#eef2f7;text-align:left;font-weight:600}
th,td{padding:.25em .7em;border-bottom:1px solid #e3e7ec}
td.num{text-align:right;font-variant-numeric:tabular-nums;font-family:ui-monospace,Menlo,Consolas,monospace}
table.numbers tbody tr:nth-child(even){background:#f8fafc}
table.config td:first-child{color:#4a5562;white-space:nowrap}
details{margin:.7em 0}summary{cursor:pointer;color:#24406a;font-weight:500}
pre{background:#f6f8fa;padding:.8em;border-radius:6px;overflow-x:auto;font-size:.85em}
.muted{color:#6b7785}
.finding{border-left:5px solid #888;background:#fafbfc;border-radius:6px;padding:.6em 1em;margin:.8em 0}
.finding.critical{border-color:#c0392b;background:#fdf1f0}.finding.warning{border-color:#e0a020;background:#fef9ee}
.finding.info{border-color:#3a7bd5;background:#f0f6fe}.finding.ok{border-color:#2e9e5b;background:#eff9f2}
.badge{float:right;font-size:.75em;text-transform:uppercase;letter-spacing:.05em;color:#6b7785}
.remedy{margin:.3em 0}
.chapters{display:grid;grid-template-columns:repeat(auto-fill,minmax(22em,1fr));gap:1em}
.chapter{border:1px solid #e3e7ec;border-radius:8px;padding:.5em 1em;overflow-x:auto}
.chapter table{width:100%}.chapter td:last-child{overflow-wrap:anywhere}
footer{text-align:center;color:#8a95a3;font-size:.8em;margin:2em 0}
"""


def _render(run: _Run) -> str:
    import glassnet

    missing: list[str] = []
    config = run.config or {}
    what = ", ".join(str(x) for x in (config.get("recipe"), config.get("model"), config.get("optimizer")) if x
                     and not isinstance(x, dict))
    labels = {"curves": "Curves", "diagnosis": "Diagnosis", "pictures": "Pictures", "results": "Results",
              "config": "Configuration"}
    built = {"curves": _curves_section(run, missing), "diagnosis": _diagnosis_section(run),
             "pictures": _pictures_section(run, missing), "config": _config_section(run)}
    if run.summary is not None:
        built["results"] = _results_section(run.summary)
    # figures first: a run without per-epoch curves (a tour) opens with its pictures and results instead
    order = ["curves", "diagnosis", "pictures", "results", "config"] if run.logs else \
        ["pictures", "results", "curves", "diagnosis", "config"]
    order = [key for key in order if key in built]
    sections = [built[key] for key in order]
    links = [(key, labels[key]) for key in order]
    warning = ""
    if missing:
        warning = (f"<p class='finding warning'>Not drawn because matplotlib is not installed: {e(', '.join(missing))}"
                   f". Install it with <code>{e(PLOTS_EXTRA)}</code>.</p>")
    nav = "".join(f"<a href='#{key}'>{e(label)}</a>" for key, label in links)
    created = datetime.datetime.now().isoformat(timespec="seconds")
    return "\n".join([
        "<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>glassnet report: {e(run.path.name)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{e(run.path.name)}</h1><p>{e(what) or 'glassnet run'} · {e(str(run.path))}</p></header>",
        f"<nav>{nav}</nav><main>", _key_numbers(run), warning, *sections,
        f"<footer>written by glassnet {e(glassnet.__version__)} on {e(created)}</footer>",
        "</main></body></html>", "",
    ])


def report(run_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write one self-contained HTML report of the run in `run_dir` (default `run_dir/report.html`); return its path.

    A run folder holds config.json and/or history.json (a recipe's checkpoint with a history also counts); a
    recording.json (`save_recording`), confusion_matrix.json ({"matrix": [[...]], "labels": [...]}) and PNGs in
    artefacts/ add pictures. Raises ReportError when `run_dir` is not a run folder.
    """
    run = _read_run(run_dir)
    target = Path(os.fspath(out)) if out is not None else run.path / "report.html"
    if target.is_dir():
        raise ReportError(f"report: {target} is a directory; expected the path of the HTML file to write")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, _render(run))
    return target
