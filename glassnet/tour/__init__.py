"""The guided tour (`glassnet tour`): chapters that each explain one idea and train a real network live.

Each chapter is a module `chNN_name.py` with `TITLE`, `TEXT` (a short plain-words explanation) and
`run(quick, say) -> dict`, which trains something on bundled or generated data, prints what it finds through `say`
(each number once: a line or a table, never both) and returns

    {"results": {key: value},                       # every number, for summary.json and tests
     "headlines": [(key, "human label", kind)],     # the few that tell the story (kind: "percent", "int", None)
     "tables": [{"title", "columns", "rows", "kinds"}],
     "figures": [{"title", "caption", "figure"}],   # matplotlib figures drawn by glassnet.lens.plots
     "notes": ["why a result is what it is"], "texts": [{"title", "text"}]}

so a notebook can show a chapter by calling its `run` (docs/notebooks are generated from these modules). The frame
here runs the chapters in order, times them and writes `summary.json`, `tour.html` (the story: each chapter's text,
pictures, numbers and explanations, in the report's style) and, through `glassnet.lens.report`, `report.html` (the
run at a glance); the output folder is a run folder with config.json and the pictures in artefacts/.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from glassnet.lens.render import format_value


class TourError(ValueError):
    """A user mistake in asking for the tour (e.g. an unknown chapter number)."""


@dataclass(frozen=True)
class Chapter:
    """One entry of the table of contents: a module that runs it, or the issue that will bring it."""

    number: int
    title: str
    module: str | None = None
    coming_with: int | None = None

    @property
    def available(self) -> bool:
        """Whether this chapter can run now."""
        return self.module is not None


CHAPTERS: list[Chapter] = [
    Chapter(1, "A neuron: weighted sum, bias, activation", "ch01_neuron"),
    Chapter(2, "Forward propagation through layers", "ch02_forward"),
    Chapter(3, "Loss: how wrong is the network?", "ch03_loss"),
    Chapter(4, "Backpropagation: the chain rule with real numbers", "ch04_backprop"),
    Chapter(5, "Gradient descent and its variants: SGD, momentum, Adam", "ch05_optimizers"),
    Chapter(6, "A convolutional network reads digits", "ch06_cnn"),
    Chapter(7, "An LSTM writes text", "ch07_lstm"),
    Chapter(8, "Overfitting and its remedies: L2, dropout, early stopping", "ch08_overfitting"),
    Chapter(9, "A GAN learns a 2-D distribution", "ch09_gan"),
    Chapter(10, "Attention in a small Transformer", "ch10_attention"),
    Chapter(11, "Transfer learning: reuse a trained feature extractor", "ch11_transfer"),
    Chapter(12, "Why did it predict that? A saliency map", "ch12_saliency"),
]


def table_of_contents() -> str:
    """The tour's chapters, one line each, marking those still to come."""
    lines = []
    for ch in CHAPTERS:
        mark = "" if ch.available else f"   (coming with issue {ch.coming_with})"
        lines.append(f"{ch.number:3d}. {ch.title}{mark}")
    return "\n".join(lines)


def _select(chapters: Iterable[int] | None) -> list[Chapter]:
    by_number = {ch.number: ch for ch in CHAPTERS}
    if chapters is None:
        return list(CHAPTERS)
    selected = []
    for n in chapters:
        if n not in by_number:
            raise TourError(f"unknown chapter {n}: the tour has chapters 1 to {len(CHAPTERS)}")
        selected.append(by_number[n])
    return selected


