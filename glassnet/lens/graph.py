"""draw_graph: the computation graph behind a tensor, drawn with Graphviz, one box per op and one oval per leaf.

Each op node shows the op's name, its output shape and value statistics (the values themselves when there are at
most four); each leaf shows its name (from `names` or a model's parameter names), shape and values; after
backward, leaves (and tensors that called `retain_grad()`) also show their gradient statistics. The graph is read
through the same engine fields `gn.lens.trace` walks (`grad_fn`, `node.inputs`), so nothing is recomputed, and it
can be drawn before or after `backward()`: an op's output value is read from the tensor its consumer holds.
"""

from __future__ import annotations

import html
import os
import shutil
from typing import Any

import numpy

from glassnet.autograd import Function
from glassnet.backend import is_array, to_host
from glassnet.files import atomic_write
from glassnet.tensor import Tensor

__all__ = ["draw_graph"]

SHOWN_IN_FULL = 4  # arrays with at most this many elements show their values instead of statistics
_FORMATS = ("svg", "png")
_OP_STYLE = {"shape": "box", "style": "rounded,filled", "fillcolor": "#dbe9f6", "color": "#4a78a8"}
_PARAM_STYLE = {"shape": "box", "style": "filled", "fillcolor": "#dff0d8", "color": "#5a9a4a"}
_INPUT_STYLE = {"shape": "box", "style": "filled", "fillcolor": "#f2f2f2", "color": "#999999"}
_CONST_STYLE = {"shape": "plaintext", "fontcolor": "#777777"}


def _graphviz():
    from glassnet.extras import require

    require("graph", "glassnet.lens.draw_graph")
    import graphviz

    return graphviz


def _numbers(a: Any) -> str:
    """The values of a small array, or mean ± std and [min, max] of a larger one."""
    arr = to_host(a) if is_array(a) else numpy.asarray(a)  # (a device array: one explicit copy)
    if arr.dtype.kind not in "biuf":
        return f"{arr.dtype} values"
    if arr.size == 0:
        return "empty"
    if arr.size <= SHOWN_IN_FULL:
        values = ", ".join(f"{v:.4g}" for v in arr.astype(float).ravel())
        return values if arr.size == 1 else f"[{values}]"
    arr = arr.astype(numpy.float64)
    return f"mean {arr.mean():.3g}  std {arr.std():.3g}<br/>min {arr.min():.3g}  max {arr.max():.3g}"


def _label(title: str, shape: tuple, value: Any, grad: Any, show_values: bool) -> str:
    """A Graphviz HTML-like label: bold title, shape, values (and gradient) in smaller grey lines."""
    rows = [f"<b>{html.escape(title)}</b>", html.escape(str(tuple(shape))) if len(shape) else "scalar"]
    if show_values and value is not None:
        rows.append(f"<font point-size='9' color='#333333'>{_numbers(value)}</font>")
    if show_values and grad is not None:
        rows.append(f"<font point-size='9' color='#b03030'>grad {_numbers(grad)}</font>")
    return "<" + "<br/>".join(rows) + ">"


def _leaf_names(names: dict | None, model: Any) -> dict[int, str]:
    """id(tensor) -> label, from a model's named_parameters and a names dict ({tensor: name} or {name: tensor})."""
    labels: dict[int, str] = {}
    if model is not None:
        labels.update({id(p): n for n, p in model.named_parameters()})
    for key, value in (names or {}).items():
        tensor, name = (value, key) if isinstance(key, str) else (key, value)
        if not isinstance(tensor, Tensor):
            raise TypeError(f"draw_graph: names should map tensors to labels, got a {type(tensor).__name__}")
        labels[id(tensor)] = str(name)
    return labels


def _grad_array(t: Tensor) -> Any:
    g = t.grad
    return None if g is None else g.data


