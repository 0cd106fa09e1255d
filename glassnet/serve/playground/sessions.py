"""Playground sessions: one small glassnet network per browser tab, trained in the server process.

A `Session` owns its data, its `PlaygroundNet`, its optimiser and a `Recorder` (for `diagnose`); every call that
reads or changes it takes the session's lock, so the page's stream and the session API can use it from different
worker threads. Nothing here starts a thread: stepping runs in whichever thread calls `advance`. `SessionManager`
keeps at most `max_sessions` of them and drops those idle for longer than `idle_timeout` seconds.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.data import toy
from glassnet.lens import Recorder, diagnose, trace
from glassnet.optim.regularization import l1_penalty, l2_penalty
from glassnet.serve.playground.config import POINTS, PlaygroundConfig

PLANE = 6.0  # the input plane is [-PLANE, PLANE]², as in TensorFlow Playground
OUTPUT_GRID = 48  # resolution of the decision-surface map
NEURON_GRID = 24  # resolution of each neuron's map (every other grid point)
HISTORY_POINTS = 600  # loss points kept for the chart (older ones are thinned)
DIAGNOSE_EVERY = 20  # steps between two runs of `diagnose`
_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "linear": nn.Identity,
}


class SessionError(Exception):
    """A session request that cannot be served: `status` is the HTTP status the API answers with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


# ----- data -----------------------------------------------------------------------------------------------------
def make_points(dataset: str, noise: float, seed: int) -> tuple[numpy.ndarray, numpy.ndarray]:
    """POINTS points (float32, (N, 2), within about ±5) and labels 0/1 of one of the playground's datasets."""
    if dataset == "circle":
        x, y = toy.circles(POINTS, noise=noise * 0.4, factor=0.45, seed=seed)
        return x * 5, 1 - y  # class 1 (blue in the page) outside, as in TF Playground
    if dataset == "xor":
        x, y = toy.xor(POINTS, noise=noise * 0.4, seed=seed)
        return x * 5, y
    if dataset == "gaussian":
        centers = numpy.array([[2.0, 2.0], [-2.0, -2.0]])
        x, y = toy.blobs(POINTS, noise=0.6 + 4 * noise, centers=centers, seed=seed)
        return x, y
    if dataset == "spiral":
        x, y = toy.spiral(POINTS, noise=noise, n_classes=2, seed=seed)
        return x * 5, y
    if dataset == "moons":
        x, y = toy.moons(POINTS, noise=noise * 0.4, seed=seed)
        return ((x - numpy.array([0.5, 0.25], dtype=numpy.float32)) * 3.2).astype(numpy.float32), y
    raise ValueError(f"make_points: unknown dataset {dataset!r}")


def feature_columns(points: numpy.ndarray, names: tuple[str, ...]) -> numpy.ndarray:
    """The network's inputs for plane points (N, 2): x1 and x2 are the coordinates (−6…6, as in TF Playground,
    whose raw inputs train well at its default learning rate); squares and product are divided by 6 to stay in
    that range."""
    x1, x2 = points[:, 0], points[:, 1]
    table = {
        "x1": x1,
        "x2": x2,
        "x1_squared": x1 * x1 / PLANE,
        "x2_squared": x2 * x2 / PLANE,
        "x1_x2": x1 * x2 / PLANE,
        "sin_x1": numpy.sin(x1),
        "sin_x2": numpy.sin(x2),
    }
    return numpy.stack([table[n] for n in names], axis=1).astype(numpy.float32)


def feature_display_scale(name: str) -> float:
    """What a feature is divided by for its map in the page (so it spans about [-1, 1])."""
    return 1.0 if name.startswith("sin") else PLANE


def plane_grid(size: int) -> numpy.ndarray:
    """size² points covering the plane, row by row from the top (x2 = +PLANE) down, left to right."""
    ticks = numpy.linspace(-PLANE, PLANE, size, dtype=numpy.float32)
    x1, x2 = numpy.meshgrid(ticks, ticks[::-1])
    return numpy.stack([x1.ravel(), x2.ravel()], axis=1)


