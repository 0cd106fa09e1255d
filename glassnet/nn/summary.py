"""summary(model, input_shape): a Keras-style table of layers, output shapes and parameter counts.

It runs one forward pass on zeros (in eval mode, without recording a graph) with forward (pre-)hooks on every submodule
to see each layer's output shape, then restores the model's training flags. Example for an MLP on MNIST:

    Model: "Sequential"
    ───────────────────────────────────────────────────
     Layer (type)   Output Shape   Param #   Trainable
    ═══════════════════════════════════════════════════
     0 (Flatten)    (None, 784)          0   --
     1 (Linear)     (None, 256)    200,960   yes
     2 (ReLU)       (None, 256)          0   --
     3 (Linear)     (None, 10)       2,570   yes
    ═══════════════════════════════════════════════════
    Total params: 203,530
    ...
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy

from glassnet import backend
from glassnet.autograd import no_grad
from glassnet.nn.module import Module
from glassnet.tensor import Tensor

__all__ = ["Summary", "summary"]


class Summary(str):
    """The text of `summary(...)` (a str: print it, write it, search it) that also knows its rows and totals.

    Jupyter shows it as an HTML table; the Python prompt shows a one-line repr, since `summary` has printed it.
    """

    rows: list[tuple[str, str, str, str]]
    model_name: str
    totals: dict[str, int]

    def __repr__(self) -> str:
        return f"<Summary of {self.model_name}: {self.totals['total']:,} parameters>"

    def _repr_html_(self) -> str:
        from glassnet.display import table_html

        caption = (f"{self.model_name}: {self.totals['total']:,} parameters "
                   f"({self.totals['trainable']:,} trainable), {self.totals['buffers']:,} buffer values")
        indented = [(name.replace("  ", "\u00a0\u00a0"), *rest) for name, *rest in self.rows]  # HTML collapses spaces
        return table_html(("Layer (type)", "Output Shape", "Param #", "Trainable"), indented, caption)


def _shape_text(output, batch_size: int) -> str:
    """Output shape(s) with the batch dimension written as None, as Keras does."""
    if isinstance(output, Tensor):
        dims = list(output.shape)
        if dims and dims[0] == batch_size:
            dims[0] = None
        return "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"
    if isinstance(output, (tuple, list)):
        return "[" + ", ".join(_shape_text(o, batch_size) for o in output) + "]"
    if isinstance(output, dict):
        return "{" + ", ".join(f"{k}: {_shape_text(v, batch_size)}" for k, v in output.items()) + "}"
    return type(output).__name__


def _trainable_text(params: list) -> str:
    if not params:
        return "--"
    trainable = sum(p.requires_grad for p in params)
    return "yes" if trainable == len(params) else "no (frozen)" if trainable == 0 else "partly"


def _count(params: list) -> int:
    return int(sum(p.numel() for p in params))


def summary(
    model: Module, input_shape: Sequence[int] | Sequence[Sequence[int]], batch_size: int = 1, dtype=None,
    depth: int | None = None, verbose: int | None = None,
) -> Summary:
    """A table of every layer the forward pass visits: name (type), output shape, parameter count, trainable.

    input_shape leaves out the batch dimension, like Keras: summary(mlp, (784,)), summary(cnn, (1, 28, 28));
    give a list of shapes for a model with several inputs. Leaf layers count all their parameters; a
    container's row counts only the parameters it holds directly, so the column adds up to the total.
    depth limits how deeply nested layers are listed (None: all). The totals cover the whole model.

    The table is printed (verbose=1) and returned as a `Summary` (a str). verbose=None, the default, prints except
    in Jupyter, where the returned Summary displays itself as an HTML table (so it does not show twice); 0: silent.
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected a Module, got {type(model).__name__}")
    shapes = [input_shape] if all(isinstance(s, (int, numpy.integer)) for s in input_shape) else list(input_shape)
    dtype = backend.to_dtype(dtype)
    if dtype is None:
        dtype = next((p.dtype for p in model.parameters() if p.dtype.kind == "f"), backend.get_default_dtype())
    inputs = [Tensor(numpy.zeros((batch_size, *shape), dtype=dtype)) for shape in shapes]

    names = {id(m): name for name, m in model.named_modules() if name}
    order: list = []  # modules in the order their forward starts, so a container comes before its children
    outputs: dict = {}

    def enter(module, args):
        if id(module) not in outputs:  # a layer used twice is listed once (its first call)
            outputs[id(module)] = None
            order.append(module)

    def leave(module, args, output):
        if outputs.get(id(module)) is None:
            outputs[id(module)] = output

    handles = []
    for name, m in model.named_modules():
        if name:
            handles += [m.register_forward_pre_hook(enter), m.register_forward_hook(leave)]
    modes = {id(m): m.training for m in model.modules()}
    try:
        model.eval()
        with no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for m in model.modules():
            object.__setattr__(m, "training", modes[id(m)])

    table = []
    for module in order:
        output = outputs[id(module)]
        name = names[id(module)]
        level = name.count(".")
        if depth is not None and level >= depth:
            continue
        is_leaf = next(module.children(), None) is None or (depth is not None and level == depth - 1)
        params = list(module.parameters(recurse=is_leaf))
        count = f"{_count(params):,}" if params or is_leaf else "--"
        table.append(("  " * level + f"{name} ({type(module).__name__})", _shape_text(output, batch_size), count,
                      _trainable_text(params)))

    header = ("Layer (type)", "Output Shape", "Param #", "Trainable")
    widths = [max(len(header[i]), *(len(r[i]) for r in table)) + 3 if table else len(header[i]) + 3 for i in range(4)]

    def line(cells) -> str:
        return (" " + cells[0].ljust(widths[0]) + cells[1].ljust(widths[1]) + cells[2].rjust(widths[2] - 3)
                + "   " + cells[3]).rstrip()

    all_params = list(model.parameters())
    total = _count(all_params)
    trainable = _count([p for p in all_params if p.requires_grad])
    buffers = [b for b in model.buffers()]
    size_mb = (sum(p.data.nbytes for p in all_params) + sum(b.data.nbytes for b in buffers)) / 2**20
    body = [line(r) for r in table]
    total_width = max(len(x) for x in [line(header), *body]) + 1
    out = [f'Model: "{type(model).__name__}"', "─" * total_width, line(header), "═" * total_width]
    out += body
    out += [
        "═" * total_width,
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
        f"Buffers: {_count(buffers):,} values",
        f"Parameters and buffers size: {size_mb:.2f} MB",
        "─" * total_width,
    ]
    result = Summary("\n".join(out))
    result.rows = table
    result.model_name = type(model).__name__
    result.totals = {"total": total, "trainable": trainable, "buffers": _count(buffers)}
    if verbose is None:
        from glassnet.display import in_notebook

        verbose = 0 if in_notebook() else 1
    if verbose:
        print(result)
    return result
