"""Backprop, step by step: `trace(loss)` replays the recorded graph and tells what backward does at every node.

Each step is one node of the graph, visited in the engine's order (newest node first): the op, its inputs (shapes,
values when small), the local derivative (the formula from the op's docstring), the upstream gradient dL/dy, the
gradient sent to each input and where it accumulates (a parent op or a named leaf). The gradients are the engine's own:
the one backward walk runs with a visitor that records each step, keeps the graph (retain_graph semantics) and writes
no `.grad`; hooks run as they would in `loss.backward()`. Renders as plain text, Markdown, LaTeX and self-contained
HTML (glassnet's templates, every value escaped).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any

import numpy

from glassnet.autograd import BackwardVisitor, Function, initial_gradients, match_gradient, run_backward
from glassnet.backend import is_array, to_host
from glassnet.lens.render import render_html
from glassnet.tensor import Tensor

__all__ = ["Step", "StepInput", "Trace", "explain", "trace"]

SMALL = 16  # arrays with at most this many elements are shown in full


def _fmt(a: Any) -> str:
    """A compact rendering of an array/number: all values when small, else shape and summary."""
    if a is None:
        return "—"
    arr = numpy.asarray(a)
    if arr.size <= SMALL:
        if arr.ndim == 0:
            return f"{arr.item():.6g}" if arr.dtype.kind in "fc" else str(arr.item())
        return numpy.array2string(arr, precision=6, separator=", ", suppress_small=False,
                                  formatter={"float_kind": lambda v: f"{v:.6g}"}).replace("\n", "")
    if arr.dtype.kind in "fc":
        return (f"<{arr.size} values, shape {tuple(arr.shape)}: mean {arr.mean():.4g}, "
                f"min {arr.min():.4g}, max {arr.max():.4g}>")
    return f"<{arr.size} values, shape {tuple(arr.shape)}>"


def _docline(node: Function) -> str:
    doc = inspect.getdoc(type(node)) or ""
    para = doc.split("\n\n")[0]
    return re.sub(r"\s*\n\s*", " ", para).strip()


def _split_formula(doc: str) -> tuple[str, str]:
    """(forward formula, derivative formula) from a docstring 'y = …;  dL/dx = …' (whole line if there is no ';')."""
    if ";" in doc:
        fwd, deriv = doc.split(";", 1)
        return fwd.strip(), deriv.strip()
    return doc, doc


@dataclass
class StepInput:
    """One input of a node: what it is, the gradient the node sends it and where that gradient goes."""

    position: int
    label: str  # leaf name, 'ParentOp (step k)' or 'constant'
    shape: tuple
    value: Any  # the input's array (numbers shown when small)
    grad: Any = None  # dL/d(input) sent by this node (None: the input needs no gradient)
    destination: str = ""  # where the gradient accumulates
    is_leaf: bool = False
    parent: Function | None = None


@dataclass
class Step:
    """One node of backward: op, local derivative, upstream gradient and the gradients it sends."""

    number: int  # 1 = the first node backward visits (the loss's own node)
    op: str
    node: Function
    forward_formula: str
    derivative: str
    output_shape: tuple
    output_value: Any
    upstream: Any  # dL/dy arriving at this node, summed over its consumers
    inputs: list[StepInput] = field(default_factory=list)


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _latex_escape(text: str) -> str:
    """Text made safe for LaTeX (its special characters escaped; Unicode left for LuaLaTeX/XeLaTeX)."""
    return "".join(_LATEX_SPECIAL.get(c, c) for c in str(text))


class Trace:
    """The step-by-step account of a backward pass; iterate over `steps`, render with `to_text/markdown/latex/html`."""

    def __init__(self, steps: list[Step], leaf_grads: list[tuple[str, Tensor, Any]], loss_value: Any):
        self.steps = steps
        self.leaf_grads = leaf_grads  # (name, leaf tensor, final gradient) in the order they were first reached
        self.loss_value = loss_value

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    def __getitem__(self, i: int) -> Step:
        return self.steps[i]

    def grad(self, leaf: Tensor) -> numpy.ndarray:
        """The final gradient dL/d(leaf) the trace computed (what `.grad` holds after `loss.backward()`)."""
        for _name, t, g in self.leaf_grads:
            if t is leaf:
                return g
        raise KeyError(f"trace: tensor of shape {tuple(leaf.shape)} is not a leaf reached by this backward pass")

    @property
    def grads(self) -> dict[str, numpy.ndarray]:
        """Leaf name → final gradient."""
        return {name: g for name, _t, g in self.leaf_grads}

    def source(self, step: int | Step) -> str:
        """The source code of the op at `step` (its number as shown, 1 = first visited; or a Step)."""
        if not isinstance(step, Step):
            if not 1 <= step <= len(self.steps):
                raise IndexError(f"trace.source: step {step} out of range; expected 1..{len(self.steps)}")
            step = self.steps[step - 1]
        return inspect.getsource(type(step.node))

    # ----- renders -----------------------------------------------------------------------------------------------
    def to_text(self) -> str:
        """Plain-text rendering (through rich when it is installed, for colour in a terminal)."""
        lines = [f"Backward pass of L = {_fmt(self.loss_value)}: {len(self.steps)} steps, newest node first",
                 "dL/dL = 1 starts the walk.", ""]
        for s in self.steps:
            lines.append(f"Step {s.number}: {s.op}   {s.forward_formula}")
            lines.append(f"  output {s.output_shape} = {_fmt(s.output_value)}")
            for inp in s.inputs:
                lines.append(f"  input {inp.position} [{inp.label}] {inp.shape} = {_fmt(inp.value)}")
            lines.append(f"  local derivative: {s.derivative}")
            lines.append(f"  upstream dL/dy = {_fmt(s.upstream)}")
            for inp in s.inputs:
                if inp.grad is None:
                    lines.append(f"  → input {inp.position} [{inp.label}]: no gradient needed")
                else:
                    lines.append(f"  → dL/d(input {inp.position}) = {_fmt(inp.grad)}"
                                 f"   accumulates into {inp.destination}")
            lines.append("")
        lines.append("Final gradients (what .grad holds after loss.backward()):")
        for name, _t, g in self.leaf_grads:
            lines.append(f"  dL/d{name} = {_fmt(g)}")
        text = "\n".join(lines)
        try:  # pragma: no cover - rich is optional
            import io

            from rich.console import Console

            buf = io.StringIO()
            Console(file=buf, force_terminal=False, width=120).print(text, highlight=True, markup=False)
            return buf.getvalue()
        except ImportError:
            return text

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"Trace({len(self.steps)} steps, {len(self.leaf_grads)} leaves)"

    def to_markdown(self) -> str:
        """Markdown rendering: one section per step, formulas as the op docstrings write them."""
        out = [f"# Backward pass of L = {_fmt(self.loss_value)}", "",
               f"{len(self.steps)} steps, newest node first; the walk starts from dL/dL = 1.", ""]
        for s in self.steps:
            out += [f"## Step {s.number}: `{s.op}`", "", f"Forward: {s.forward_formula}", "",
                    f"Local derivative: {s.derivative}", "",
                    f"Output {s.output_shape} = `{_fmt(s.output_value)}`; upstream dL/dy = `{_fmt(s.upstream)}`", "",
                    "| input | from | shape | value | gradient sent | accumulates into |",
                    "|---|---|---|---|---|---|"]
            for inp in s.inputs:
                out.append(f"| {inp.position} | {inp.label} | {inp.shape} | `{_fmt(inp.value)}` | "
                           f"`{_fmt(inp.grad)}` | {inp.destination or '—'} |")
            out.append("")
        out += ["## Final gradients", "", "| leaf | dL/dleaf |", "|---|---|"]
        out += [f"| {name} | `{_fmt(g)}` |" for name, _t, g in self.leaf_grads]
        return "\n".join(out) + "\n"

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def to_latex(self) -> str:
        """A LaTeX fragment (compile with LuaLaTeX or XeLaTeX, which read the formulas' Unicode): one
        `description` item per step with its formulas, and a table of what it sends to each input."""
        t = _latex_escape
        out = [f"\\section*{{Backward pass of $L = {t(_fmt(self.loss_value))}$}}",
               f"{len(self.steps)} steps, newest node first; the walk starts from $dL/dL = 1$.", "",
               "\\begin{description}"]
        for s in self.steps:
            out += [f"\\item[Step {s.number}: \\texttt{{{t(s.op)}}}] Forward: {t(s.forward_formula)}\\\\",
                    f"Local derivative: {t(s.derivative)}\\\\",
                    f"Output {t(str(s.output_shape))} $=$ \\texttt{{{t(_fmt(s.output_value))}}}; upstream "
                    f"$dL/dy$ $=$ \\texttt{{{t(_fmt(s.upstream))}}}",
                    "\\begin{tabular}{llllll}",
                    "input & from & shape & value & gradient sent & accumulates into \\\\ \\hline"]
            for inp in s.inputs:
                out.append(f"{inp.position} & {t(inp.label)} & {t(str(inp.shape))} & "
                           f"\\texttt{{{t(_fmt(inp.value))}}} & \\texttt{{{t(_fmt(inp.grad))}}} & "
                           f"{t(inp.destination or '-')} \\\\")
            out.append("\\end{tabular}")
        out += ["\\end{description}", "\\subsection*{Final gradients}", "\\begin{tabular}{ll}",
                "leaf & $dL/d\\,$leaf \\\\ \\hline"]
        out += [f"{t(name)} & \\texttt{{{t(_fmt(g))}}} \\\\" for name, _t, g in self.leaf_grads]
        out.append("\\end{tabular}")
        return "\n".join(out) + "\n"

    def _repr_latex_(self) -> str:
        return self.to_latex()

    def _html_context(self) -> dict[str, Any]:
        steps = [{"number": s.number, "op": s.op, "forward": s.forward_formula, "derivative": s.derivative,
                  "shape": str(s.output_shape), "output": _fmt(s.output_value), "upstream": _fmt(s.upstream),
                  "inputs": [{"position": i.position, "label": i.label, "shape": str(i.shape), "value": _fmt(i.value),
                              "grad": _fmt(i.grad), "destination": i.destination or "—"} for i in s.inputs]}
                 for s in self.steps]
        return {"steps": steps, "loss": _fmt(self.loss_value),
                "leaves": [(name, _fmt(g)) for name, _t, g in self.leaf_grads]}

    def to_html(self) -> str:
        """A self-contained HTML page (inline CSS, no external resources, no script), from glassnet's templates."""
        heading = f"Backward pass of L = {_fmt(self.loss_value)}"
        return render_html("trace.html", page_title="glassnet trace", heading=heading,
                           subheading=f"{len(self.steps)} steps, newest node first", nav=[],
                           footer="written by glassnet.lens.trace", **self._html_context())

    def _repr_html_(self) -> str:
        """The trace inside a notebook: the same template, with style scoped to it (the notebook's own is kept)."""
        return render_html("trace_notebook.html", **self._html_context())


def _copy(a: Any) -> Any:
    if isinstance(a, Tensor):
        a = a.data
    return to_host(a).copy() if is_array(a) else a  # kept on the host: a trace is for reading


class _TraceVisitor(BackwardVisitor):
    """Builds one Step per node the engine's walk visits; writes no `.grad` (the graph is kept)."""

    writes_grads = False

    def __init__(self, labels: dict):
        self.labels = labels
        self.unnamed = 0
        self.steps: list[Step] = []
        self.leaf_grads: list = []

    def node(self, node: Function, grad_output, grad_inputs: list) -> None:
        fwd, deriv = _split_formula(_docline(node))
        step = Step(len(self.steps) + 1, node.name, node, fwd, deriv, tuple(numpy.shape(node._out)),
                    _copy(node._out), _copy(grad_output))
        for pos, inp in enumerate(node.inputs):
            gx = grad_inputs[pos] if pos < len(grad_inputs) else None
            if not isinstance(inp, Tensor):
                step.inputs.append(StepInput(pos, "constant", tuple(numpy.shape(inp)), _copy(inp)))
                continue
            si = StepInput(pos, "", tuple(inp.shape), _copy(inp.data), is_leaf=inp.grad_fn is None,
                           parent=inp.grad_fn)
            if si.is_leaf:
                if id(inp) not in self.labels and inp._requires_grad:
                    self.unnamed += 1
                    self.labels[id(inp)] = f"leaf{self.unnamed}{tuple(inp.shape)}"
                si.label = self.labels.get(id(inp), "constant")
                si.destination = f"leaf {si.label}" if inp._requires_grad else ""
            if gx is not None and inp._requires_grad:
                si.grad = _copy(match_gradient(gx, inp, "trace"))
            step.inputs.append(si)
        self.steps.append(step)

    def leaf(self, tensor: Tensor, grad) -> None:
        self.leaf_grads.append((self.labels[id(tensor)], tensor, _copy(grad)))


def trace(loss: Tensor, names: dict | None = None, model: Any = None, gradient: Any = None) -> Trace:
    """Replay backward from `loss` step by step (without freeing the graph or writing `.grad`) and return a Trace.

    It is the engine's own walk (`autograd.run_backward`) watched by a visitor, so tensor hooks and leaf hooks
    run as in `loss.backward()`, and the final gradients are exactly what `.grad` would hold.
    `names` maps leaf tensors to labels (`{w1: 'w1'}`); with `model`, its parameters are labelled by their names.
    """
    if not isinstance(loss, Tensor):
        raise TypeError(f"trace: expected a glassnet Tensor produced by ops on tensors that require grad, "
                        f"got {type(loss).__name__}")
    if loss.grad_fn is None:
        raise ValueError(
            f"trace: this tensor (shape {tuple(loss.shape)}) has no graph (grad_fn is None); expected a loss "
            "computed from tensors with requires_grad=True outside no_grad()"
        )
    labels: dict[int, str] = {}
    if model is not None:
        labels.update({id(p): n for n, p in model.named_parameters()})
    if names:
        labels.update({id(t): str(n) for t, n in names.items()})
    if gradient is None and loss.data.size != 1:
        raise ValueError(f"trace: loss has shape {tuple(loss.shape)}; expected a scalar (or pass `gradient`)")
    seed = gradient if gradient is None or isinstance(gradient, Tensor) else numpy.asarray(gradient)
    visitor = _TraceVisitor(labels)
    try:
        run_backward([loss], initial_gradients([loss], None if seed is None else [seed], False, "trace"),
                     retain_graph=True, create_graph=False, visitor=visitor)
    except RuntimeError as e:
        if "already freed" in str(e):
            raise RuntimeError(
                f"trace: {e}; call trace() before loss.backward(), or pass retain_graph=True to backward()"
            ) from None
        raise
    step_of = {id(s.node): s.number for s in visitor.steps}
    for s in visitor.steps:  # parent step numbers are known only once the walk is over
        for si in s.inputs:
            if si.parent is not None:
                num = step_of.get(id(si.parent))
                si.label = f"{si.parent.name} (step {num})" if num else si.parent.name
                if si.grad is not None:
                    si.destination = f"{si.parent.name} output (step {num})"
    return Trace(visitor.steps, visitor.leaf_grads, _copy(loss.data))


explain = trace
