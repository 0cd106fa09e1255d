"""Attribution: which parts of an input made the model predict what it did (saliency, gradient × input,
integrated gradients, SmoothGrad, Grad-CAM, occlusion), for images and, at the embedding level, for token ids.

Every function takes a model (a Module returning logits (N, C); a tuple output counts by its first element, a
(N, T, V) output by its last position, other shapes are flattened to (N, -1)), a batched input x (first dim N) and a
target (an int, one int per sample, or None for each sample's predicted class), and returns NumPy arrays. The model
runs in eval mode while it is explained; every module's training flag and every parameter's `.grad` are restored
afterwards. Gradients come from `gn.grad`, and layer outputs are reached through forward hooks that substitute them
with fresh leaf tensors, so no model code changes.

Token sequences: pass `embedding=` (an nn.Embedding inside the model) and integer ids as x; attributions are then
taken at the embedding output and reduced to one number per token, (N, T).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from glassnet.autograd import grad, no_grad
from glassnet.nn.module import Module
from glassnet.tensor import Tensor

__all__ = [
    "grad_cam", "gradient_x_input", "integrated_gradients", "occlusion", "resize_bilinear", "saliency", "smoothgrad",
]

IG_METHODS = ("riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle", "gausslegendre")
_SPATIAL_1D = ("Conv1d", "ConvTranspose1d")


# ----- the problem: what is explained, where the attribution lives ---------------------------------------------
@dataclass
class _Problem:
    """One attribution request, validated: the model, the points to explain and each sample's target class."""

    name: str  # the public function's name, for error messages
    model: Module
    values: np.ndarray  # (N, ...) where attributions live: x itself, or the embedding output for token ids
    targets: np.ndarray  # (N,) class index per sample
    n_classes: int
    ids: np.ndarray | None = None  # token ids (N, T) when attributing at an embedding
    embedding: Module | None = None


def _as_array(name: str, x) -> np.ndarray:
    """x as a batched NumPy array, or a TypeError/ValueError that names the function."""
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    elif not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: x must be a glassnet Tensor or a NumPy array, got {type(x).__name__}")
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"{name}: x of shape {tuple(x.shape)}; expected a non-empty batch (N, ...) with N first")
    return np.asarray(x)


def _check_model(name: str, model) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"{name}: model must be a glassnet nn.Module, got {type(model).__name__}")


def _logits(name: str, output, n: int) -> Tensor:
    """The model's output as (N, C) scores: first of a tuple, last position of a sequence, else flattened."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    if not isinstance(output, Tensor):
        raise TypeError(f"{name}: the model returned {type(output).__name__}; expected a Tensor of scores")
    if output.ndim == 0 or output.shape[0] != n:
        raise ValueError(f"{name}: the model returned shape {tuple(output.shape)} for a batch of {n}; expected (N, C)")
    if output.ndim == 1:
        return output.reshape(n, 1)
    if output.ndim == 3:
        return output[:, -1, :]  # a sequence model: explain the prediction made at the last position
    return output if output.ndim == 2 else output.reshape(n, -1)


def _resolve_targets(name: str, target, logits: np.ndarray) -> np.ndarray:
    """Each sample's class: the argmax when target is None, else the given int(s), checked against C."""
    n, n_classes = logits.shape
    if target is None:
        return logits.argmax(axis=1)
    if isinstance(target, Tensor):
        target = target.cpu().numpy()
    raw = np.asarray(target)
    if raw.dtype.kind not in "iu" or isinstance(target, bool):
        raise TypeError(f"{name}: target must be an int, a sequence of {n} ints or None, got {target!r}")
    targets = np.broadcast_to(raw, (n,)) if raw.ndim == 0 else raw
    if targets.shape != (n,):
        raise ValueError(f"{name}: target of shape {raw.shape}; expected one int or {n} ints (one per sample)")
    bad = targets[(targets < 0) | (targets >= n_classes)]
    if bad.size:
        raise ValueError(
            f"{name}: target {int(bad[0])} is out of range for a model with {n_classes} classes "
            f"(output shape (N, {n_classes})); expected 0 ≤ target < {n_classes}"
        )
    return targets.astype(np.int64)


def _find_module(name: str, model: Module, layer, what: str) -> tuple[str, Module]:
    """(dotted name, module) of `layer` (a Module or a dotted name) inside model, or a ValueError."""
    if isinstance(layer, str):
        try:
            return layer, model.get_submodule(layer)
        except AttributeError as err:
            raise ValueError(f"{name}: model {type(model).__name__} has no {what} named '{layer}' ({err})") from None
    if not isinstance(layer, Module):
        raise TypeError(
            f"{name}: {what} must be a Module inside the model or its dotted name, got {type(layer).__name__}"
        )
    for path, module in model.named_modules():
        if module is layer:
            return path, module
    raise ValueError(f"{name}: the {what} {type(layer).__name__} is not a submodule of model {type(model).__name__}")