def _quantize(values: numpy.ndarray) -> numpy.ndarray:
    return numpy.rint((numpy.clip(values, -1.0, 1.0) + 1.0) * 127.5).astype(numpy.uint8)


def encode_map(values: numpy.ndarray) -> str:
    """Values in [-1, 1] (clipped) as base64 bytes 0..255, the page's compact form of a map."""
    return base64.b64encode(_quantize(values).tobytes()).decode("ascii")


def encode_columns(values: numpy.ndarray) -> list[str]:
    """Each column of (points, units) as one encoded map (quantised in one pass: a frame has dozens)."""
    q = numpy.ascontiguousarray(_quantize(values).T)
    return [base64.b64encode(row.tobytes()).decode("ascii") for row in q]


# ----- the network ----------------------------------------------------------------------------------------------
class PlaygroundNet(nn.Module):
    """Features → hidden layers (one activation each) → one logit: P(class 1) = sigmoid(logit)."""

    def __init__(
        self, n_inputs: int, hidden: tuple[int, ...], activation: str, generator: gn.Generator | None = None
    ) -> None:
        super().__init__()
        sizes = [n_inputs, *hidden, 1]
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])
        self.activations = nn.ModuleList([_ACTIVATIONS[activation]() for _ in hidden])
        for layer in self.layers:  # a private stream: sessions in other threads do not shift each other's draws
            nn.init.layer_default_(layer.weight, layer.bias, generator=generator)

    def forward(self, x: gn.Tensor) -> gn.Tensor:
        """(N, features) → (N,) logits."""
        return self.outputs(x)[-1].reshape(-1)

    def outputs(self, x: gn.Tensor) -> list[gn.Tensor]:
        """Every layer's output: each hidden layer after its activation, then the (N, 1) logits."""
        out = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.activations):
                x = self.activations[i](x)
            out.append(x)
        return out


def _parameter_layer(name: str) -> int | None:
    m = re.match(r"layers\.(\d+)\.", name)
    return int(m.group(1)) if m else None


def _json_array(a: Any, limit: int = 64) -> Any:
    """An array as nested lists when it has at most `limit` values, else a one-line summary."""
    if a is None:
        return None
    arr = numpy.asarray(a, dtype=numpy.float64)
    if arr.size <= limit:
        return arr.tolist()
    return (
        f"{arr.size} values, shape {tuple(arr.shape)}: mean {arr.mean():.4g}, min {arr.min():.4g}, max {arr.max():.4g}"
    )


