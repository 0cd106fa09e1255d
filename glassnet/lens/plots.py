"""Pictures of what a network does, drawn with matplotlib's Agg backend (no display needed).

Every function returns a `matplotlib.figure.Figure` built without pyplot, so nothing global is touched and nothing
needs closing; the ones that draw a single panel accept `ax=` to draw into an existing Axes instead. Save with
`save_figure(fig, "curves.png")` (PNG or SVG, atomic) or embed with `figure_to_png_bytes(fig)`.

    fig = plot_history(trainer)                      # loss curves, early stop and restored best epoch marked
    fig = plot_decision_boundary(model, x, y)        # a 2-D classifier's regions with its data
    fig = plot_optimizer_paths()                     # SGD vs momentum vs Adam on the Rosenbrock valley
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy

from glassnet.autograd import no_grad
from glassnet.backend import Device
from glassnet.creation import tensor
from glassnet.files import atomic_write
from glassnet.tensor import Tensor

__all__ = [
    "figure_to_png_bytes",
    "optimizer_paths",
    "plot_bars",
    "plot_curves",
    "plot_layer_outputs",
    "plot_attention",
    "plot_attribution",
    "plot_confusion_matrix",
    "plot_decision_boundary",
    "plot_feature_maps",
    "plot_filters",
    "plot_gradient_flow",
    "plot_histograms",
    "plot_history",
    "plot_neuron_activations",
    "plot_optimizer_paths",
    "plot_sample_grid",
    "plot_sample_grids_over_epochs",
    "rosenbrock",
    "save_figure",
]

# Class colours for 2-D problems (matplotlib's tab10): regions use them pale, points use them full.
_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
            "#17becf"]


# ----- matplotlib, figures and files -----------------------------------------------------------------------------
def _figure(width: float, height: float, **kw: Any):
    """A new Figure that belongs to no pyplot state (so it needs no closing) and shows itself inline in Jupyter."""
    from glassnet.extras import require

    require("plots", "glassnet.lens.plots")
    from glassnet.lens._figure import GlassnetFigure

    return GlassnetFigure(figsize=(width, height), layout="constrained", **kw)


def _own_axes(ax: Any, width: float, height: float):
    """`ax` and its figure when given, else a new one-panel figure."""
    if ax is not None:
        return ax.figure, ax
    fig = _figure(width, height)
    return fig, fig.add_subplot()


def _canvas(fig: Any):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    return fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)


def figure_to_png_bytes(fig: Any, dpi: int = 90) -> bytes:
    """The figure as PNG bytes (rendered by Agg), e.g. to embed in HTML as base64."""
    buf = io.BytesIO()
    _canvas(fig)
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 90) -> str:
    """Write the figure as PNG or SVG (chosen by the suffix), atomically; returns the path."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"save_figure: {path!r} should end in .png or .svg")
    _canvas(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=suffix[1:], dpi=dpi)
    atomic_write(path, buffer.getvalue())
    return path


# ----- small helpers -----------------------------------------------------------------------------------------------
def _array(x: Any, who: str, what: str) -> numpy.ndarray:
    """A float/int NumPy copy of a Tensor, array or nested list."""
    if isinstance(x, (Tensor,)) or (hasattr(x, "detach") and hasattr(x, "cpu")):  # a picture is drawn on the host
        return x.detach().cpu().numpy()
        return x.detach().cpu().numpy()
    try:
        return numpy.asarray(x)
    except Exception as e:  # noqa: BLE001
        raise TypeError(f"{who}: {what} should be an array or Tensor, got {type(x).__name__}") from e


def _run(model: Any, x: numpy.ndarray) -> numpy.ndarray:
    """The model's output on `x` in eval mode without a graph (its training flag is restored after)."""
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with no_grad():
            out = model(tensor(x.astype(numpy.float32), device=_device_of(model)))
    finally:
        if was_training and hasattr(model, "train"):
            model.train()
    if isinstance(out, tuple):
        out = out[0]
    return _array(out, "model", "the output")


def _device_of(model: Any) -> Any:
    """Where the model's parameters live (None, the default device, for a model without any)."""
    parameters = model.parameters() if hasattr(model, "parameters") else ()
    return next((p.device for p in parameters), None)


def _grid_2d(x_range: Any, resolution: int, who: str) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """(xs, ys, points (resolution², 2)) over `x_range` = (lo, hi) or ((x_lo, x_hi), (y_lo, y_hi))."""
    r = numpy.asarray(x_range, dtype=float)
    if r.shape == (2,):
        r = numpy.stack([r, r])
    if r.shape != (2, 2) or not numpy.all(r[:, 0] < r[:, 1]):
        raise ValueError(f"{who}: x_range should be (lo, hi) or ((x_lo, x_hi), (y_lo, y_hi)) with lo < hi, "
                         f"got {x_range!r}")
    xs = numpy.linspace(r[0, 0], r[0, 1], resolution)
    ys = numpy.linspace(r[1, 0], r[1, 1], resolution)
    gx, gy = numpy.meshgrid(xs, ys)
    return xs, ys, numpy.stack([gx.ravel(), gy.ravel()], axis=1)


def _panel_grid(fig: Any, n: int, ncols: int) -> list:
    """n Axes in rows of `ncols`, ticks off (for image panels)."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for a in axes:
        a.set_xticks([])
        a.set_yticks([])
    for a in axes[n:]:
        a.set_visible(False)
    return list(axes[:n])


def _find_module(model: Any, layer: Any, who: str) -> tuple[str, Any]:
    """(name, module) for a layer given by name or as a module of `model`."""
    named = list(model.named_modules())
    for name, module in named:
        if (isinstance(layer, str) and name == layer) or module is layer:
            return name or type(module).__name__, module
    names = ", ".join(repr(n) for n, _ in named if n)
    raise ValueError(f"{who}: layer {layer!r} is not a module of {type(model).__name__} (its modules: {names})")


def _to_hwc(image: numpy.ndarray, who: str) -> numpy.ndarray:
    """An image as (H, W) or (H, W, 3), accepting (H, W), (H, W, 1|3), (1|3, H, W) and a leading batch of 1."""
    a = numpy.asarray(image, dtype=float)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = numpy.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2 or (a.ndim == 3 and a.shape[-1] == 3):
        return a
    raise ValueError(f"{who}: image should have shape (H, W), (H, W, 3) or (C, H, W) with C 1 or 3, "
                     f"got {tuple(numpy.shape(image))}")


def _plain(text: Any) -> str:
    """Text shown as written: a `$` (in a metric name, a token, a file name) would start matplotlib mathtext."""
    return str(text).replace("$", r"\$")


def _integer_ticks(axis: Any) -> None:
    """Ticks on whole numbers only (epochs, steps): never 1.0, 1.2, 1.4 ..."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _curve_label(key: str) -> str:
    """The legend entry of a logged key: "train" only for what training logs; a test_ or other key says itself."""
    if key.startswith("val_"):
        return "validation"
    if key.startswith("test_"):
        return "test"
    if key == "lr" or key.endswith("_lr"):
        return "learning rate"
    return "train"


