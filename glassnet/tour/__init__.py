"""The guided tour (`glassnet tour`): chapters that each explain one idea and train a real network live.

Each chapter is a module `chNN_name.py` with `TITLE`, `TEXT` (a short plain-words explanation) and
`run(quick, say) -> dict`, which trains something on bundled or generated data, prints its numbers through
`say` and returns `{"results": {...}, "tables": [{"title", "columns", "rows"}, ...]}`. The frame here runs the
chapters in order, shows progress, times them and writes `summary.json`, a self-contained `tour.html` (the chapters'
text, results and tables) and, through `glassnet.lens.report`, `report.html` (the run at a glance: results by
chapter, pictures, configuration); the output folder is a run folder with config.json and artefacts/.
"""

from __future__ import annotations

import base64
import datetime
import html
import importlib
import io
import json
import os
import platform
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


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


def run_tour(
    chapters: Iterable[int] | None = None,
    quick: bool = False,
    out: str | os.PathLike | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the chosen chapters (all by default) in order, write summary.json and tour.html to `out`; return it."""
    import numpy

    import glassnet as gn

    selected = _select(chapters)
    out = os.fspath(out) if out is not None else default_out_dir()
    runnable = [ch for ch in selected if ch.available]
    say(f"glassnet tour{' (quick)' if quick else ''}: {len(runnable)} chapter(s) to run, report in {out}")
    records: list[dict[str, Any]] = []
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
        seconds = time.perf_counter() - t0
        say(f"--- chapter {ch.number} done in {seconds:.1f} s")
        records.append({
            "number": ch.number, "title": ch.title, "status": "ran", "text": mod.TEXT.strip(),
            "seconds": round(seconds, 3), "results": outcome.get("results", {}),
            "tables": outcome.get("tables", []), "figures": outcome.get("figures", []),
        })
    total = time.perf_counter() - start
    summary = {
        "glassnet": gn.__version__, "numpy": numpy.__version__, "python": platform.python_version(),
        "quick": quick, "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "total_seconds": round(total, 3), "chapters": records,
    }
    os.makedirs(out, exist_ok=True)
    plain = _without_figures(summary)
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(plain, f, indent=2, default=_jsonable)
    with open(os.path.join(out, "tour.html"), "w", encoding="utf-8") as f:
        f.write(render_html(summary))
    report_path = _write_report(out, summary)
    say(f"\ntour finished: {done} chapter(s) in {total:.1f} s; wrote {os.path.join(out, 'summary.json')}, "
        f"{os.path.join(out, 'tour.html')} and {report_path}")
    return plain


def _write_report(out: str, summary: dict[str, Any]) -> str:
    """Make `out` a run folder (config.json, the chapters' figures in artefacts/) and write its report.html."""
    from glassnet.lens.report import report

    config = {"run": "glassnet tour", **{k: summary[k] for k in ("quick", "glassnet", "numpy", "python", "created",
                                                                  "total_seconds")},
              "chapters_run": [rec["number"] for rec in summary["chapters"] if rec["status"] == "ran"]}
    with open(os.path.join(out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=1)
    artefacts = os.path.join(out, "artefacts")
    os.makedirs(artefacts, exist_ok=True)
    for rec in summary["chapters"]:
        for i, fig in enumerate(rec.get("figures", []), start=1):
            if fig.get("png"):
                name = f"ch{rec['number']:02d}_{i}_{_slug(fig['title'])}.png"
                with open(os.path.join(artefacts, name), "wb") as f:
                    f.write(base64.b64decode(fig["png"]))
    return os.fspath(report(out))


def _slug(title: str) -> str:
    return "_".join("".join(c if c.isalnum() else " " for c in title.lower()).split())[:40]


def _without_figures(summary: dict[str, Any]) -> dict[str, Any]:
    chapters = [{k: v for k, v in rec.items() if k != "figures"} for rec in summary["chapters"]]
    return {**summary, "chapters": chapters}


def _jsonable(value: Any) -> Any:
    try:
        return value.item()
    except AttributeError:
        return str(value)


def line_plot_png(series: dict[str, list[float]], title: str, xlabel: str, ylabel: str) -> str | None:
    """A base64 PNG of one line per series if matplotlib is importable; None otherwise (plots are optional)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:  # noqa: BLE001 - any failure just means no figure
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, ys in series.items():
        ax.plot(range(1, len(ys) + 1), ys, label=name)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


_CSS = """body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #bbb;padding:.2em .6em;text-align:right}
th{background:#eee}p.text{white-space:pre-wrap}.coming{color:#888}code{background:#f4f4f4}"""


def render_html(summary: dict[str, Any]) -> str:
    """A self-contained HTML page (no external resources) with each chapter's text, results and tables."""
    e = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>glassnet tour</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>glassnet tour</h1>",
        f"<p>glassnet {e(summary['glassnet'])}, NumPy {e(summary['numpy'])}, Python {e(summary['python'])}; "
        f"{'quick run; ' if summary['quick'] else ''}total {summary['total_seconds']:.1f} s; "
        f"{e(summary['created'])}</p>",
        "<h2>Contents</h2><ol>",
    ]
    for rec in summary["chapters"]:
        extra = ""
        if rec["status"] != "ran":
            extra = f" <span class='coming'>(coming with issue {rec['coming_with']})</span>"
        parts.append(f"<li value='{rec['number']}'>{e(rec['title'])}{extra}</li>")
    parts.append("</ol>")
    for rec in summary["chapters"]:
        if rec["status"] != "ran":
            continue
        parts.append(f"<h2>Chapter {rec['number']}: {e(rec['title'])}</h2>")
        parts.append(f"<p class='text'>{e(rec['text'])}</p>")
        parts.append(f"<p>ran in {rec['seconds']:.2f} s</p>")
        if rec["results"]:
            parts.append("<table><tr><th>result</th><th>value</th></tr>")
            for k, v in rec["results"].items():
                parts.append(f"<tr><td style='text-align:left'>{e(k)}</td><td>{e(_fmt(v))}</td></tr>")
            parts.append("</table>")
        for table in rec["tables"]:
            parts.append(f"<h3>{e(table['title'])}</h3><table><tr>")
            parts.extend(f"<th>{e(str(c))}</th>" for c in table["columns"])
            parts.append("</tr>")
            for row in table["rows"]:
                parts.append("<tr>" + "".join(f"<td>{e(_fmt(v))}</td>" for v in row) + "</tr>")
            parts.append("</table>")
        for fig in rec.get("figures", []):
            if fig.get("png"):
                parts.append(f"<h3>{e(fig['title'])}</h3><img alt='{e(fig['title'])}' "
                             f"src='data:image/png;base64,{fig['png']}'>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def print_table(say: Callable[[str], None], columns: list[str], rows: list[list[Any]]) -> None:
    """Print rows under their column names, aligned."""
    cells = [[str(c) for c in columns]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    for j, r in enumerate(cells):
        say("  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if j == 0:
            say("  " + "  ".join("-" * w for w in widths))


__all__ = ["CHAPTERS", "Chapter", "TourError", "line_plot_png", "print_table", "render_html", "run_tour",
           "table_of_contents"]