@contextlib.contextmanager
def _explaining(name: str, model: Module) -> Iterator[None]:
    """Run the model in eval mode, then put back every module's training flag and every parameter's .grad."""
    _check_model(name, model)
    modes = [(m, m.training) for m in model.modules()]
    grads = [(p, p.grad) for p in model.parameters()]
    model.eval()
    first = next(iter(model.parameters()), None)
    try:
        with first.device if first is not None else contextlib.nullcontext():  # inputs made where the model is
            yield
    finally:
        for m, training in modes:
            m.training = training
        for p, g in grads:
            p.grad = g


def _substituting(module: Module, replacement: Tensor, what: str):
    """A forward hook on module whose output is replaced by `replacement` (same shape) on its first call."""
    calls = []

    def substitute(mod, args, output):
        if calls:
            return None
        calls.append(1)
        if not isinstance(output, Tensor) or tuple(output.shape) != tuple(replacement.shape):
            shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
            raise ValueError(f"{what}: output {shape} differs from the substituted {tuple(replacement.shape)}")
        return replacement

    return module.register_forward_hook(substitute)


def _prepare(name: str, model: Module, x, target, embedding: Module | None = None) -> _Problem:
    """Validate the request and run one forward to find the embedding output (if any) and the targets."""
    array = _as_array(name, x)
    n = array.shape[0]
    if embedding is None:
        if array.dtype.kind not in "f":
            raise TypeError(
                f"{name}: x has dtype {array.dtype}; expected floating inputs (for token ids pass embedding=<the "
                "model's nn.Embedding>)"
            )
        with no_grad():
            logits = _logits(name, model(Tensor(array)), n).cpu().numpy()
        return _Problem(name, model, array, _resolve_targets(name, target, logits), logits.shape[1])
    _, embedding = _find_module(name, model, embedding, "embedding")
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name}: with embedding=, x must hold integer token ids, got dtype {array.dtype}")
    seen: list = []
    handle = embedding.register_forward_hook(lambda mod, args, out: seen.append(out.detach().cpu().numpy()))
    with handle, no_grad():
        logits = _logits(name, model(Tensor(array)), n).cpu().numpy()
    if not seen:
        raise ValueError(f"{name}: the embedding {type(embedding).__name__} was not called by the model's forward")
    values = seen[0]
    if values.shape[0] != n:
        raise ValueError(f"{name}: the embedding output {values.shape} is not batched like x {array.shape}")
    targets = _resolve_targets(name, target, logits)
    return _Problem(name, model, values, targets, logits.shape[1], ids=array, embedding=embedding)


# ----- the one primitive: gradients of the target scores at some points -----------------------------------------
def _forward(problem: _Problem, points: Tensor, rows: np.ndarray) -> Tensor:
    """(B, C) scores of the model at `points` (inputs, or embedding outputs for the token ids of `rows`)."""
    if problem.embedding is None:
        output = problem.model(points)
    else:
        with _substituting(problem.embedding, points, f"{problem.name}: embedding"):
            output = problem.model(Tensor(problem.ids[rows]))
    return _logits(problem.name, output, len(rows))


def _target_scores(problem: _Problem, logits: Tensor, rows: np.ndarray) -> Tensor:
    pick = np.zeros(logits.shape, dtype=logits.dtype)
    pick[np.arange(len(rows)), problem.targets[rows]] = 1
    return (logits * Tensor(pick)).sum(dim=1)


