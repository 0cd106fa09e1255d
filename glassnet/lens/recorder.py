"""The Recorder: per-layer statistics over training (activations, gradients, weights, update ratios), bounded in memory.

It observes through hooks only: forward hooks on the model's leaf modules (activation statistics), and the
optimiser's step pre/post hooks (gradient and weight norms just before the update, update-to-weight ratios after).
Use it standalone,

    rec = Recorder(every=5).attach(model, optimizer)
    for x, y in loader: ...; loss.backward(); rec.record_loss(loss); optimizer.step()
    rec.record_epoch(epoch, loss=train_loss, val_loss=val_loss)

or pass it to a Trainer as a callback (it attaches on fit begin and reads the epoch logs). Without an optimiser,
call `record_gradients()` after backward and `end_step()` after the update yourself.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from glassnet.autograd import is_grad_enabled
from glassnet.tensor import Tensor

try:  # a Callback when the training package is there; duck typing is enough otherwise
    from glassnet.train.callbacks import Callback as _Base
except Exception:  # pragma: no cover
    _Base = object  # type: ignore[misc,assignment]

__all__ = ["Recorder", "Recording"]

_SATURATING = {"Tanh", "Sigmoid"}
_RECTIFIERS = {"ReLU"}


def _norm(a: numpy.ndarray) -> float:
    return float(numpy.sqrt(numpy.sum(numpy.square(a, dtype=numpy.float64))))


class _Bounded(list):
    """A list that keeps at most `cap` entries by dropping every other one when full (decimation)."""

    def __init__(self, cap: int):
        super().__init__()
        self.cap = max(2, cap)
        self.stride = 1  # how many appends one kept entry now stands for
        self._skip = 0

    def add(self, item: Any, skip: bool = True) -> None:
        """Append (keeping one in `stride` appends when `skip`), halving the list when it is full."""
        if skip and self._skip:
            self._skip -= 1
            return
        self.append(item)
        self._skip = self.stride - 1 if skip else 0
        if len(self) > self.cap:
            del self[1::2]
            self.stride *= 2
            self._skip = self.stride - 1


class Recording:
    """What a Recorder collected: per-step records, batch losses and epoch logs, plus each layer's kind.

    `records` is a list of dicts `{"step", "activations": {layer: stats}, "params": {name: stats}}`;
    `series(kind, name, key)` pulls one statistic over steps, e.g. `series("params", "0.weight", "grad_norm")`.
    """

    def __init__(self, max_records: int = 1000):
        self.records = _Bounded(max_records)
        self.losses = _Bounded(max_records)  # (step, loss)
        self.epochs = _Bounded(max_records)  # dicts: epoch, loss, val_loss, ...
        self.layer_kinds: dict[str, str] = {}  # module name -> class name, in forward order
        self.param_order: list[str] = []  # parameter names in model order (first layer first)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def empty(self) -> bool:
        """True when nothing at all was recorded."""
        return not (self.records or self.losses or self.epochs)

    def series(self, kind: str, name: str, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of one statistic: kind "activations" (per layer) or "params" (per parameter)."""
        steps, values = [], []
        for r in self.records:
            stats = r[kind].get(name)
            if stats is not None and key in stats:
                steps.append(r["step"])
                values.append(stats[key])
        return steps, values

    def _repr_html_(self) -> str:
        """Jupyter's view: what was recorded, and each parameter's and layer's numbers at the last recorded step."""
        from glassnet.display import curves_svg, table_html

        head = (f"<div><b>Recording</b>: {len(self.records)} recorded steps, {len(self.losses)} losses, "
                f"{len(self.epochs)} epochs, {len(self.layer_kinds)} layers</div>")
        parts = [head]
        if self.epochs:
            keys = [k for k in ("loss", "val_loss") if any(e.get(k) is not None for e in self.epochs)]
            parts.append(curves_svg({k: self.epoch_series(k) for k in keys}, "loss per epoch"))
        if self.records:
            last = self.records[-1]
            for kind, label in (("params", "parameter"), ("activations", "layer")):
                stats = last.get(kind) or {}
                keys = sorted({k for v in stats.values() for k, x in v.items() if isinstance(x, (int, float))})
                if stats and keys:
                    rows = [(name, *(v.get(k) for k in keys)) for name, v in stats.items()]
                    parts.append(table_html((label, *keys), rows, caption=f"{kind} at step {last['step']}"))
        return "<div>" + "".join(parts) + "</div>"

    def epoch_series(self, key: str) -> list[float]:
        """One epoch-level quantity (e.g. "loss", "val_loss") over epochs; None where an epoch lacked it."""
        return [e.get(key) for e in self.epochs]


