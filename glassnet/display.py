"""Rich displays for Jupyter: the small HTML snippets behind `_repr_html_` of Tensor, History, summary, diagnose's
findings and a Recording, and the test for "are we in a notebook".

Every value that reaches HTML goes through `html.escape` (`_e`), names and numbers alike. Curves are drawn as inline
SVG by hand, so a History shows its curves with or without matplotlib. This module sits below every layer (it
imports nothing from glassnet), so the engine's Tensor can use it as well as the lens; the report's full-page HTML
is rendered elsewhere (glassnet.lens.report), these are snippets for one notebook cell.
"""

from __future__ import annotations

import html
import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy

__all__ = ["curves_svg", "history_html", "in_notebook", "number_text", "table_html", "tensor_html"]

_STYLE = "font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px"
_CELL = "padding:1px 6px;text-align:right;border:1px solid #ddd"
_LOWER_IS_BETTER = ("loss", "mse", "mae", "perplexity", "error")
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell), where stdout is not a terminal but someone watches."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # an IPython too old or half-imported: not a notebook we can talk to
        return False
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def number_text(value: Any) -> str:
    """A number as a table shows it: 4 significant digits, ints with thousands separators, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, (bool, numpy.bool_)):
        return str(bool(value))
    if isinstance(value, (int, numpy.integer)):
        return f"{int(value):,}"
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)


def table_html(header: Sequence[Any], rows: Sequence[Sequence[Any]], caption: str | None = None) -> str:
    """An HTML table; numbers right-aligned with `number_text`, everything escaped."""
    head = "".join(f"<th style='{_CELL};text-align:center'>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for v in row:
            if isinstance(v, (int, float, numpy.number)) and not isinstance(v, bool) or v is None:
                cells.append(f"<td style='{_CELL}'>{_e(number_text(v))}</td>")
            else:
                cells.append(f"<td style='{_CELL};text-align:left'>{_e(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption style='caption-side:top;text-align:left'>{_e(caption)}</caption>" if caption else ""
    return (
        f"<table style='border-collapse:collapse;{_STYLE}'>{cap}<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


# ----- Tensor ----------------------------------------------------------------------------------------------------
def _corner(a: numpy.ndarray, rows: int, cols: int) -> tuple[list[list[str]], bool, bool]:
    """The top-left corner of a 2-D array as text, and whether rows/columns were cut."""
    cut_rows, cut_cols = a.shape[0] > rows, a.shape[1] > cols
    cells = [[number_text(x) if a.dtype.kind != "b" else str(bool(x)) for x in r[:cols]] for r in a[:rows]]
    return cells, cut_rows, cut_cols


def tensor_html(
    data: numpy.ndarray, dtype: Any, grad_fn: str | None, requires_grad: bool, max_rows: int = 8, max_cols: int = 8
) -> str:
    """Shape, dtype, grad_fn, the value range and a small table of values (the first 2-D slice, cut to 8x8)."""
    shape = "(" + ", ".join(str(d) for d in data.shape) + ("," if data.ndim == 1 else "") + ")"
    facts = [f"shape {shape}", f"dtype {dtype}"]
    if grad_fn:
        facts.append(f"grad_fn {grad_fn}")
    elif requires_grad:
        facts.append("requires_grad")
    if data.size and data.dtype.kind in "fiu":
        with numpy.errstate(all="ignore"):
            facts.append(
                f"min {number_text(data.min())} · max {number_text(data.max())} · mean {number_text(data.mean())}"
            )
    title = f"<div><b>Tensor</b> {' · '.join(_e(f) for f in facts)}</div>"
    if data.size == 0:
        return f"<div style='{_STYLE}'>{title}<div>(no values)</div></div>"
    view, where = data, ""
    if view.ndim == 0:
        view = view.reshape(1, 1)
    elif view.ndim == 1:
        view = view.reshape(1, -1)
        max_cols = max(max_cols, 16)
    elif view.ndim > 2:
        lead = (0,) * (view.ndim - 2)
        where = f"showing [{', '.join(map(str, lead))}, :, :] of {view.ndim} dimensions"
        view = view[lead]
    cells, cut_rows, cut_cols = _corner(view, max_rows, max_cols)
    rows = []
    for r in cells:
        tds = "".join(f"<td style='{_CELL}'>{_e(x)}</td>" for x in r)
        rows.append(f"<tr>{tds}{'<td>…</td>' if cut_cols else ''}</tr>")
    if cut_rows:
        rows.append("<tr>" + "<td style='text-align:center'>⋮</td>" * len(cells[0]) + "</tr>")
    note = f"<div style='color:#777'>{_e(where)}</div>" if where else ""
    table = f"<table style='border-collapse:collapse'>{''.join(rows)}</table>"
    return f"<div style='{_STYLE}'>{title}{note}{table}</div>"


# ----- curves ------------------------------------------------------------------------------------------------------
def _finite_points(values: Sequence[Any]) -> list[tuple[int, float]]:
    points = []
    for i, v in enumerate(values):
        try:
            x = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(x):
            points.append((i, x))
    return points


def curves_svg(
    series: dict[str, Sequence[Any]], title: str = "", width: int = 340, height: int = 190, first_epoch: int = 1
) -> str:
    """One SVG panel with a line per series (x: epochs from `first_epoch`, integer ticks; y: its own range)."""
    drawn = {name: _finite_points(v) for name, v in series.items()}
    drawn = {name: p for name, p in drawn.items() if p}
    left, right, top, bottom = 52, 10, 22, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' style='{_STYLE};background:#fff'>",
        f"<text x='{left}' y='14' font-weight='bold'>{_e(title)}</text>",
    ]
    if not drawn:
        parts.append(f"<text x='{left}' y='{top + plot_h / 2}'>no numbers to draw</text></svg>")
        return "".join(parts)
    n = max(i for p in drawn.values() for i, _ in p) + 1
    lo = min(y for p in drawn.values() for _, y in p)
    hi = max(y for p in drawn.values() for _, y in p)
    if hi == lo:
        lo, hi = lo - 0.5 * (abs(lo) or 1), hi + 0.5 * (abs(hi) or 1)

    def px(i: float) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def py(y: float) -> float:
        return top + plot_h * (hi - y) / (hi - lo)

    parts.append(f"<rect x='{left}' y='{top}' width='{plot_w}' height='{plot_h}' fill='none' stroke='#bbb'/>")
    for y in (lo, hi):
        parts.append(f"<text x='{left - 4}' y='{py(y) + 4:.1f}' text-anchor='end'>{_e(number_text(y))}</text>")
    step = max(1, math.ceil(n / 8))
    for i in range(0, n, step):
        parts.append(f"<text x='{px(i):.1f}' y='{top + plot_h + 14}' text-anchor='middle'>{first_epoch + i}</text>")
    parts.append(f"<text x='{left + plot_w / 2}' y='{height - 4}' text-anchor='middle'>epoch</text>")
    for k, (name, points) in enumerate(drawn.items()):
        colour = _COLOURS[k % len(_COLOURS)]
        coords = " ".join(f"{px(i):.1f},{py(y):.1f}" for i, y in points)
        dash = " stroke-dasharray='5,3'" if name.startswith("val_") else ""
        if len(points) > 1:
            parts.append(f"<polyline points='{coords}' fill='none' stroke='{colour}' stroke-width='1.8'{dash}/>")
        for i, y in points if len(points) <= 30 else points[-1:]:
            parts.append(f"<circle cx='{px(i):.1f}' cy='{py(y):.1f}' r='2.2' fill='{colour}'/>")
        lx = left + 8 + (k % 2) * (plot_w // 2)
        ly = top + 14 + (k // 2) * 14
        parts.append(f"<text x='{lx}' y='{ly}' fill='{colour}'>{_e(name)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def history_html(epochs: Sequence[int], logs: dict[str, Sequence[Any]]) -> str:
    """A History: loss curves and metric curves (inline SVG), then the last epoch and the best of each quantity."""
    if not epochs:
        return f"<div style='{_STYLE}'><b>History</b>: no epochs yet (fit fills it, one entry per epoch)</div>"
    skip = ("time", "lr")
    numeric = {k: v for k, v in logs.items() if k not in skip and _finite_points(v)}
    losses = {k: v for k, v in numeric.items() if "loss" in k}
    others = {k: v for k, v in numeric.items() if "loss" not in k}
    first = int(epochs[0]) + 1
    panels = [
        curves_svg(group, title, first_epoch=first) for title, group in (("loss", losses), ("metrics", others)) if group
    ]
    rows = []
    for key, values in logs.items():
        points = _finite_points(values)
        if not points:
            continue
        if key in skip:
            rows.append((key, values[-1], None, None))
            continue
        lower_is_better = any(w in key for w in _LOWER_IS_BETTER)
        best_i, best = (min if lower_is_better else max)(points, key=lambda p: p[1])
        rows.append((key, values[-1], best, int(epochs[best_i]) + 1))
    table = table_html(("quantity", "last epoch", "best", "best at epoch"), rows)
    pictures = "".join(f"<div style='display:inline-block;margin-right:8px'>{p}</div>" for p in panels)
    return (
        f"<div style='{_STYLE}'><div><b>History</b>: {len(epochs)} epoch{'s' if len(epochs) != 1 else ''}"
        f"</div>{pictures}{table}</div>"
    )