class _GraphBuilder:
    """Walks the graph from one tensor and adds a Graphviz node per op, leaf and constant."""

    def __init__(self, graph: Any, labels: dict[int, str], show_values: bool, max_nodes: int):
        self.graph, self.labels, self.show_values, self.max_nodes = graph, labels, show_values, max_nodes
        self.outputs: dict[int, Tensor] = {}  # id(op node) -> the tensor it produced (reached through a consumer)
        self.drawn: set[str] = set()
        self.unnamed = 0

    def _count(self) -> None:
        if len(self.drawn) > self.max_nodes:
            raise ValueError(f"draw_graph: the graph has more than max_nodes={self.max_nodes} nodes; draw a smaller "
                             "part (e.g. one layer's output) or raise max_nodes")

    def walk(self, root: Tensor) -> None:
        """Add every node reachable from `root` (ops first in the order found, then their inputs)."""
        self.outputs[id(root.grad_fn)] = root
        stack: list[Function] = [root.grad_fn]
        seen = {id(root.grad_fn)}
        while stack:
            node = stack.pop()
            self._add_op(node)
            for position, inp in enumerate(node.inputs):
                if inp is None:  # an optional argument left out
                    continue
                source = self._add_input(inp, node, position)
                if isinstance(inp, Tensor) and inp.grad_fn is not None:
                    self.outputs.setdefault(id(inp.grad_fn), inp)
                    if id(inp.grad_fn) not in seen:
                        seen.add(id(inp.grad_fn))
                        stack.append(inp.grad_fn)
                self.graph.edge(source, str(id(node)))
        # op labels need their output tensors, which are only all known once every consumer has been visited
        for node_id, tensor in self.outputs.items():
            self.graph.node(str(node_id), _label(tensor.grad_fn.name, tensor.shape, tensor.data,
                                                 _grad_array(tensor), self.show_values), **_OP_STYLE)

    def _add_op(self, node: Function) -> None:
        self.drawn.add(str(id(node)))
        self._count()

    def _add_input(self, inp: Any, consumer: Function, position: int) -> str:
        """Draw a leaf or constant input (ops are drawn by the walk) and return its node id."""
        if isinstance(inp, Tensor) and inp.grad_fn is not None:
            return str(id(inp.grad_fn))
        if not isinstance(inp, Tensor):  # a number or array passed to the op as a constant
            node_id = f"const{id(consumer)}_{position}"
            value = numpy.asarray(inp)
            text = _numbers(value) if self.show_values else f"constant {tuple(value.shape)}"
            self.graph.node(node_id, f"<{text}>", **_CONST_STYLE)
            return node_id
        node_id = str(id(inp))
        if node_id in self.drawn:
            return node_id
        self.drawn.add(node_id)
        self._count()
        name = self.labels.get(id(inp))
        if name is None and inp.requires_grad:
            self.unnamed += 1
            name = f"leaf {self.unnamed}"
        style = _PARAM_STYLE if inp.requires_grad else _INPUT_STYLE
        self.graph.node(node_id, _label(name or "input", inp.shape, inp.data, _grad_array(inp), self.show_values),
                        **style)
        return node_id


def _render(graph: Any, path: str | os.PathLike, fmt: str) -> None:
    """Render with `dot` into `path`, atomically (a temporary file renamed into place)."""
    graphviz = _graphviz()
    if shutil.which("dot") is None:
        raise RuntimeError("draw_graph needs the Graphviz program `dot` to write files: install the Debian/Ubuntu "
                           "package graphviz (apt-get install graphviz)")
    try:
        data = graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound as e:
        raise RuntimeError("draw_graph needs the Graphviz program `dot`: install the Debian/Ubuntu package graphviz "
                           "(apt-get install graphviz)") from e
    path = os.fspath(path)
    atomic_write(path, data)


def _format_for(path: str | os.PathLike | None, format: str | None) -> str:
    if format is None:
        suffix = os.path.splitext(os.fspath(path))[1].lower().lstrip(".") if path is not None else ""
        format = suffix if suffix in _FORMATS else "svg"
    if format not in _FORMATS:
        raise ValueError(f"draw_graph: format should be 'svg' or 'png', got {format!r}")
    return format


def draw_graph(
    tensor: Tensor,
    path: str | os.PathLike | None = None,
    format: str | None = None,
    names: dict | None = None,
    model: Any = None,
    show_values: bool = True,
    max_nodes: int = 2000,
) -> Any:
    """The computation graph that produced `tensor` as a `graphviz.Digraph`; written to `path` when given.

    `format` is "svg" or "png" (default: from the path's suffix, else SVG). Leaves are named from `names`
    ({tensor: "w1"}) and, with `model`, its parameter names. After `backward()`, leaves show gradient statistics.
    """
    from glassnet.capture import Schedule

    if isinstance(tensor, Schedule):  # a gn.compile schedule: its recorded ops and data flow
        fmt = _format_for(path, format)
        graph = tensor.to_graphviz(_graphviz(), fmt)
        if path is not None:
            _render(graph, path, fmt)
        return graph
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw_graph: expected a glassnet Tensor or a gn.compile schedule, got {type(tensor).__name__}")
    if tensor.grad_fn is None:
        raise ValueError(
            f"draw_graph: this tensor (shape {tuple(tensor.shape)}) has no graph (grad_fn is None): it is a leaf or "
            "was computed under no_grad(); expected the result of ops on tensors with requires_grad=True"
        )
    fmt = _format_for(path, format)
    graphviz = _graphviz()
    graph = graphviz.Digraph("glassnet", format=fmt,
                             graph_attr={"rankdir": "BT", "fontname": "Helvetica", "nodesep": "0.25",
                                         "ranksep": "0.35"},
                             node_attr={"fontname": "Helvetica", "fontsize": "11"},
                             edge_attr={"color": "#666666", "arrowsize": "0.7"})
    _GraphBuilder(graph, _leaf_names(names, model), show_values, max_nodes).walk(tensor)
    if path is not None:
        _render(graph, path, fmt)
    return graph