class Recorder(_Base):
    """Record per-layer activation/gradient/weight/update statistics every `every` steps, in bounded memory."""

    def __init__(self, every: int = 1, histograms: bool = False, max_records: int = 1000, bins: int = 30):
        if every < 1:
            raise ValueError(f"Recorder: every must be ≥ 1, got {every}")
        self.every, self.histograms, self.bins = every, histograms, bins
        self.recording = Recording(max_records)
        self.step = 0
        self.model: Any = None
        self.optimizer: Any = None
        self._handles: list = []
        self._pending: dict | None = None
        self._before: dict[int, numpy.ndarray] = {}
        self._names: dict[int, str] = {}
        self._run_log: Any = None  # a glassnet.train.runlog.RunLog once stream_to() is called

    def stream_to(self, target: Any) -> Recorder:
        """Also append every record to a run folder's layers.jsonl as it is taken (`target`: a path, a RunDir or
        a SummaryWriter), so `glassnet serve` shows the layers live. A Trainer with a run_dir does this itself."""
        from glassnet.train.runlog import RunLog

        log = RunLog.open(getattr(target, "log_dir", None) or getattr(target, "path", None) or target)
        if self._run_log is not None and self._run_log is not log:
            self._run_log.close()
        self._run_log = log
        return self

    # ----- attaching ---------------------------------------------------------------------------------------------
    def attach(self, model: Any, optimizer: Any = None) -> Recorder:
        """Hook into `model` (its leaf modules' outputs) and, if given, `optimizer` (grads and updates)."""
        self.detach()
        self.model, self.optimizer = model, optimizer
        named = list(model.named_modules())
        for name, module in named:
            if next(iter(module.children()), None) is None:
                label = name or type(module).__name__
                self._handles.append(module.register_forward_hook(self._forward_hook(label, type(module).__name__)))
        self._names = {id(p): n for n, p in model.named_parameters()}
        self.recording.param_order = [n for n, _ in model.named_parameters()]
        if optimizer is not None:
            self._handles.append(optimizer.register_step_pre_hook(lambda opt: self.record_gradients()))
            self._handles.append(optimizer.register_step_post_hook(lambda opt: self.end_step()))
        return self

    def detach(self) -> None:
        """Remove every hook (the recording stays)."""
        for h in self._handles:
            h.remove()
        self._handles = []

    @property
    def _active(self) -> bool:
        return self.step % (self.every * self.recording.records.stride) == 0

    def _record(self) -> dict:
        if self._pending is None:
            self._pending = {"step": self.step, "activations": {}, "params": {}}
        return self._pending

    def _forward_hook(self, label: str, kind: str):
        def hook(module, args, output):
            if not (is_grad_enabled() and getattr(module, "training", True) and self._active):
                return None
            if not isinstance(output, Tensor) or output.data.dtype.kind != "f":
                return None
            self.recording.layer_kinds.setdefault(label, kind)
            acts = self._record()["activations"]
            if label in acts:  # the layer ran twice in one step: keep the first call
                return None
            a = output.data
            stats: dict[str, Any] = {"kind": kind, "mean": float(a.mean()), "std": float(a.std()),
                                     "zero_fraction": float(numpy.mean(a == 0))}
            if kind == "Tanh":
                stats["saturated_fraction"] = float(numpy.mean(numpy.abs(a) > 0.99))
            elif kind == "Sigmoid":
                stats["saturated_fraction"] = float(numpy.mean((a < 0.01) | (a > 0.99)))
            if kind in _RECTIFIERS and a.ndim >= 1:
                unit_axis = 1 if a.ndim > 2 else a.ndim - 1
                other = tuple(i for i in range(a.ndim) if i != unit_axis)
                active = (a > 0).any(axis=other) if other else a > 0
                stats["dead_fraction"] = float(1.0 - numpy.mean(active))
            if self.histograms:
                stats["histogram"] = numpy.histogram(a, bins=self.bins)
            acts[label] = stats
            return None

        return hook

    # ----- step-by-step calls --------------------------------------------------------------------------------------
    def record_gradients(self) -> None:
        """Read every parameter's gradient and weight norms (call after backward, before the update)."""
        if self.model is None:
            raise RuntimeError("Recorder.record_gradients: not attached; call attach(model, optimizer) first")
        if not self._active:
            return
        params = self._record()["params"]
        self._before = {}
        for name, p in self.model.named_parameters():
            stats: dict[str, Any] = {"weight_norm": _norm(p.data)}
            if p.grad is not None:
                g = p.grad.data
                stats["grad_norm"] = _norm(g)
                if self.histograms:
                    stats["grad_histogram"] = numpy.histogram(g[numpy.isfinite(g)], bins=self.bins)
            if self.histograms:
                stats["weight_histogram"] = numpy.histogram(p.data[numpy.isfinite(p.data)], bins=self.bins)
            params[name] = stats
            self._before[id(p)] = p.data.copy()

    def end_step(self) -> None:
        """Close the current step: compute update/weight ratios from the copies taken before the update."""
        if self._pending is not None and self.model is not None and self._before:
            params = self._pending["params"]
            for name, p in self.model.named_parameters():
                before = self._before.get(id(p))
                if before is None or name not in params:
                    continue
                w = _norm(before)
                params[name]["update_ratio"] = _norm(p.data - before) / w if w > 0 else math.inf
        if self._pending is not None:
            self.recording.records.add(self._pending, skip=False)  # `_active` already decimates
            if self._run_log is not None:
                self._run_log.layer_record(self._pending)
        self._pending, self._before = None, {}
        self.step += 1

    def record_loss(self, loss: Any) -> None:
        """Record this step's training loss (a Tensor or a number)."""
        value = float(loss.data) if isinstance(loss, Tensor) else float(loss)
        self.recording.losses.add((self.step, value))

    def record_epoch(self, epoch: int, **logs: Any) -> None:
        """Record epoch-level numbers, e.g. `record_epoch(3, loss=0.41, val_loss=0.52)`."""
        entry = {"epoch": epoch}
        for k, v in logs.items():
            try:
                entry[k] = float(v.data) if isinstance(v, Tensor) else float(v)
            except (TypeError, ValueError):
                continue
        self.recording.epochs.add(entry)

    # ----- callback events (Trainer) -------------------------------------------------------------------------------
    def on_fit_begin(self, logs: dict | None = None) -> None:
        """Attach to the trainer's model and optimiser unless already attached."""
        trainer = getattr(self, "trainer", None)
        if not self._handles and trainer is not None:
            self.attach(trainer.model, getattr(trainer, "optimizer", None))
        if self._run_log is None and getattr(trainer, "run_dir", None) is not None:
            self.stream_to(trainer.run_dir)

    def on_after_backward(self, trainer: Any = None) -> None:
        """Gradients are read by the optimiser pre-step hook; without an optimiser, read them here."""
        if self.optimizer is None and self.model is not None:
            self.record_gradients()

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Record the batch loss (and close the step when no optimiser hook does)."""
        if logs and logs.get("loss") is not None:
            self.record_loss(logs["loss"])
        if self.optimizer is None and self.model is not None:
            self.end_step()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Record the epoch's logs (loss, val_loss, metrics)."""
        self.record_epoch(epoch, **(logs or {}))

    def on_fit_end(self, logs: dict | None = None) -> None:
        """Remove the hooks; the recording stays (and is saved as recording.json in the Trainer's run folder, where
        `glassnet report` finds it)."""
        self.detach()
        run_dir = getattr(getattr(self, "trainer", None), "run_dir", None)
        if run_dir is not None:
            from glassnet.lens.report import save_recording

            save_recording(self, run_dir.path)
        if self._run_log is not None:
            self._run_log.close()
            self._run_log = None