def _gradients(problem: _Problem, points: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(d score / d point, score) for each point; point i belongs to sample rows[i] (and is scored for its target)."""
    leaf = Tensor(points.astype(problem.values.dtype, copy=False), requires_grad=True)
    scores = _target_scores(problem, _forward(problem, leaf, rows), rows)
    (g,) = grad(scores.sum(), leaf, allow_unused=True)  # samples are independent, so one sum gives each its own
    g = np.zeros_like(points) if g is None else g.cpu().numpy()
    return g, scores.detach().cpu().numpy()


def _scores(problem: _Problem, points: np.ndarray, rows: np.ndarray, batch_size: int) -> np.ndarray:
    """Target scores at many points, batch_size at a time, without recording a graph."""
    out = []
    with no_grad():
        for start in range(0, len(rows), batch_size):
            part = slice(start, start + batch_size)
            logits = _forward(problem, Tensor(points[part].astype(problem.values.dtype, copy=False)), rows[part])
            out.append(_target_scores(problem, logits, rows[part]).cpu().numpy())
    return np.concatenate(out)


def _check_positive(name: str, what: str, value, minimum: int = 1) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}: {what} must be an int ≥ {minimum}, got {value!r}")


def _per_token(problem: _Problem, attribution: np.ndarray) -> np.ndarray:
    """Reduce an embedding-level attribution (N, T, D) to one number per token by summing over D."""
    return attribution if problem.embedding is None else attribution.sum(axis=-1)


# ----- gradient methods -----------------------------------------------------------------------------------------
def saliency(model: Module, x, target=None, absolute: bool = True, embedding: Module | None = None) -> np.ndarray:
    """Gradient of the target score w.r.t. the input (its absolute value if absolute); per token its L2 norm."""
    with _explaining("saliency", model):
        problem = _prepare("saliency", model, x, target, embedding)
        g, _ = _gradients(problem, problem.values, np.arange(len(problem.targets)))
    if problem.embedding is not None:
        return np.sqrt((g.astype(np.float64) ** 2).sum(axis=-1)).astype(g.dtype)
    return np.abs(g) if absolute else g


def gradient_x_input(model: Module, x, target=None, embedding: Module | None = None) -> np.ndarray:
    """Gradient × input, elementwise; with embedding=, summed over the embedding dim per token (N, T)."""
    with _explaining("gradient_x_input", model):
        problem = _prepare("gradient_x_input", model, x, target, embedding)
        g, _ = _gradients(problem, problem.values, np.arange(len(problem.targets)))
    return _per_token(problem, g * problem.values)


def _ig_path(name: str, steps: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(alphas, weights) of a quadrature rule for ∫₀¹ g(α) dα with `steps` points."""
    _check_positive(name, "steps", steps)
    if method == "riemann_trapezoid":
        if steps < 2:
            raise ValueError(f"{name}: method 'riemann_trapezoid' needs steps ≥ 2, got {steps}")
        weights = np.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0.0, 1.0, steps), weights
    if method == "riemann_left":
        return np.arange(steps) / steps, np.full(steps, 1.0 / steps)
    if method == "riemann_right":
        return np.arange(1, steps + 1) / steps, np.full(steps, 1.0 / steps)
    if method == "riemann_middle":
        return (np.arange(steps) + 0.5) / steps, np.full(steps, 1.0 / steps)
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (nodes + 1) / 2, weights / 2  # from [-1, 1] to [0, 1]
    raise ValueError(f"{name}: unknown method {method!r}; expected one of {', '.join(IG_METHODS)}")


def _baseline(problem: _Problem, baseline) -> np.ndarray:
    """The baseline broadcast to the shape of the points (zeros by default)."""
    values = problem.values
    if baseline is None:
        return np.zeros_like(values)
    if isinstance(baseline, Tensor):
        baseline = baseline.detach().cpu().numpy()
    try:
        return np.broadcast_to(np.asarray(baseline, dtype=values.dtype), values.shape)
    except ValueError:
        shape = np.shape(baseline)
        raise ValueError(
            f"{problem.name}: baseline of shape {shape} does not broadcast to the input's shape {values.shape}"
        ) from None


def integrated_gradients(
    model: Module, x, target=None, baseline=None, steps: int = 64, batch_size: int = 32,
    method: str = "riemann_trapezoid", return_delta: bool = False, embedding: Module | None = None,
):
    """Integrated gradients (Sundararajan et al. 2017): (x − baseline) · ∫₀¹ ∇f(baseline + α(x − baseline)) dα.

    The path points of every sample are run batch_size at a time. With return_delta=True, also returns the
    completeness gap per sample, Σ attributions − (f(x) − f(baseline)), which shrinks as steps grow. With
    embedding=, the path runs between a zero embedding output (or `baseline`) and the tokens' embeddings, and each
    token's attribution is the sum over the embedding dim, (N, T).
    """
    name = "integrated_gradients"
    alphas, weights = _ig_path(name, steps, method)
    _check_positive(name, "batch_size", batch_size)
    with _explaining(name, model):
        problem = _prepare(name, model, x, target, embedding)
        start = _baseline(problem, baseline)
        values, n = problem.values, len(problem.targets)
        diff = values - start
        total = np.zeros(values.shape, dtype=np.float64)
        shape = (-1,) + (1,) * (values.ndim - 1)
        # Point j of the flattened (sample, step) grid is sample j // steps at alpha[j % steps].
        grid_rows, grid_steps = np.repeat(np.arange(n), len(alphas)), np.tile(np.arange(len(alphas)), n)
        for first in range(0, len(grid_rows), batch_size):
            rows, k = grid_rows[first : first + batch_size], grid_steps[first : first + batch_size]
            points = start[rows] + alphas[k].reshape(shape) * diff[rows]
            g, _ = _gradients(problem, points, rows)
            np.add.at(total, rows, weights[k].reshape(shape) * g)
        attribution = _per_token(problem, (diff * total).astype(values.dtype))
        if not return_delta:
            return attribution
        ends = _scores(problem, np.concatenate([values, start]), np.concatenate([np.arange(n), np.arange(n)]),
                       batch_size)
    gap = attribution.reshape(n, -1).sum(axis=1, dtype=np.float64) - (ends[:n] - ends[n:])
    return attribution, gap