def _unit_range(a: numpy.ndarray) -> numpy.ndarray:
    """Scale to [0, 1] for display (a constant image becomes mid-grey)."""
    lo, hi = float(numpy.nanmin(a)), float(numpy.nanmax(a))
    return (a - lo) / (hi - lo) if hi > lo else numpy.full_like(a, 0.5)


# ----- training curves ---------------------------------------------------------------------------------------------
def _history_logs(history: Any) -> tuple[list[int], dict[str, list], Any]:
    """(0-based epochs, {key: values}, the early-stopping callback if one can be found) from any history form."""
    stopper = None
    callbacks = getattr(history, "callbacks", None)
    if callbacks is not None and hasattr(history, "history"):  # a Trainer
        stopper = next((c for c in getattr(callbacks, "callbacks", callbacks) if hasattr(c, "stopped_epoch")), None)
        history = history.history
    if hasattr(history, "history") and hasattr(history, "epoch"):  # a History
        logs, epochs = dict(history.history), list(history.epoch)
    elif isinstance(history, Mapping) and isinstance(history.get("history"), Mapping):  # History.to_dict()
        logs, epochs = dict(history["history"]), list(history.get("epoch", []))
    elif isinstance(history, Mapping):  # {"loss": [...], "val_loss": [...]}
        logs, epochs = dict(history), []
    else:
        raise TypeError(f"plot_history: expected a History, a Trainer or a dict of lists, got {type(history).__name__}")
    logs = {k: list(v) for k, v in logs.items() if isinstance(v, (list, tuple))}
    n = max((len(v) for v in logs.values()), default=0)
    if n == 0:
        raise ValueError("plot_history: the history is empty (no epochs recorded)")
    return (epochs if len(epochs) == n else list(range(n))), logs, stopper


def _numbers(values: list) -> numpy.ndarray:
    return numpy.array([v if isinstance(v, (int, float)) else numpy.nan for v in values], dtype=float)


def plot_history(
    history: Any,
    metrics: Sequence[str] = ("loss",),
    best_epoch: int | None = None,
    stopped_epoch: int | None = None,
    early_stopping: Any = None,
) -> Any:
    """Train and validation curves per metric, with the early-stopping point and the restored best epoch marked.

    `history` is a `History`, a `Trainer` (its EarlyStopping callback, if any, supplies the marks), a
    `History.to_dict()` or a plain `{"loss": [...], "val_loss": [...]}`. Epochs are 0-based as in History and
    EarlyStopping; the x axis shows them counted from 1. The best-epoch marker's gid is "best_epoch", the
    stop line's "stopped_epoch".
    """
    epochs, logs, stopper = _history_logs(history)
    stopper = early_stopping if early_stopping is not None else stopper
    if stopper is not None:
        best_epoch = stopper.best_epoch if best_epoch is None else best_epoch
        stopped_epoch = stopper.stopped_epoch if stopped_epoch is None else stopped_epoch
    if best_epoch is None and isinstance(getattr(history, "best_epoch", None), int):  # a History that records it
        best_epoch = history.best_epoch
    if stopped_epoch is None and isinstance(getattr(history, "stopped_epoch", None), int):
        stopped_epoch = history.stopped_epoch
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    missing = [m for m in metrics if m not in logs and f"val_{m}" not in logs]
    if not metrics or missing:
        raise ValueError(f"plot_history: no values for {missing or metrics} (the history has {sorted(logs)})")
    restored = bool(getattr(stopper, "restore_best_weights", False))
    fig = _figure(4.2 * len(metrics), 3.2)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    x = numpy.array(epochs) + 1
    for ax, metric in zip(axes, metrics):
        val_key = f"val_{metric}"
        for key, style in ((metric, "-"), (val_key, "--")):
            if key in logs:
                ax.plot(x, _numbers(logs[key]), style, marker="." if len(x) <= 30 else None,
                        label=_curve_label(key))
        if best_epoch is not None and best_epoch in epochs:
            key = val_key if val_key in logs else metric
            i = epochs.index(best_epoch)
            label = f"{'restored ' if restored else ''}best epoch {best_epoch + 1}"
            ax.plot([x[i]], [_numbers(logs[key])[i]], "*", color="crimson", markersize=15, zorder=5, label=label,
                    gid="best_epoch")
        if stopped_epoch is not None:
            ax.axvline(stopped_epoch + 1, color="grey", linestyle=":", label=f"early stop (epoch {stopped_epoch + 1})",
                       gid="stopped_epoch")
        ax.set_xlabel("epoch")
        _integer_ticks(ax.xaxis)
        ax.set_ylabel(_plain(metric))
        ax.set_title(_plain(metric))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


# ----- 2-D classifiers ---------------------------------------------------------------------------------------------
def _classes(out: numpy.ndarray) -> numpy.ndarray:
    """Predicted class per row: argmax of logits, or a threshold for one output (0.5 if it looks like a probability)."""
    if out.ndim == 2 and out.shape[1] > 1:
        return out.argmax(1)
    out = out.reshape(len(out))
    threshold = 0.5 if out.min() >= 0 and out.max() <= 1 else 0.0
    return (out > threshold).astype(int)