# ----- a session --------------------------------------------------------------------------------------------------
class Session:
    """One playground: data, network, optimiser, step counter and loss history, behind one lock."""

    def __init__(self, config: PlaygroundConfig, session_id: str | None = None) -> None:
        self.id = session_id or secrets.token_urlsafe(9)
        self.config = config
        self.lock = threading.Lock()
        self.last_used = time.monotonic()
        self.playing = False
        self.steps_per_frame = 1
        data_seed, init_seed, batch_seed = (
            int(s.generate_state(1)[0]) for s in numpy.random.SeedSequence(config.seed).spawn(3)
        )
        points, labels = make_points(config.dataset, config.noise, data_seed)
        order = numpy.random.Generator(numpy.random.PCG64(data_seed)).permutation(len(points))
        points, labels = points[order], labels[order]
        n_train = max(1, min(len(points) - 1, round(config.train_fraction * len(points))))
        self.train_points, self.test_points = points[:n_train], points[n_train:]
        self.train_labels, self.test_labels = labels[:n_train], labels[n_train:]
        self._train_x = gn.Tensor(feature_columns(self.train_points, config.features))
        self._train_y = gn.Tensor(self.train_labels.astype(numpy.float32))
        self._test_x = gn.Tensor(feature_columns(self.test_points, config.features))
        self._test_y = gn.Tensor(self.test_labels.astype(numpy.float32))
        # both sets in one batch: the losses after each call to advance() cost one forward pass, not two
        self._all_x = gn.Tensor(numpy.concatenate([self._train_x.data, self._test_x.data]))
        self._all_y = gn.Tensor(numpy.concatenate([self._train_y.data, self._test_y.data]))
        grid = plane_grid(OUTPUT_GRID)
        self._grid_x = gn.Tensor(feature_columns(grid, config.features))
        self._grid_features = feature_columns(grid, config.features) / numpy.array(  # the input column's maps
            [feature_display_scale(n) for n in config.features], dtype=numpy.float32
        )

        self.model = PlaygroundNet(
            len(config.features), config.hidden, config.activation, generator=gn.Generator(init_seed)
        )
        params = self.model.parameters()
        if config.optimizer == "adam":
            self.optimizer = gn.optim.Adam(params, lr=config.learning_rate)
        else:
            momentum = 0.9 if config.optimizer == "momentum" else 0.0
            self.optimizer = gn.optim.SGD(params, lr=config.learning_rate, momentum=momentum)
        self.recorder = Recorder(every=5, max_records=400).attach(self.model, self.optimizer)
        self._batches = numpy.random.Generator(numpy.random.PCG64(batch_seed))
        self._order = numpy.arange(0)
        self._position = 0
        self.step_count = 0
        self.train_loss, self.test_loss = self._losses()
        self.history: list[tuple[int, float, float]] = [(0, self.train_loss, self.test_loss)]
        self._history_stride = 1
        self.findings: list[dict] = []
        self._diagnosed_at = -1

    # ----- training ---------------------------------------------------------------------------------------------
    def _next_batch(self) -> numpy.ndarray:
        """The next `batch_size` training indices, walking through a fresh permutation each epoch."""
        n, size = len(self.train_points), min(self.config.batch_size, len(self.train_points))
        if self._position + size > len(self._order):
            self._order = self._batches.permutation(n)
            self._position = 0
        batch = self._order[self._position : self._position + size]
        self._position += size
        return batch

    def _penalty(self) -> gn.Tensor | None:
        cfg = self.config
        if cfg.regularization == "none" or cfg.regularization_rate == 0:
            return None
        weights = [layer.weight for layer in self.model.layers]
        if cfg.regularization == "l1":
            return cfg.regularization_rate * l1_penalty(weights)
        return (cfg.regularization_rate / 2) * l2_penalty(weights)  # gradient: rate · w

    def _losses(self) -> tuple[float, float]:
        n = len(self.train_points)
        with gn.no_grad():
            each = F.binary_cross_entropy_with_logits(self.model(self._all_x), self._all_y, reduction="none")
        each = each.numpy().astype(numpy.float64)
        return float(each[:n].mean()), float(each[n:].mean())

    def advance(self, steps: int) -> dict[str, Any]:
        """Take `steps` optimiser steps (one mini-batch each); return the step count and both losses after them."""
        with self.lock:
            self.last_used = time.monotonic()
            for _ in range(steps):
                batch = self._next_batch()
                logits = self.model(gn.Tensor(self._train_x.data[batch]))
                loss = F.binary_cross_entropy_with_logits(logits, gn.Tensor(self._train_y.data[batch]))
                self.recorder.record_loss(loss)
                penalty = self._penalty()
                if penalty is not None:
                    loss = loss + penalty
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                self.step_count += 1
            self.train_loss, self.test_loss = self._losses()
            self._remember()
            return self.losses()

    def _remember(self) -> None:
        """Add the current losses to the chart's history, thinning it (every other point) when full."""
        if self.step_count % self._history_stride == 0 and self.history[-1][0] != self.step_count:
            self.history.append((self.step_count, self.train_loss, self.test_loss))
        if len(self.history) > HISTORY_POINTS:
            self.history = self.history[::2]
            self._history_stride *= 2

    def losses(self) -> dict[str, Any]:
        """{"step", "train_loss", "test_loss"} now (losses over the whole train and test sets, without penalty)."""
        return {"step": self.step_count, "train_loss": self.train_loss, "test_loss": self.test_loss}

    # ----- what the page draws ------------------------------------------------------------------------------------
    def _health(self) -> list[dict]:
        """`diagnose` on the recording, refreshed every DIAGNOSE_EVERY steps."""
        if self.step_count >= DIAGNOSE_EVERY and self.step_count - self._diagnosed_at >= DIAGNOSE_EVERY:
            self._diagnosed_at = self.step_count
            try:
                found = diagnose(self.recorder)
            except ValueError:  # nothing recorded yet
                found = []
            self.findings = [
                {"kind": f.kind, "severity": f.severity, "message": f.message, "remedy": f.remedy} for f in found
            ]
        return self.findings

    def frame(self) -> dict[str, Any]:
        """The state the page draws: losses, weights and their last gradients, every neuron's map, findings."""
        with self.lock:
            return self._frame()

    def _frame(self) -> dict[str, Any]:
        layers = self.model.layers
        with gn.no_grad():
            outputs = [o.numpy() for o in self.model.outputs(self._grid_x)]
        keep = numpy.zeros((OUTPUT_GRID, OUTPUT_GRID), dtype=bool)
        keep[::2, ::2] = True
        keep = keep.ravel()
        neuron_maps = [encode_columns(self._grid_features[keep])]
        neuron_maps += [encode_columns(out[keep]) for out in outputs[:-1]]
        probability = 1.0 / (1.0 + numpy.exp(-outputs[-1][:, 0].astype(numpy.float64)))
        neuron_maps.append([encode_map(2 * probability[keep] - 1)])
        return {
            **self.losses(),
            "playing": self.playing,
            "weights": [layer.weight.data.tolist() for layer in layers],
            "biases": [layer.bias.data.tolist() for layer in layers],
            "gradients": [None if layer.weight.grad is None else layer.weight.grad.data.tolist() for layer in layers],
            "maps": {
                "neuron_size": NEURON_GRID,
                "neurons": neuron_maps,
                "output_size": OUTPUT_GRID,
                "output": encode_map(2 * probability - 1),
            },
            "findings": self._health(),
        }

    def state(self) -> dict[str, Any]:
        """The frame plus the configuration, the points and the loss history (what a fresh page needs)."""
        with self.lock:
            self.last_used = time.monotonic()
            frame = self._frame()
            frame.update(
                {
                    "id": self.id,
                    "config": self.config.to_dict(),
                    "plane": PLANE,
                    "train_points": numpy.column_stack([self.train_points, self.train_labels]).tolist(),
                    "test_points": numpy.column_stack([self.test_points, self.test_labels]).tolist(),
                    "history": [list(h) for h in self.history],
                    "parameter_names": [n for n, _ in self.model.named_parameters()],
                }
            )
            return frame

    # ----- backprop for one point ----------------------------------------------------------------------------------
    def trace_point(self, index: int) -> dict[str, Any]:
        """`glassnet.lens.trace` of the loss on training point `index`: every backward step in the order it runs."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.train_points):
            raise SessionError(
                f"trace: point must be an integer index of a training point, 0 to "
                f"{len(self.train_points) - 1}; got {index!r}"
            )
        with self.lock:
            self.last_used = time.monotonic()
            self.model.eval()  # no dropout here; eval keeps the Recorder from counting this forward as training
            try:
                logit = self.model(gn.Tensor(self._train_x.data[index : index + 1]))
                loss = F.binary_cross_entropy_with_logits(logit, gn.Tensor(self._train_y.data[index : index + 1]))
                tr = trace(loss, model=self.model)
            finally:
                self.model.train()
        step_layer: dict[int, int] = {}
        for step in reversed(tr.steps):  # forward order: a node belongs to the deepest layer among its inputs
            layer = -1
            for inp in step.inputs:
                owner = _parameter_layer(inp.label) if inp.is_leaf else None
                if owner is not None:
                    layer = max(layer, owner)
                m = re.search(r"\(step (\d+)\)$", inp.label)
                if m and int(m.group(1)) in step_layer:
                    layer = max(layer, step_layer[int(m.group(1))])
            step_layer[step.number] = layer
        steps = []
        for step in tr.steps:
            steps.append(
                {
                    "number": step.number,
                    "op": step.op,
                    "forward": step.forward_formula,
                    "derivative": step.derivative,
                    "layer": step_layer[step.number],
                    "output": _json_array(step.output_value),
                    "upstream": _json_array(step.upstream),
                    "inputs": [
                        {
                            "label": i.label,
                            "shape": list(i.shape),
                            "value": _json_array(i.value),
                            "gradient": _json_array(i.grad),
                            "destination": i.destination,
                        }
                        for i in step.inputs
                    ],
                }
            )
        return {
            "point": index,
            "x": self.train_points[index].tolist(),
            "label": int(self.train_labels[index]),
            "loss": float(tr.loss_value),
            "steps": steps,
            "gradients": {name: numpy.asarray(g, dtype=numpy.float64).tolist() for name, g in tr.grads.items()},
        }


# ----- many sessions ----------------------------------------------------------------------------------------------
class SessionManager:
    """The live sessions of one server: at most `max_sessions`, each dropped after `idle_timeout` idle seconds."""

    def __init__(
        self, max_sessions: int = 16, idle_timeout: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_sessions < 1 or not idle_timeout > 0:
            raise ValueError(
                f"SessionManager: max_sessions must be ≥ 1 and idle_timeout > 0, got {max_sessions} and {idle_timeout}"
            )
        self.max_sessions, self.idle_timeout, self.clock = max_sessions, idle_timeout, clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.streaming: set[str] = set()  # sessions whose page holds a frame stream open (never idle)

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def reap(self) -> list[str]:
        """End sessions idle for longer than the timeout (not those streaming to an open page); their ids."""
        now = self.clock()
        with self._lock:
            stale = [
                sid
                for sid, s in self._sessions.items()
                if sid not in self.streaming and now - s.last_used > self.idle_timeout
            ]
            for sid in stale:
                self._end(sid)
        return stale

    def create(self, config: PlaygroundConfig) -> Session:
        """A new session, or SessionError 429 when the server already runs `max_sessions`."""
        self.reap()
        with self._lock:
            if len(self._sessions) >= self.max_sessions:
                raise SessionError(
                    f"the server already runs {self.max_sessions} playground sessions (its limit); "
                    "close another tab or try again later",
                    status=429,
                )
            session = Session(config)
            session.last_used = self.clock()
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Session:
        """The live session `session_id` (marked as used now), or SessionError 404."""
        self.reap()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise SessionError(
                    f"no playground session {session_id!r} (it ended: tab closed, idle for more than "
                    f"{self.idle_timeout:g} s, or the server restarted)",
                    status=404,
                )
            session.last_used = self.clock()
            return session

    def delete(self, session_id: str) -> bool:
        """End a session; False when there was none by that id."""
        with self._lock:
            return self._end(session_id)

    def _end(self, session_id: str) -> bool:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        session.playing = False
        session.recorder.detach()
        self.streaming.discard(session_id)
        return True


def steps_for(value: Any, name: str = "steps", maximum: int = 10_000) -> int:
    """A validated step count (1..maximum)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise SessionError(f"{name}: expected an integer from 1 to {maximum}, got {value!r}")
    return value


__all__ = [
    "PLANE",
    "PlaygroundNet",
    "Session",
    "SessionError",
    "SessionManager",
    "encode_map",
    "feature_columns",
    "encode_columns",
    "feature_display_scale",
    "make_points",
    "plane_grid",
    "steps_for",
]