def smoothgrad(
    model: Module, x, target=None, samples: int = 25, noise: float = 0.15, seed: int = 0, absolute: bool = True,
    batch_size: int = 32, embedding: Module | None = None,
) -> np.ndarray:
    """SmoothGrad (Smilkov et al. 2017): the saliency averaged over `samples` noisy copies of each input.

    The noise is Gaussian with std = noise × (max − min) of each sample (of its embedding output with embedding=).
    """
    name = "smoothgrad"
    _check_positive(name, "samples", samples)
    _check_positive(name, "batch_size", batch_size)
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"{name}: noise must be a fraction ≥ 0 of the input's value range, got {noise!r}")
    with _explaining(name, model):
        problem = _prepare(name, model, x, target, embedding)
        values, n = problem.values, len(problem.targets)
        flat = values.reshape(n, -1)
        sigma = (noise * (flat.max(axis=1) - flat.min(axis=1))).reshape((-1,) + (1,) * (values.ndim - 1))
        rng = np.random.default_rng(seed)
        grid_rows = np.repeat(np.arange(n), samples)
        total = np.zeros(values.shape if problem.embedding is None else values.shape[:-1], dtype=np.float64)
        for first in range(0, len(grid_rows), batch_size):
            rows = grid_rows[first : first + batch_size]
            points = values[rows] + sigma[rows] * rng.standard_normal(values[rows].shape).astype(values.dtype)
            g, _ = _gradients(problem, points, rows)
            if problem.embedding is not None:
                g = np.sqrt((g.astype(np.float64) ** 2).sum(axis=-1))
            elif absolute:
                g = np.abs(g)
            np.add.at(total, rows, g)
    return (total / samples).astype(values.dtype)


# ----- Grad-CAM ---------------------------------------------------------------------------------------------------
def _resize_axis(a: np.ndarray, axis: int, size: int) -> np.ndarray:
    """Linear interpolation along one axis with half-pixel centres (torch's align_corners=False)."""
    length = a.shape[axis]
    src = np.maximum((np.arange(size) + 0.5) * (length / size) - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), length - 1)
    hi = np.minimum(lo + 1, length - 1)
    frac = (src - lo).reshape([-1 if d == axis else 1 for d in range(a.ndim)])
    return np.take(a, lo, axis=axis) * (1 - frac) + np.take(a, hi, axis=axis) * frac