def default_out_dir() -> str:
    """runs/tour-<timestamp>/ under the current directory."""
    return os.path.join("runs", "tour-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))


def progress(iterable: Iterable, total: int | None = None, desc: str = "") -> Any:
    """A tqdm.auto progress bar over a long chapter's steps: a widget in Jupyter, a bar on a terminal, nothing when
    output goes to a file or a test (the chapter's closing lines say what happened). `set_postfix_str` works on it
    either way."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False, disable=not interactive(), mininterval=0.5,
                unit="step", dynamic_ncols=True)


def interactive() -> bool:
    """Whether a person is watching: a Jupyter kernel or a terminal on stderr."""
    return "ipykernel" in sys.modules or bool(getattr(sys.stderr, "isatty", lambda: False)())


def figure(title: str, draw: Callable[[], Any], caption: str = "") -> dict[str, Any] | None:
    """`{"title", "caption", "figure": draw()}`, or None when matplotlib is not installed (pictures are optional)."""
    try:
        return {"title": title, "caption": caption, "figure": draw()}
    except ImportError:
        return None


def run_tour(
    chapters: Iterable[int] | None = None,
    quick: bool = False,
    out: str | os.PathLike | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the chosen chapters (all by default) in order, write summary.json, tour.html and report.html to `out`;
    return the summary."""
    import numpy

    import glassnet as gn

    selected = _select(chapters)
    out = os.fspath(out) if out is not None else default_out_dir()
    runnable = [ch for ch in selected if ch.available]
    say(f"glassnet tour{' (quick)' if quick else ''}: {len(runnable)} chapter(s) to run, report in {out}")
    records: list[dict[str, Any]] = []
    pictures: dict[int, list[dict[str, Any]]] = {}
    start = time.perf_counter()
    done = 0
    for ch in selected:
        if not ch.available:
            say(f"\n--- Chapter {ch.number}: {ch.title} — skipped: coming with issue {ch.coming_with}")
            records.append({"number": ch.number, "title": ch.title, "status": "coming",
                            "coming_with": ch.coming_with})
            continue
        done += 1
        mod = importlib.import_module(f"glassnet.tour.{ch.module}")
        say(f"\n=== [{done}/{len(runnable)}] Chapter {ch.number}: {ch.title} ===")
        say(mod.TEXT.strip())
        say("")
        gn.manual_seed(ch.number)
        t0 = time.perf_counter()
        outcome = mod.run(quick=quick, say=say)
        pictures[ch.number] = _pictures(outcome.get("figures", []))
        seconds = time.perf_counter() - t0
        say(f"--- chapter {ch.number} done in {seconds:.1f} s")
        records.append({
            "number": ch.number, "title": ch.title, "status": "ran", "text": mod.TEXT.strip(),
            "seconds": round(seconds, 3), "results": outcome.get("results", {}),
            "headlines": [{"key": k, "label": label, "kind": kind} for k, label, kind in outcome.get("headlines", [])],
            "tables": outcome.get("tables", []), "notes": outcome.get("notes", []), "texts": outcome.get("texts", []),
            "figures": [p["title"] for p in pictures[ch.number]],
        })
    total = time.perf_counter() - start
    summary = {
        "glassnet": gn.__version__, "numpy": numpy.__version__, "python": platform.python_version(),
        "quick": quick, "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "total_seconds": round(total, 3), "chapters": records,
    }
    os.makedirs(out, exist_ok=True)
    summary = json.loads(json.dumps(summary, default=_jsonable))  # plain JSON types from here on (NumPy numbers too)
    _write_text(os.path.join(out, "summary.json"), json.dumps(summary, indent=2))
    _write_text(os.path.join(out, "tour.html"), render_html(summary, pictures))
    report_path = _write_report(out, summary, pictures)
    say(f"\ntour finished: {done} chapter(s) in {total:.1f} s; wrote {os.path.join(out, 'summary.json')}, "
        f"{os.path.join(out, 'tour.html')} and {report_path}")
    return summary


def _pictures(figures: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
    """Each chapter figure as PNG bytes (rendered once, for tour.html, artefacts/ and the report)."""
    from glassnet.lens.plots import figure_to_png_bytes

    return [{"title": f["title"], "caption": f.get("caption", ""), "png": figure_to_png_bytes(f["figure"], dpi=90)}
            for f in figures if f and f.get("figure") is not None]


def _write_text(path: str, text: str) -> None:
    """Write a text file atomically, through the library's one atomic writer."""
    from glassnet.files import atomic_write

    atomic_write(path, text)


def _write_report(out: str, summary: dict[str, Any], pictures: dict[int, list[dict[str, Any]]]) -> str:
    """Make `out` a run folder (config.json, the chapters' figures in artefacts/) and write its report.html."""
    from glassnet.files import atomic_write
    from glassnet.lens.report import report

    config = {"run": "glassnet tour", **{k: summary[k] for k in ("quick", "glassnet", "numpy", "python", "created",
                                                                  "total_seconds")},
              "chapters_run": [rec["number"] for rec in summary["chapters"] if rec["status"] == "ran"]}
    _write_text(os.path.join(out, "config.json"), json.dumps(config, indent=1))
    artefacts = os.path.join(out, "artefacts")
    os.makedirs(artefacts, exist_ok=True)
    for number, pics in pictures.items():
        for i, pic in enumerate(pics, start=1):
            atomic_write(os.path.join(artefacts, f"ch{number:02d}_{i}_{_slug(pic['title'])}.png"), pic["png"])
    return os.fspath(report(out))


def _slug(title: str) -> str:
    return "_".join("".join(c if c.isalnum() else " " for c in title.lower()).split())[:40]


def _jsonable(value: Any) -> Any:
    try:
        return value.item()
    except AttributeError:
        return str(value)


def render_html(summary: dict[str, Any], pictures: dict[int, list[dict[str, Any]]] | None = None) -> str:
    """tour.html: the story, one section per chapter (text, pictures, headline numbers, tables, explanations), in
    the report's style and through the same templates (every value escaped, no script)."""
    from glassnet.lens.render import render_html as render

    pictures = pictures or {}
    chapters = []
    for rec in summary["chapters"]:
        if rec["status"] != "ran":
            chapters.append({**rec, "id": f"ch{rec['number']}", "cards": [], "figures": [], "tables": []})
            continue
        results = rec.get("results", {})
        shown = set()  # every number the chapter's tables show, as they show it
        for t in rec.get("tables", []):
            kinds = list(t.get("kinds") or [])
            for row in t["rows"]:
                shown.update(format_value(v, kinds[i] if i < len(kinds) else None) for i, v in enumerate(row))
        cards = [{"label": h["label"], "value": format_value(results[h["key"]], h.get("kind")), "detail": ""}
                 for h in rec.get("headlines", []) if h["key"] in results]
        cards = [c for c in cards if c["value"] not in shown]  # each number once: a table already shows the rest
        tables = [{"kind": "table", "title": t["title"], "columns": t["columns"], "rows": t["rows"],
                   "kinds": t.get("kinds", []), "cls": "numbers"} for t in rec.get("tables", [])]
        chapters.append({**rec, "id": f"ch{rec['number']}", "cards": cards, "tables": tables,
                         "figures": [{**p, "wide": False} for p in pictures.get(rec["number"], [])]})
    versions = f"glassnet {summary['glassnet']}, NumPy {summary['numpy']}, Python {summary['python']}"
    timing = f"{'quick run, ' if summary['quick'] else ''}{format_value(summary['total_seconds'], 'seconds')} in all"
    return render("tour.html", page_title="glassnet tour", heading="glassnet tour: deep learning you can see through",
                  subheading=f"{versions} · {timing} · {summary['created']}",
                  nav=[(ch["id"], str(ch["number"])) for ch in chapters if ch["status"] == "ran"],
                  chapters=chapters, footer=f"written by glassnet {summary['glassnet']}")


def print_table(say: Callable[[str], None], columns: list[str], rows: list[list[Any]],
                kinds: list[str | None] | None = None) -> None:
    """Print rows under their column names, aligned; numbers formatted as on the page (`kinds` per column)."""
    kinds = list(kinds or [])
    kinds += [None] * (len(columns) - len(kinds))
    cells = [[str(c) for c in columns]] + [[format_value(v, k) for v, k in zip(row, kinds)] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    for j, r in enumerate(cells):
        say("  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if j == 0:
            say("  " + "  ".join("-" * w for w in widths))


__all__ = ["CHAPTERS", "Chapter", "TourError", "figure", "interactive", "print_table", "progress", "render_html",
           "run_tour", "table_of_contents"]
