"""A gradient-check view: backprop's gradient of each parameter beside central differences, so one can see it is right.

Both are computed on a float64 copy of the model (the original is left untouched): the analytic gradient by one
backward pass, the numeric one by nudging every parameter element by ±eps and differencing the loss.
"""

from __future__ import annotations

import copy
import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy

from glassnet.autograd import grad as autograd_grad
from glassnet.autograd import no_grad
from glassnet.tensor import Tensor

__all__ = ["GradcheckReport", "GradcheckRow", "gradcheck_view"]


@dataclass
class GradcheckRow:
    """One parameter: analytic vs numeric gradient norms, the worst relative error, pass/fail."""

    name: str
    shape: tuple
    analytic_norm: float
    numeric_norm: float
    max_rel_error: float
    max_abs_error: float
    checked: int  # how many elements were differenced
    passed: bool


class GradcheckReport:
    """The per-parameter table; `passed` is True when every row passes. Renders as text, Markdown and HTML."""

    def __init__(self, rows: list[GradcheckRow], tol: float, eps: float):
        self.rows, self.tol, self.eps = rows, tol, eps

    @property
    def passed(self) -> bool:
        """Whether every parameter's gradient matches its numeric estimate."""
        return all(r.passed for r in self.rows)

    def _table(self) -> tuple[list[str], list[list[str]]]:
        head = ["parameter", "shape", "‖analytic‖", "‖numeric‖", "max rel. error", "checked", "result"]
        body = [[r.name, str(r.shape), f"{r.analytic_norm:.6g}", f"{r.numeric_norm:.6g}", f"{r.max_rel_error:.2e}",
                 str(r.checked), "pass" if r.passed else "FAIL"] for r in self.rows]
        return head, body

    def to_text(self) -> str:
        """A fixed-width table."""
        head, body = self._table()
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        line = lambda row: "  ".join(c.ljust(w) for c, w in zip(row, widths))  # noqa: E731
        out = [line(head), "  ".join("-" * w for w in widths), *[line(r) for r in body]]
        out.append(f"{'all pass' if self.passed else 'SOME FAIL'} (central differences, eps={self.eps:g}, "
                   f"relative tolerance {self.tol:g})")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_text()

    def to_markdown(self) -> str:
        """A Markdown table."""
        head, body = self._table()
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(out) + "\n"

    def to_html(self) -> str:
        """A self-contained HTML table."""
        head, body = self._table()
        e = html.escape
        rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in body)
        return ("<table class='gradcheck'><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>" + rows
                + "</table>")

    def _repr_html_(self) -> str:
        return self.to_html()


def _as64(value: Any) -> Any:
    if isinstance(value, Tensor):
        return Tensor(value.data.astype(numpy.float64)) if value.data.dtype.kind == "f" else value
    arr = numpy.asarray(value)
    return Tensor(arr.astype(numpy.float64) if arr.dtype.kind == "f" else arr)


def gradcheck_view(model: Any, loss_fn: Callable, inputs: Any, targets: Any, eps: float = 1e-6,
                   tol: float = 1e-4, max_elements: int | None = None, seed: int = 0) -> GradcheckReport:
    """Compare backprop with central differences for every parameter of `model` on a float64 copy.

    `loss_fn(model(inputs), targets)` must give a scalar. `max_elements` differences only a random sample of each
    parameter's elements (for larger models). An element passes when |a − n| / max(|a|, |n|) ≤ tol or
    |a − n| ≤ 1e-9.
    """
    m = copy.deepcopy(model).double()
    if hasattr(m, "eval"):
        m.eval()  # dropout off: the loss must be a deterministic function of the weights
    x, y = _as64(inputs), _as64(targets)
    named = [(n, p) for n, p in m.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("gradcheck_view: the model has no parameters that require grad; expected at least one")

    def loss_value() -> float:
        with no_grad():
            return float(loss_fn(m(x), y).data)

    loss = loss_fn(m(x), y)
    if loss.data.size != 1:
        raise ValueError(f"gradcheck_view: loss_fn gave shape {tuple(loss.shape)}; expected a scalar loss")
    analytic = autograd_grad(loss, [p for _, p in named], allow_unused=True)
    rng = numpy.random.default_rng(seed)
    rows = []
    for (name, p), ga in zip(named, analytic):
        a = numpy.zeros(p.shape) if ga is None else ga.detach().cpu().numpy()  # compared on the host
        data = p.data
        idx = numpy.arange(data.size)
        if max_elements is not None and data.size > max_elements:
            idx = numpy.sort(rng.choice(data.size, max_elements, replace=False))
        num = numpy.zeros(len(idx))
        for k, i in enumerate(idx):
            at = numpy.unravel_index(i, data.shape)
            old = data[at]
            data[at] = old + eps
            up = loss_value()
            data[at] = old - eps
            down = loss_value()
            data[at] = old
            num[k] = (up - down) / (2 * eps)
        an = a.reshape(-1)[idx]
        diff = numpy.abs(an - num)
        denom = numpy.maximum(numpy.maximum(numpy.abs(an), numpy.abs(num)), 1e-300)
        rel = numpy.where(diff == 0, 0.0, diff / denom)
        ok = bool(numpy.all((rel <= tol) | (diff <= 1e-9)))
        rows.append(GradcheckRow(name, tuple(p.shape), float(numpy.linalg.norm(an)), float(numpy.linalg.norm(num)),
                                 float(rel.max()) if rel.size else 0.0, float(diff.max()) if diff.size else 0.0,
                                 len(idx), ok))
    return GradcheckReport(rows, tol, eps)