def plot_decision_boundary(model: Any, x: Any, y: Any, resolution: int = 200, ax: Any = None) -> Any:
    """The regions a 2-D classifier assigns to each class (pale) with the data points (class colour) on top."""
    from matplotlib.colors import ListedColormap

    xa, ya = _array(x, "plot_decision_boundary", "x"), _array(y, "plot_decision_boundary", "y").reshape(-1)
    if xa.ndim != 2 or xa.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: x should have shape (N, 2), got {tuple(xa.shape)}")
    if len(ya) != len(xa):
        raise ValueError(f"plot_decision_boundary: y has {len(ya)} labels for {len(xa)} points")
    if resolution < 2:
        raise ValueError(f"plot_decision_boundary: resolution must be ≥ 2, got {resolution}")
    margin = 0.1 * (xa.max(0) - xa.min(0)) + 1e-6
    lo, hi = xa.min(0) - margin, xa.max(0) + margin
    xs, ys, points = _grid_2d(((lo[0], hi[0]), (lo[1], hi[1])), resolution, "plot_decision_boundary")
    region = _classes(_run(model, points)).reshape(resolution, resolution)
    labels = ya.astype(int)
    n_classes = int(max(region.max(), labels.max())) + 1
    colours = [_PALETTE[i % len(_PALETTE)] for i in range(n_classes)]
    fig, ax = _own_axes(ax, 4.5, 4.0)
    ax.imshow(region, origin="lower", extent=(xs[0], xs[-1], ys[0], ys[-1]), aspect="auto", alpha=0.3,
              cmap=ListedColormap(colours), vmin=-0.5, vmax=n_classes - 0.5, interpolation="nearest")
    ax.contour(xs, ys, region, levels=numpy.arange(n_classes) + 0.5, colors="k", linewidths=0.8)
    for c in range(n_classes):
        mask = labels == c
        if mask.any():
            ax.scatter(xa[mask, 0], xa[mask, 1], s=14, color=colours[c], edgecolors="k", linewidths=0.4,
                       label=f"class {c}")
    accuracy = float(numpy.mean(_classes(_run(model, xa)) == labels))
    ax.set_title(f"decision regions (accuracy on these points {accuracy:.1%})", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    return fig


def _activation_layers(model: Any) -> list[tuple[str, Any]]:
    """The modules whose outputs are "the neurons": activation modules, else every Linear but the last."""
    leaves = [(n, m) for n, m in model.named_modules() if next(iter(m.children()), None) is None]
    acts = [(n, m) for n, m in leaves if type(m).__module__ == "glassnet.nn.activation"
            and type(m).__name__ not in ("Softmax", "LogSoftmax")]
    if acts:
        return acts
    return [(n, m) for n, m in leaves if type(m).__name__ == "Linear"][:-1]


def plot_neuron_activations(model: Any, x_range: Any, layer: Any = None, resolution: int = 60,
                            max_neurons: int = 16) -> Any:
    """Each hidden neuron's output over the 2-D input plane, one small panel per neuron (TensorFlow Playground).

    `x_range` is (lo, hi) for both inputs or ((x_lo, x_hi), (y_lo, y_hi)); `layer` picks one layer (a name or a
    module) or a list of them, default every activation layer. Outputs are captured with forward hooks.
    """
    if layer is None:
        layers = _activation_layers(model)
    else:
        layers = [_find_module(model, item, "plot_neuron_activations")
                  for item in (layer if isinstance(layer, (list, tuple)) else [layer])]
    if not layers:
        raise ValueError(f"plot_neuron_activations: found no hidden layers in {type(model).__name__}")
    xs, ys, points = _grid_2d(x_range, resolution, "plot_neuron_activations")
    captured: dict[str, numpy.ndarray] = {}

    def keeper(name: str) -> Callable:
        def hook(module: Any, args: Any, out: Any) -> None:  # returns None: the output is left as it is
            captured.setdefault(name, _array(out, "model", "an output"))
        return hook

    handles = [module.register_forward_hook(keeper(name)) for name, module in layers]
    try:
        _run(model, points)
    finally:
        for h in handles:
            h.remove()
    rows = []
    for name, module in layers:
        out = captured.get(name)
        if out is None or out.ndim != 2 or out.shape[0] != len(points):
            shape = None if out is None else tuple(out.shape)
            raise ValueError(f"plot_neuron_activations: layer {name!r} gave output {shape}; expected "
                             f"(points, neurons) for a model with 2 inputs")
        rows.append((name, type(module).__name__, out[:, :max_neurons]))
    ncols = max(r[2].shape[1] for r in rows)
    fig = _figure(1.15 * ncols + 0.6, 1.2 * len(rows) + 0.5)
    axes = fig.subplots(len(rows), ncols, squeeze=False)
    extent = (xs[0], xs[-1], ys[0], ys[-1])
    for r, (name, kind, out) in enumerate(rows):
        for j in range(ncols):
            ax = axes[r, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= out.shape[1]:
                ax.set_visible(False)
                continue
            values = out[:, j].reshape(resolution, resolution)
            bound = float(numpy.abs(values).max()) or 1.0
            ax.imshow(values, origin="lower", extent=extent, cmap="PuOr_r", vmin=-bound, vmax=bound)
            if j == 0:
                ax.set_ylabel(f"{name}\n({kind})", fontsize=8)
            ax.set_title(f"n{j}", fontsize=7, pad=2)
    fig.suptitle("each hidden neuron's output over the input plane (orange > 0 > purple)", fontsize=10)
    return fig


# ----- what the Recorder saw ---------------------------------------------------------------------------------------
_HISTOGRAM_KEYS = {"weights": ("params", "weight_histogram"), "gradients": ("params", "grad_histogram"),
                   "activations": ("activations", "histogram")}


def plot_histograms(recording: Any, kind: str = "weights", names: Sequence[str] | None = None,
                    max_curves: int = 10, max_panels: int = 12, log: bool | None = None) -> Any:
    """Distributions of weights, activations or gradients over training: one panel per parameter or layer, one
    curve per recorded step coloured from early (dark) to late (yellow). Needs `Recorder(histograms=True)`.

    The y axis (density) is logarithmic when `log` is True, by default for gradients, whose mass piles up at zero.
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    if kind not in _HISTOGRAM_KEYS:
        raise ValueError(f"plot_histograms: kind should be one of {sorted(_HISTOGRAM_KEYS)}, got {kind!r}")
    section, key = _HISTOGRAM_KEYS[kind]
    records = [r for r in getattr(recording, "records", []) if any(key in s for s in r[section].values())]
    if not records:
        raise ValueError(f"plot_histograms: the recording holds no {kind} histograms; record with "
                         f"Recorder(histograms=True) and train at least one step")
    order = recording.param_order if section == "params" else list(recording.layer_kinds)
    seen = {n for r in records for n, s in r[section].items() if key in s}
    chosen = [n for n in (names if names is not None else order) if n in seen] or sorted(seen)
    if names is not None and not set(names) & seen:
        raise ValueError(f"plot_histograms: none of {list(names)} has {kind} histograms (recorded: {sorted(seen)})")
    chosen = chosen[:max_panels]
    picks = numpy.unique(numpy.linspace(0, len(records) - 1, min(max_curves, len(records))).round().astype(int))
    steps = [records[i]["step"] for i in picks]
    norm = Normalize(min(steps), max(steps) if max(steps) > min(steps) else min(steps) + 1)
    cmap = colormaps["viridis"]
    fig = _figure(min(4, len(chosen)) * 3.0 + 0.8, math.ceil(len(chosen) / 4) * 2.3 + 0.4)
    ncols = min(4, len(chosen))
    axes = fig.subplots(math.ceil(len(chosen) / ncols), ncols, squeeze=False).ravel()
    for ax, name in zip(axes, chosen):
        for i in picks:
            stats = records[i][section].get(name, {})
            if key not in stats:
                continue
            counts, edges = (numpy.asarray(a, dtype=float) for a in stats[key])
            # density, not counts: the bins widen as the weights spread, and raw counts would grow with them
            density = counts / max(counts.sum(), 1.0) / numpy.maximum(numpy.diff(edges), 1e-300)
            ax.plot((edges[:-1] + edges[1:]) / 2, density, color=cmap(norm(records[i]["step"])), linewidth=1.1)
        kind_name = recording.layer_kinds.get(name, "") if section == "activations" else ""
        ax.set_title(_plain(f"{name} {kind_name}".strip()), fontsize=9)
        ax.set_ylabel("density", fontsize=7)
        if log if log is not None else kind == "gradients":
            ax.set_yscale("log")
        ax.tick_params(labelsize=7)
    for ax in axes[len(chosen):]:
        ax.set_visible(False)
    fig.colorbar(ScalarMappable(norm, cmap), ax=list(axes[:len(chosen)]), label="training step", shrink=0.8)
    fig.suptitle(f"{kind} distributions over training", fontsize=10)
    return fig


def plot_gradient_flow(recording: Any, names: Sequence[str] | None = None) -> Any:
    """Per-parameter gradient norms over training (log scale) and, beside it, each layer's mean gradient norm as a
    bar, first layer first: vanishing gradients show as bars shrinking towards the input."""
    if not getattr(recording, "records", None):
        raise ValueError("plot_gradient_flow: the recording is empty; train at least one step with a Recorder")
    order = list(names) if names is not None else list(recording.param_order)
    series = {n: recording.series("params", n, "grad_norm") for n in order}
    series = {n: s for n, s in series.items() if s[0]}
    if not series:
        raise ValueError("plot_gradient_flow: no gradient norms were recorded (attach the Recorder to the optimiser "
                         "or call record_gradients() after backward)")
    fig = _figure(10, 3.8)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    floor = 1e-12  # log scale: a zero norm is drawn at the floor
    for name, (steps, values) in series.items():
        left.plot(steps, numpy.maximum(values, floor), label=_plain(name), linewidth=1.2)
    left.set_yscale("log")
    left.set_xlabel("training step")
    left.set_ylabel("gradient norm ‖∂L/∂w‖")
    left.set_title("gradient norm per parameter", fontsize=10)
    left.grid(alpha=0.3, which="both")
    if len(series) <= 12:
        left.legend(fontsize=7, ncol=2)
    means = [max(float(numpy.mean(v)), floor) for _, v in series.values()]
    right.bar(range(len(means)), means, color=["#1f77b4" if n.endswith("weight") else "#9ecae1" for n in series])
    right.set_yscale("log")
    right.set_xticks(range(len(means)), [_plain(n) for n in series], rotation=60, ha="right", fontsize=7)
    right.set_ylabel("mean gradient norm")
    right.set_title("input side → output side", fontsize=10)
    right.grid(alpha=0.3, axis="y", which="both")
    return fig


# ----- convolutional networks --------------------------------------------------------------------------------------
def _mosaic(tiles: numpy.ndarray, ncols: int) -> numpy.ndarray:
    """Tiles (n, h, w[, 3]) laid out `ncols` to a row with 1-pixel NaN gaps (drawn as background) between them."""
    n, h, w = tiles.shape[:3]
    rows = math.ceil(n / ncols)
    canvas = numpy.full((rows * (h + 1) - 1, ncols * (w + 1) - 1) + tiles.shape[3:], numpy.nan)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        canvas[r * (h + 1): r * (h + 1) + h, c * (w + 1): c * (w + 1) + w] = tile
    return canvas


def plot_filters(conv_layer: Any, max_filters: int = 64, max_channels: int = 8, ax: Any = None) -> Any:
    """A Conv2d layer's kernels in one mosaic, blue negative and red positive: filters side by side (in colour when
    they read 3 channels), one row per input channel (up to `max_channels`) when they read several."""
    from matplotlib import colormaps

    weight = getattr(conv_layer, "weight", None)
    w = None if weight is None else _array(weight, "plot_filters", "the weight")
    if w is None or w.ndim != 4:
        shape = None if w is None else tuple(w.shape)
        raise TypeError(f"plot_filters: expected a Conv2d layer (weight of shape (out, in, kh, kw)), got "
                        f"{type(conv_layer).__name__} with weight shape {shape}")
    out_c, in_c, kh, kw = w.shape
    w = w[:max_filters]
    n = len(w)
    if in_c == 3:  # colour filters: each one scaled to [0, 1] on its own
        ncols = min(n, 16)
        mosaic = _mosaic(numpy.stack([_unit_range(numpy.moveaxis(f, 0, -1)) for f in w]), ncols)
        mosaic = numpy.where(numpy.isnan(mosaic), 1.0, mosaic)
        rows = math.ceil(n / ncols)
    elif in_c == 1:
        ncols = min(n, 16)
        mosaic = _mosaic(w[:, 0], ncols)
        rows = math.ceil(n / ncols)
    else:  # row c: every filter's kernel for input channel c
        rows, ncols = min(in_c, max_channels), n
        mosaic = _mosaic(numpy.concatenate([w[:, c] for c in range(rows)]), ncols)
    tile = min(0.9, max(0.35, 6.5 / ncols))  # inches per kernel: small layers drawn larger
    fig, ax = _own_axes(ax, min(10.0, tile * ncols + 1.2), min(8.0, tile * rows * kh / kw + 0.8))
    bound = float(numpy.abs(w).max()) or 1.0
    cmap = colormaps["RdBu_r"].with_extremes(bad="white")
    im = ax.imshow(mosaic, cmap=cmap, vmin=-bound, vmax=bound, interpolation="nearest")
    if in_c in (1, 3):  # filters left to right, then down
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        ax.set_xticks([c * (kw + 1) + (kw - 1) / 2 for c in range(ncols)], [str(c) for c in range(ncols)], fontsize=6)
        ax.set_yticks([r * (kh + 1) + (kh - 1) / 2 for r in range(rows)], [str(r) for r in range(rows)], fontsize=6)
        ax.set_xlabel("filter", fontsize=8)
        ax.set_ylabel("input channel", fontsize=8)
    if in_c != 3:
        fig.colorbar(im, ax=ax, shrink=0.6)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(f"{type(conv_layer).__name__} filters ({out_c} × {in_c} × {kh}×{kw})", fontsize=9)
    return fig


def plot_feature_maps(model: Any, layer: Any, x: Any, max_maps: int = 32) -> Any:
    """What one layer outputs for one input image: the input, then each channel of the layer's output."""
    name, module = _find_module(model, layer, "plot_feature_maps")
    xa = _array(x, "plot_feature_maps", "x").astype(numpy.float32)
    if xa.ndim == 3:
        xa = xa[None]
    if xa.ndim != 4 or xa.shape[0] != 1:
        raise ValueError(f"plot_feature_maps: x should be one image (C, H, W) or (1, C, H, W), got {tuple(xa.shape)}")
    captured: list[numpy.ndarray] = []
    def hook(mod: Any, args: Any, out: Any) -> None:  # returns None: the output is left as it is
        captured.append(_array(out, "model", "an output"))

    handle = module.register_forward_hook(hook)
    try:
        _run(model, xa)
    finally:
        handle.remove()
    if not captured or captured[0].ndim != 4:
        shape = tuple(captured[0].shape) if captured else None
        raise ValueError(f"plot_feature_maps: layer {name!r} gave output of shape {shape}; expected (1, C, H, W)")
    maps = captured[0][0][:max_maps]
    ncols = min(8, len(maps) + 1)
    fig = _figure(ncols * 1.0 + 0.3, math.ceil((len(maps) + 1) / ncols) * 1.05 + 0.5)
    axes = _panel_grid(fig, len(maps) + 1, ncols)
    axes[0].imshow(_unit_range(_to_hwc(xa[0], "plot_feature_maps")), cmap="gray")
    axes[0].set_title("input", fontsize=7, pad=2)
    for i, (ax, fmap) in enumerate(zip(axes[1:], maps)):
        ax.imshow(fmap, cmap="viridis")
        ax.set_title(f"ch {i}", fontsize=7, pad=2)
    fig.suptitle(f"feature maps of {name} ({type(module).__name__}), {tuple(captured[0].shape[1:])}", fontsize=10)
    return fig


# ----- evaluation and attribution ----------------------------------------------------------------------------------
def plot_confusion_matrix(matrix: Any, labels: Sequence[str] | None = None, normalize: bool = False,
                          ax: Any = None) -> Any:
    """Counts (or, with `normalize`, each true class's row as fractions) with every cell annotated."""
    m = _array(matrix, "plot_confusion_matrix", "matrix").astype(float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"plot_confusion_matrix: matrix should be square (classes, classes), got {tuple(m.shape)}")
    n = m.shape[0]
    labels = [str(i) for i in range(n)] if labels is None else [_plain(s) for s in labels]
    if len(labels) != n:
        raise ValueError(f"plot_confusion_matrix: {len(labels)} labels for a {n}×{n} matrix")
    shown = m / numpy.maximum(m.sum(1, keepdims=True), 1e-12) if normalize else m
    fig, ax = _own_axes(ax, 0.45 * n + 2.2, 0.45 * n + 1.6)
    im = ax.imshow(shown, cmap="Blues", vmin=0)
    top = float(shown.max()) or 1.0
    for i in range(n):
        for j in range(n):
            text = f"{shown[i, j]:.2f}" if normalize else f"{int(round(m[i, j]))}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8 if n <= 12 else 6,
                    color="white" if shown[i, j] > top / 2 else "black")
    ax.set_xticks(range(n), labels, fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = float(numpy.trace(m) / m.sum()) if m.sum() else 0.0
    ax.set_title(f"confusion matrix (accuracy {accuracy:.1%})", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def _resize(a: numpy.ndarray, shape: tuple[int, int]) -> numpy.ndarray:
    """Bilinear resize of a 2-D map (a Grad-CAM map at a conv layer's resolution up to the image's)."""
    if a.shape == shape:
        return a
    rows = numpy.linspace(0, a.shape[0] - 1, shape[0])
    cols = numpy.linspace(0, a.shape[1] - 1, shape[1])
    tmp = numpy.stack([numpy.interp(cols, numpy.arange(a.shape[1]), row) for row in a])
    return numpy.stack([numpy.interp(rows, numpy.arange(a.shape[0]), col) for col in tmp.T], axis=1)


def plot_attribution(image: Any, attribution: Any, title: str | None = None, alpha: float = 0.5) -> Any:
    """Three panels: the image, the attribution (saliency, Grad-CAM, …) and the attribution overlaid on the image.

    The image may be (H, W), (H, W, 3) or (C, H, W); a per-channel attribution is summed over channels; a smaller
    map (Grad-CAM at a conv layer) is resized to the image. Signed maps use a blue-red scale centred on zero.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"plot_attribution: alpha must be in [0, 1], got {alpha}")
    img = _to_hwc(_array(image, "plot_attribution", "image"), "plot_attribution")
    attr = _array(attribution, "plot_attribution", "attribution").astype(float)
    while attr.ndim > 2 and attr.shape[0] == 1:
        attr = attr[0]
    if attr.ndim == 3:
        attr = attr.sum(0) if attr.shape[0] in (1, 3) and attr.shape[-1] not in (1, 3) else attr.sum(-1)
    if attr.ndim != 2:
        raise ValueError(f"plot_attribution: attribution should be (H, W) or per channel, got "
                         f"{tuple(numpy.shape(attribution))}")
    attr = _resize(attr, img.shape[:2])
    signed = float(attr.min()) < 0 < float(attr.max())
    bound = float(numpy.abs(attr).max()) or 1.0
    cmap, lo = ("RdBu_r", -bound) if signed else ("inferno", float(attr.min()))
    fig = _figure(7.5, 2.8)
    axes = _panel_grid(fig, 3, 3)
    gray = img if img.ndim == 2 else img.mean(-1)
    axes[0].imshow(_unit_range(img), cmap="gray")
    axes[0].set_title("input", fontsize=9)
    im = axes[1].imshow(attr, cmap=cmap, vmin=lo, vmax=bound)
    axes[1].set_title("attribution", fontsize=9)
    axes[2].imshow(_unit_range(gray), cmap="gray")
    axes[2].imshow(attr, cmap=cmap, vmin=lo, vmax=bound, alpha=alpha)
    axes[2].set_title("overlay", fontsize=9)
    fig.colorbar(im, ax=axes, shrink=0.8)
    if title:
        fig.suptitle(_plain(title), fontsize=10)
    return fig


def plot_attention(weights: Any, query_tokens: Sequence[Any], key_tokens: Sequence[Any] | None = None,
                   annotate: bool | None = None) -> Any:
    """Attention weights as heatmaps, query tokens down the side and key tokens along the top: (L, S) gives one
    panel, (heads, L, S) one per head. Cells are annotated when the matrix is small (or `annotate=True`)."""
    w = _array(weights, "plot_attention", "weights").astype(float)
    while w.ndim == 4 and w.shape[0] == 1:
        w = w[0]
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3:
        raise ValueError(f"plot_attention: weights should be (L, S) or (heads, L, S), "
                         f"got {tuple(numpy.shape(weights))}")
    key_tokens = query_tokens if key_tokens is None else key_tokens
    heads, n_q, n_k = w.shape
    if len(query_tokens) != n_q or len(key_tokens) != n_k:
        raise ValueError(f"plot_attention: weights of shape {tuple(w.shape[1:])} need {n_q} query and {n_k} key "
                         f"tokens, got {len(query_tokens)} and {len(key_tokens)}")
    annotate = n_q * n_k <= 144 if annotate is None else annotate
    ncols = min(heads, 4)
    side = 0.32 * max(n_q, n_k) + 1.2
    fig = _figure(side * ncols + 0.8, side * math.ceil(heads / ncols) + 0.4)
    axes = fig.subplots(math.ceil(heads / ncols), ncols, squeeze=False).ravel()
    for h, ax in enumerate(axes):
        if h >= heads:
            ax.set_visible(False)
            continue
        im = ax.imshow(w[h], cmap="viridis", vmin=0, vmax=max(1e-12, float(w.max())))
        ax.set_xticks(range(n_k), [_plain(t) for t in key_tokens], rotation=90 if n_k > 8 else 0, fontsize=8)
        ax.set_yticks(range(n_q), [_plain(t) for t in query_tokens], fontsize=8)
        ax.set_xlabel("key (attended to)", fontsize=8)
        if h % ncols == 0:
            ax.set_ylabel("query", fontsize=8)
        if heads > 1:
            ax.set_title(f"head {h}", fontsize=9)
        if annotate:
            for i in range(n_q):
                for j in range(n_k):
                    ax.text(j, i, f"{w[h, i, j]:.2f}"[1:] if w[h, i, j] < 1 else "1", ha="center", va="center",
                            fontsize=6, color="white" if w[h, i, j] < 0.5 * w.max() else "black")
    fig.colorbar(im, ax=list(axes[:heads]), shrink=0.8, label="weight")
    return fig


# ----- generated samples -------------------------------------------------------------------------------------------
def _tile(images: Any, nrow: int, who: str) -> numpy.ndarray | None:
    """Images tiled into one (H', W') or (H', W', 3) array with 1-pixel gaps; None for 2-D points (N, 2)."""
    a = _array(images, who, "images").astype(float)
    if a.ndim == 2 and a.shape[1] == 2:
        return None
    if a.ndim == 2 and math.isqrt(a.shape[1]) ** 2 == a.shape[1]:  # flattened square images (an MLP generator)
        side = math.isqrt(a.shape[1])
        a = a.reshape(-1, side, side)
    if a.ndim == 4 and a.shape[1] in (1, 3) and a.shape[-1] not in (1, 3):
        a = numpy.moveaxis(a, 1, -1)
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 3 or (a.ndim == 4 and a.shape[-1] == 3)) or len(a) == 0:
        raise ValueError(f"{who}: images should be (N, H, W), (N, C, H, W) with C 1 or 3, (N, H*W) or 2-D points "
                         f"(N, 2), got {tuple(numpy.shape(images))}")
    if nrow < 1:
        raise ValueError(f"{who}: nrow must be ≥ 1, got {nrow}")
    a = _unit_range(a)
    n, h, w = a.shape[:3]
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    canvas = numpy.ones((rows * (h + 1) + 1, cols * (w + 1) + 1) + a.shape[3:])
    for i in range(n):
        r, c = divmod(i, cols)
        canvas[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + c * (w + 1): 1 + c * (w + 1) + w] = a[i]
    return canvas


def _draw_samples(ax: Any, images: Any, nrow: int, who: str) -> None:
    tiled = _tile(images, nrow, who)
    if tiled is None:
        points = _array(images, who, "images")
        ax.scatter(points[:, 0], points[:, 1], s=4, alpha=0.6)
        ax.set_aspect("equal", adjustable="box")
        return
    ax.imshow(tiled, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_sample_grid(images: Any, nrow: int = 8, title: str | None = None, ax: Any = None) -> Any:
    """Samples (e.g. a GAN's) tiled `nrow` to a row; 2-D points (N, 2) are drawn as a scatter plot instead."""
    fig, ax = _own_axes(ax, 4.0, 4.0)
    _draw_samples(ax, images, nrow, "plot_sample_grid")
    if title:
        ax.set_title(_plain(title), fontsize=10)
    return fig


def plot_sample_grids_over_epochs(grids: Mapping[int, Any], nrow: int = 8, label: str = "epoch") -> Any:
    """One sample grid per epoch side by side, e.g. `{1: samples_after_epoch_1, 5: ..., 20: ...}` (titles read
    "epoch N"; pass `label="step"` when the keys count steps)."""
    if not isinstance(grids, Mapping) or not grids:
        raise ValueError("plot_sample_grids_over_epochs: grids should be a non-empty dict {epoch: samples}")
    epochs = sorted(grids)
    first = _tile(grids[epochs[0]], nrow, "plot_sample_grids_over_epochs")
    aspect = 1.0 if first is None else first.shape[0] / first.shape[1]
    fig = _figure(2.6 * len(epochs) + 0.3, 2.6 * aspect + 0.45)
    axes = fig.subplots(1, len(epochs), squeeze=False)[0]
    for ax, epoch in zip(axes, epochs):
        _draw_samples(ax, grids[epoch], nrow, "plot_sample_grids_over_epochs")
        ax.set_title(f"{label} {epoch}", fontsize=10)
    if first is None:  # points: one shared square view so the panels compare
        points = numpy.concatenate([_array(grids[e], "plot_sample_grids_over_epochs", "points") for e in epochs])
        points = points[numpy.isfinite(points).all(1)]
        centre = (points.max(0) + points.min(0)) / 2
        half = float((points.max(0) - points.min(0)).max()) / 2 * 1.05 or 1.0
        for ax in axes:
            ax.set_xlim(centre[0] - half, centre[0] + half)
            ax.set_ylim(centre[1] - half, centre[1] + half)
            ax.set_aspect("equal", adjustable="box")
    return fig


# ----- optimisers on a 2-D surface ---------------------------------------------------------------------------------
def rosenbrock(p: Any) -> Any:
    """f(x, y) = (1 − x)² + 100 (y − x²)²: a curved, narrow valley with its minimum 0 at (1, 1)."""
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


# name -> (label, factory(params, lr), default lr on the Rosenbrock valley): SGD and momentum share one lr so the
# comparison is fair; Adam's per-weight step size needs a larger one.
def _optimizer_specs() -> dict[str, tuple[str, Callable, float]]:
    from glassnet import optim

    return {
        "sgd": ("SGD", lambda ps, lr: optim.SGD(ps, lr=lr), 1e-3),
        "momentum": ("SGD + momentum 0.9", lambda ps, lr: optim.SGD(ps, lr=lr, momentum=0.9), 1e-3),
        "nesterov": ("Nesterov 0.9", lambda ps, lr: optim.SGD(ps, lr=lr, momentum=0.9, nesterov=True), 1e-3),
        "adam": ("Adam", lambda ps, lr: optim.Adam(ps, lr=lr), 0.2),
        "rmsprop": ("RMSprop", lambda ps, lr: optim.RMSprop(ps, lr=lr), 0.05),
        "adagrad": ("Adagrad", lambda ps, lr: optim.Adagrad(ps, lr=lr), 0.5),
    }


def optimizer_paths(loss_fn: Callable | None = None, optimizers: Sequence[str] = ("sgd", "momentum", "adam"),
                    steps: int = 300, start: Sequence[float] = (-1.2, 1.0),
                    lr: Mapping[str, float] | None = None) -> dict[str, dict[str, Any]]:
    """Run glassnet's own optimisers from `start` on a 2-D loss; {name: {"label", "lr", "path" (steps+1, 2),
    "loss" (steps+1,)}}. `loss_fn(p)` gets a Tensor with p[0] = x, p[1] = y (default: the Rosenbrock function)."""

    loss_fn = rosenbrock if loss_fn is None else loss_fn
    specs = _optimizer_specs()
    unknown = [o for o in optimizers if o not in specs]
    if unknown or not optimizers:
        raise ValueError(f"optimizer_paths: unknown optimisers {unknown or list(optimizers)}; "
                         f"choose from {list(specs)}")
    if steps < 1 or len(start) != 2:
        raise ValueError(f"optimizer_paths: need steps ≥ 1 and a 2-D start, got steps={steps}, start={start}")
    with Device("cpu"):  # a 2-D picture: computed on the host whatever the default device is
        return _optimizer_paths_on_host(loss_fn, optimizers, steps, start, lr, specs)


def _optimizer_paths_on_host(loss_fn, optimizers, steps, start, lr, specs) -> dict[str, dict[str, Any]]:
    from glassnet.nn.parameter import Parameter

    out: dict[str, dict[str, Any]] = {}
    for name in optimizers:
        label, make, default_lr = specs[name]
        rate = (lr or {}).get(name, default_lr)
        p = Parameter(Tensor(numpy.array(start, dtype=numpy.float64)))
        opt = make([p], rate)
        path, losses = [p.data.copy()], []
        for _ in range(steps):
            loss = loss_fn(p)
            losses.append(float(loss.item()))
            opt.zero_grad()
            loss.backward()
            opt.step()
            path.append(p.data.copy())
        with no_grad():
            losses.append(float(loss_fn(p).item()))
        out[name] = {"label": label, "lr": rate, "path": numpy.array(path), "loss": numpy.array(losses)}
    return out


def plot_optimizer_paths(loss_fn: Callable | None = None, optimizers: Sequence[str] = ("sgd", "momentum", "adam"),
                         steps: int = 300, start: Sequence[float] = (-1.2, 1.0), lr: Mapping[str, float] | None = None,
                         ax: Any = None) -> Any:
    """Trajectories of SGD, momentum and Adam (glassnet.optim) over the loss's contour lines, from the same start
    for the same number of steps. The runs are kept on the figure as `fig.optimizer_paths` (see optimizer_paths)."""
    runs = optimizer_paths(loss_fn, optimizers, steps, start, lr)
    loss_fn = rosenbrock if loss_fn is None else loss_fn
    every = numpy.concatenate([r["path"] for r in runs.values()])
    finite = every[numpy.isfinite(every).all(1)]
    lo, hi = finite.min(0), finite.max(0)
    pad = 0.15 * numpy.maximum(hi - lo, 0.5)
    xs = numpy.linspace(lo[0] - pad[0], hi[0] + pad[0], 160)
    ys = numpy.linspace(lo[1] - pad[1], hi[1] + pad[1], 160)
    gx, gy = numpy.meshgrid(xs, ys)
    with no_grad():
        surface = _array(loss_fn(Tensor(numpy.stack([gx, gy]))), "plot_optimizer_paths", "the loss")
    fig, ax = _own_axes(ax, 5.6, 4.4)
    levels = numpy.quantile(surface, numpy.linspace(0.0, 0.97, 18)) if surface.ndim == 2 else 18
    ax.contour(xs, ys, numpy.log1p(surface - surface.min()), levels=numpy.log1p(levels - surface.min()),
               colors="grey", linewidths=0.6)
    for i, (name, r) in enumerate(runs.items()):
        path = r["path"]
        ax.plot(path[:, 0], path[:, 1], "-", color=_PALETTE[i], linewidth=1.4, marker=".", markersize=2.5,
                label=f"{r['label']} (lr {r['lr']:g}): loss {r['loss'][-1]:.3g}", gid=f"path_{name}")
    ax.plot(*runs[next(iter(runs))]["path"][0], "ko", markersize=5, label="start")
    ax.set_title(f"{steps} steps from {tuple(start)}", fontsize=10)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(fontsize=7, loc="best")
    fig.optimizer_paths = runs
    return fig


# ----- generic charts (the tour draws its numbers with these) ------------------------------------------------------
def plot_curves(series: Mapping[str, Any], title: str = "", xlabel: str = "step", ylabel: str = "",
                log: bool = False, percent: bool = False, ax: Any = None) -> Any:
    """One line per named series: values (x counts 1, 2, ...) or an (xs, ys) pair; whole-number x ticks when every
    x is a whole number (steps, epochs).

    `log` draws the y axis on a log scale, `percent` reads y values from 0 to 1 as percentages.
    """
    if not isinstance(series, Mapping) or not series:
        raise ValueError("plot_curves: series should be a non-empty dict {name: values or (xs, ys)}")
    fig, ax = _own_axes(ax, 5.2, 3.3)
    whole_x = True  # steps and epochs: ticks on whole numbers; a continuous x keeps matplotlib's ticks
    for i, (name, values) in enumerate(series.items()):
        if isinstance(values, tuple) and len(values) == 2:
            xs, ys = _array(values[0], "plot_curves", "xs"), _numbers(list(values[1]))
        else:
            ys = _numbers(list(values))
            xs = numpy.arange(1, len(ys) + 1)
        if len(xs) != len(ys):
            raise ValueError(f"plot_curves: series {name!r} has {len(xs)} x values for {len(ys)} y values")
        whole_x = whole_x and bool(numpy.all(numpy.mod(numpy.asarray(xs, dtype=float), 1) == 0))
        ax.plot(xs, ys, color=_PALETTE[i % len(_PALETTE)], marker="." if len(ys) <= 30 else None, linewidth=1.4,
                label=_plain(name))
    if log:
        ax.set_yscale("log")
    if percent:
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    if whole_x:
        _integer_ticks(ax.xaxis)
    ax.set_xlabel(_plain(xlabel))
    ax.set_ylabel(_plain(ylabel))
    if title:
        ax.set_title(_plain(title), fontsize=10)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)
    return fig


def plot_bars(categories: Sequence[Any], series: Mapping[str, Sequence[float]], title: str = "", xlabel: str = "",
              ylabel: str = "", percent: bool = False, ax: Any = None) -> Any:
    """Grouped bars: one group per category, one bar per named series, each bar labelled with its value."""
    if not isinstance(series, Mapping) or not series or not len(categories):
        raise ValueError("plot_bars: need at least one category and a non-empty dict {name: values}")
    for name, values in series.items():
        if len(values) != len(categories):
            raise ValueError(f"plot_bars: series {name!r} has {len(values)} values for {len(categories)} categories")
    fig, ax = _own_axes(ax, max(4.0, 1.2 * len(categories) * len(series) ** 0.5 + 2.0), 3.3)
    width = 0.8 / len(series)
    x = numpy.arange(len(categories))
    for i, (name, values) in enumerate(series.items()):
        bars = ax.bar(x + (i - (len(series) - 1) / 2) * width, _numbers(list(values)), width,
                      color=_PALETTE[i % len(_PALETTE)], label=_plain(name))
        ax.bar_label(bars, labels=[f"{v:.1%}" if percent else f"{v:.4g}" for v in _numbers(list(values))],
                     fontsize=6, padding=1)
    ax.set_xticks(x, [_plain(c) for c in categories], fontsize=8)
    if percent:
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylim(0, 1.08)
    ax.set_xlabel(_plain(xlabel))
    ax.set_ylabel(_plain(ylabel))
    if title:
        ax.set_title(_plain(title), fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    if len(series) > 1:
        ax.legend(fontsize=7, loc="lower right")
    return fig


def plot_layer_outputs(model: Any, x: Any, max_values: int = 64) -> Any:
    """The forward pass of one input through a Sequential, with values: one strip per layer's output, each value a
    coloured cell (blue negative, red positive, white zero), annotated when there are few."""
    a = _array(x, "plot_layer_outputs", "x").astype(numpy.float32)
    if a.ndim == 1:
        a = a[None]
    if a.shape[0] != 1:
        raise ValueError(f"plot_layer_outputs: expected one input (shape (1, ...)), got {tuple(a.shape)}")
    children = list(model.named_children()) if hasattr(model, "named_children") else []
    if not children:
        raise ValueError(f"plot_layer_outputs: expected a Sequential of layers, got {type(model).__name__}")
    outputs = [("input", a.reshape(-1))]
    h = Tensor(a)
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with no_grad():
            for name, layer in children:
                h = layer(h)
                outputs.append((f"{name}: {type(layer).__name__}", _array(h, "plot_layer_outputs", "an output")
                                .reshape(-1)))
    finally:
        if was_training:
            model.train()
    fig = _figure(7.5, 0.62 * len(outputs) + 0.6)
    axes = fig.subplots(len(outputs), 1, squeeze=False)[:, 0]
    for ax, (name, values) in zip(axes, outputs):
        shown = values[:max_values]
        top = float(numpy.abs(shown).max()) or 1.0
        ax.imshow(shown[None], cmap="RdBu_r", vmin=-top, vmax=top, aspect="auto", interpolation="nearest")
        if len(shown) <= 16:
            for j, v in enumerate(shown):
                ax.text(j, 0, f"{v:.2f}", ha="center", va="center", fontsize=6)
        ax.set_xticks([])
        ax.set_yticks([])
        more = f", first {max_values} shown" if len(values) > max_values else ""
        ax.set_ylabel(_plain(name), rotation=0, ha="right", va="center", fontsize=8)
        ax.set_title(f"{len(values)} values{more}", fontsize=7, loc="right", pad=2)
    return fig