def resize_bilinear(maps: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Resize (N, *spatial) maps to `size` (one int per spatial dim), (bi)linear with align_corners=False."""
    for i, s in enumerate(size):
        if maps.shape[1 + i] != s:
            maps = _resize_axis(maps, 1 + i, int(s))
    return maps


def _cam_size(name: str, size, x: np.ndarray, cam: np.ndarray) -> tuple:
    """The maps' output size: `size`, else the input's trailing spatial dims when it has enough, else the layer's."""
    spatial = cam.ndim - 1
    if size is None:
        return tuple(x.shape[-spatial:]) if x.ndim - 1 >= spatial else cam.shape[1:]
    size = (size,) * spatial if isinstance(size, (int, np.integer)) else tuple(size)
    if len(size) != spatial or any(not isinstance(s, (int, np.integer)) or s < 1 for s in size):
        raise ValueError(f"{name}: size {size!r}; expected {spatial} positive int(s) for a {spatial}-D map")
    return size


def grad_cam(model: Module, layer: Module | str, x, target=None, size=None) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017): ReLU(Σ_c mean_hw(∂score/∂A_c) · A_c) at a convolutional layer's output A.

    Returns (N, H, W) maps scaled so each one's maximum is 1 (an all-zero map stays zero), bilinearly upsampled
    (align_corners=False) to the input's spatial size, or to `size`. A Conv1d layer gives (N, L) maps.
    """
    name = "grad_cam"
    _check_model(name, model)
    layer_name, module = _find_module(name, model, layer, "layer")
    array = _as_array(name, x)
    n, kind = array.shape[0], type(module).__name__
    captured: list = []

    def substitute(mod, args, output):
        if captured:
            return None
        shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
        if not (isinstance(output, Tensor) and (output.ndim == 4 or (output.ndim == 3 and kind in _SPATIAL_1D))):
            raise ValueError(
                f"{name}: layer '{layer_name}' ({kind}) gives output {shape}; expected a convolutional layer "
                "(nn.Conv2d or a block ending in one) whose output is 4-D (N, C, H, W)"
            )
        captured.append(Tensor(output.detach().cpu().numpy(), requires_grad=True))
        return captured[0]

    with _explaining(name, model):
        with no_grad():
            logits = _logits(name, model(Tensor(array)), n).cpu().numpy()
        problem = _Problem(name, model, array, _resolve_targets(name, target, logits), logits.shape[1])
        with module.register_forward_hook(substitute):
            scores = _target_scores(problem, _logits(name, model(Tensor(array)), n), np.arange(n))
        if not captured:
            raise ValueError(f"{name}: layer '{layer_name}' ({kind}) was not called by the model's forward")
        (g,) = grad(scores.sum(), captured[0], allow_unused=True)
    activations = captured[0].detach().cpu().numpy()
    g = np.zeros_like(activations) if g is None else g.cpu().numpy()
    spatial = tuple(range(2, activations.ndim))
    channel_weights = g.mean(axis=spatial, keepdims=True)
    cam = np.maximum((channel_weights * activations).sum(axis=1), 0)
    cam = resize_bilinear(cam, _cam_size(name, size, array, cam))
    peak = cam.reshape(n, -1).max(axis=1).reshape((-1,) + (1,) * (cam.ndim - 1))
    return (cam / np.where(peak > 0, peak, 1)).astype(activations.dtype)


# ----- occlusion ----------------------------------------------------------------------------------------------------
def _window_starts(length: int, window: int, stride: int) -> list[int]:
    """Window starts stepping by stride, plus one flush with the end so every position is covered."""
    starts = list(range(0, max(length - window, 0) + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


def _pair(name: str, what: str, value, dims: int) -> tuple:
    values = (value,) * dims if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != dims or any(not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1 for v in values):
        raise ValueError(f"{name}: {what} {value!r}; expected a positive int or {dims} positive ints")
    return values


def occlusion(
    model: Module, x, target=None, window=8, stride=4, baseline: float = 0.0, batch_size: int = 64,
) -> np.ndarray:
    """Occlusion (Zeiler & Fergus 2014): how much the target score drops when a window is set to `baseline`.

    The window slides over the last two dims of (N, C, H, W) or (N, H, W) inputs (all channels at once) and over
    the features of (N, D) inputs; each position gets the mean drop over the windows covering it. Returns
    (N, H, W) for 4-D inputs, x's shape otherwise. The occluded copies run batch_size at a time.
    """
    name = "occlusion"
    _check_positive(name, "batch_size", batch_size)
    if not isinstance(baseline, (int, float, np.number)) or isinstance(baseline, bool):
        raise TypeError(f"{name}: baseline must be a number (the value the window is set to), got {baseline!r}")
    with _explaining(name, model):
        problem = _prepare(name, model, x, target)
        values, n = problem.values, len(problem.targets)
        spatial = values.shape[1:] if values.ndim <= 3 else values.shape[-2:]
        dims = len(spatial)
        window = tuple(min(w, s) for w, s in zip(_pair(name, "window", window, dims), spatial))
        stride = _pair(name, "stride", stride, dims)
        starts = [_window_starts(s, w, st) for s, w, st in zip(spatial, window, stride)]
        boxes = [tuple(slice(c, c + w) for c, w in zip(corner, window)) for corner in itertools.product(*starts)]
        count = np.zeros(spatial)
        for box in boxes:
            count[box] += 1
        drop = np.zeros((n, *spatial))
        full = _scores(problem, values, np.arange(n), batch_size)
        for sample in range(n):
            occluded = np.repeat(values[sample : sample + 1], len(boxes), axis=0)
            for k, box in enumerate(boxes):
                occluded[(k, Ellipsis, *box)] = baseline
            scores = _scores(problem, occluded, np.full(len(boxes), sample), batch_size)
            for box, score in zip(boxes, scores):
                drop[(sample, *box)] += full[sample] - score
    return (drop / count).astype(values.dtype)
