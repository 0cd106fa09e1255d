"""`gn.compile(step)`: run a training step once while recording it, then replay the recording.

The first call of a compiled step (and the first call for each new set of input shapes and dtypes) runs the step
eagerly, exactly as without `compile`, while it records every op (`autograd.observe_ops`), every backward walk and
every optimiser `zero_grad`/`step`. Later calls replay that *schedule*: each op's `forward` on plain arrays, each
backward as a fixed list of the same `backward` calls in the order the walk visited them, then the optimiser
calls. No Tensors are made in between, there is no graph to build, no heap to order and no per-node checks, so
the result is bitwise what the eager step computes (the same NumPy calls on the same values in the same order).
The hottest ops (Linear, Tanh, ReLU, MSE: glassnet/lowering.py) are not even called: their array calls are written
into the replay inline, and a backward walk made only of such ops becomes plain straight-line code; the parameters
they read are checked (shape, dtype, requires_grad) on every replay, and one that changed means a new capture.
`gn.compile(step, lower=False)` replays every op through its own methods: the reference the inline code equals.

What cannot be replayed falls back to eager, with a one-line reason in `compiled.fallback_reason` (and a warning):
reading a tensor's value inside the step (`.item()`, `.numpy()`, `if loss > 0:` ...), tensor hooks,
`create_graph`/`autograd.grad`, anomaly mode. As in tinygrad's TinyJit, Python control flow that depends on
something other than the arguments' shapes is the user's business: the replay repeats the path taken at capture.
Tensors that change from call to call must be arguments of the step; a tensor made inside the step from Python
data without an op (`gn.tensor(...)`, `.detach()`) is refused, since a replay would reuse its captured value.

`compiled.schedule` prints the recorded schedule; `gn.lens.draw_graph(compiled.schedule)` draws it.
"""

from __future__ import annotations

import builtins
import functools
import warnings
from collections.abc import Callable
from typing import Any

from glassnet import autograd, lowering
from glassnet.autograd import _state, _sum_per_leaf, _write_leaf_grads, match_gradient, unit_gradient
from glassnet.backend import np
from glassnet.state import mode_block_closed, mode_block_opened
from glassnet.tensor import Tensor

_ndarray = np.ndarray
_new = object.__new__

# Where an op's argument comes from on a replay.
_SLOT, _INPUT, _EXTERNAL, _CONSTANT, _INPUT_VIEW = 0, 1, 2, 3, 4


_STALE = object()  # what a replay returns, having changed nothing, when a parameter no longer fits its schedule

MAX_SCHEDULES = 16  # input signatures kept per compiled step before it gives up and runs eagerly


class CaptureError(Exception):
    """Raised inside a capture when the step does something a replay could not repeat."""


class _Op:
    """One recorded op: its class, where each argument comes from, its options."""

    __slots__ = ("cls", "sources", "options", "option_views", "inputs", "shape", "dtype", "tracked", "ufunc", "lowered")

    def describe(self, names: dict) -> str:
        args = ", ".join(
            names.get(_name_key(kind, value), "?") if kind != _CONSTANT else _short(value)
            for kind, value in self.sources
        )
        name = self.cls.__name__ if self.cls is not None else f"compare:{self.ufunc.__name__}"
        return f"{name}({args}) -> {self.dtype}{list(self.shape)}{'  [inline]' if self.lowered is not None else ''}"


class _Backward:
    """One recorded backward walk: the nodes it visits, newest first, and where each gradient goes."""

    __slots__ = ("root", "nodes", "retain")


class _Call:
    """A recorded optimiser/module call (zero_grad, step) or a `.grad = None` assignment, replayed as it is."""

    __slots__ = ("method", "args", "label")


def _name_key(kind: int, value: Any) -> tuple:
    return (kind, id(value)) if kind == _EXTERNAL else (kind, value)


def _is_unit_seed(g, root) -> bool:
    """Whether `g` is the dL/dL = 1 that loss.backward() starts from (the replay starts from the same)."""
    return (
        type(g) is _ndarray
        and root.data.size == 1
        and g.shape == root.data.shape
        and g.dtype == root.dtype
        and g.reshape(()) == 1
    )


def _short(value: Any) -> str:
    if isinstance(value, _ndarray):
        return f"array{list(value.shape)}"
    text = repr(value)
    return text if len(text) <= 20 else text[:17] + "..."


class Schedule:
    """The recorded program of one compiled step: ops, backward walks and optimiser calls, in order.

    `print(schedule)` lists it; `gn.lens.draw_graph(schedule)` draws the forward ops with their data flow.
    """

    def __init__(self, key: tuple, n_inputs: int):
        self.key = key
        self.n_inputs = n_inputs
        self.steps: list = []  # _Op, _Backward or _Call, in the order the step ran them
        self.ops: list[_Op] = []
        self.result = None  # how to rebuild the step's return value
        self.source = ""  # the generated replay function (see _generate)
        self.run: Callable | None = None

    def _names(self) -> dict:
        names = {(_INPUT, k): f"in{k}" for k in range(self.n_inputs)}
        names.update({(_SLOT, i): f"%{i}" for i in range(len(self.ops))})
        externals = [id(v) for op in self.ops for kind, v in op.sources if kind == _EXTERNAL]
        for j, t in enumerate(dict.fromkeys(externals)):
            names[(_EXTERNAL, t)] = f"p{j}"
        return names

    def __str__(self) -> str:
        names = self._names()
        lines = [
            f"schedule for inputs {list(self.key[0])}: {len(self.ops)} ops "
            f"({sum(op.lowered is not None for op in self.ops)} written inline), "
            f"{sum(isinstance(s, _Backward) for s in self.steps)} backward walk(s)"
        ]
        index = {id(op): i for i, op in enumerate(self.ops)}
        for s in self.steps:
            if isinstance(s, _Op):
                lines.append(f"  %{index[id(s)]} = {s.describe(names)}")
            elif isinstance(s, _Backward):
                lines.append(
                    f"  backward from %{s.root}: {len(s.nodes)} nodes ({', '.join(f'%{slot}' for slot, *_ in s.nodes)})"
                )
            else:
                lines.append(f"  {s.label}")
        return "\n".join(lines)

    __repr__ = __str__

    def to_graphviz(self, graphviz: Any, fmt: str) -> Any:
        """The forward ops as a Graphviz graph (inputs, parameters, ops and the backward roots)."""
        graph = graphviz.Digraph(
            "schedule",
            format=fmt,
            graph_attr={"rankdir": "BT", "fontname": "Helvetica"},
            node_attr={"fontname": "Helvetica", "fontsize": "11"},
        )
        names = self._names()
        drawn = set()
        for i, op in enumerate(self.ops):
            graph.node(
                f"s{i}",
                f"%{i} {op.describe(names).split('(')[0]}\n{op.dtype}{list(op.shape)}",
                shape="box",
                style="rounded,filled",
                fillcolor="#dbe9f6",
            )
            for kind, value in op.sources:
                if kind == _SLOT:
                    graph.edge(f"s{value}", f"s{i}")
                elif kind in (_INPUT, _EXTERNAL):
                    node = names[_name_key(kind, value)]
                    if node not in drawn:
                        drawn.add(node)
                        graph.node(
                            node,
                            node,
                            shape="ellipse",
                            style="filled",
                            fillcolor="#fde2c4" if kind == _EXTERNAL else "#e8e8e8",
                        )
                    graph.edge(node, f"s{i}")
        for s in self.steps:
            if isinstance(s, _Backward):
                graph.node(f"b{s.root}", f"backward ({len(s.nodes)} nodes)", shape="diamond")
                graph.edge(f"s{s.root}", f"b{s.root}")
        return graph


class _Recorder:
    """Told by the engine of every op, backward walk and optimiser call while a step is captured."""

    def __init__(self, schedule: Schedule, inputs: list, lower: bool = True):
        self.schedule = schedule
        self.lower = lower
        self.inputs = {id(t): k for k, t in enumerate(inputs) if isinstance(t, Tensor)}
        self.input_tensors = [(k, t) for k, t in enumerate(inputs) if isinstance(t, Tensor)]
        self.slots: dict[int, int] = {}  # id(output tensor) -> slot
        self.node_slots: dict[int, int] = {}  # id(grad_fn) -> slot
        self.keep: list = []  # every tensor seen, so that ids stay unique during the capture
        self.externals: dict[int, Tensor] = {}
        self.outputs: list = []  # the arrays the recorded ops returned
        self.stand_ins: dict[int, Tensor] = {}
        self.paused = 0
        self.error: str | None = None

    def fail(self, reason: str) -> None:
        """Stop recording (the step goes on eagerly to its end) and keep the first reason."""
        if self.error is None:
            self.error = reason
        self.paused += 1 << 20

    # ----- the engine's notifications -----------------------------------------------------------------
    def op(self, cls, args, options, out) -> None:
        if self.paused:
            return
        sources = []
        for a in args:
            if isinstance(a, Tensor):
                self.keep.append(a)
                if id(a) in self.slots:
                    sources.append((_SLOT, self.slots[id(a)]))
                elif id(a) in self.inputs:
                    sources.append((_INPUT, self.inputs[id(a)]))
                elif a.grad_fn is not None:
                    return self.fail(
                        f"{_name(cls)} got a tensor computed outside the step (with a graph); "
                        "pass it as an argument or detach it"
                    )
                else:
                    self.externals[id(a)] = a
                    sources.append((_EXTERNAL, a))
            else:
                source = self.constant(cls, a)
                if source is None:
                    return None
                sources.append(source)
        op_options, option_views = {}, {}
        for name, value in options.items():
            source = self.constant(cls, value)
            if source is None:
                return None
            if source[0] == _INPUT_VIEW:  # e.g. cross_entropy's targets: the argument's integer array, reshaped
                option_views[name] = source[1]
            else:
                op_options[name] = value
        op = _Op()
        op.option_views = option_views
        op.cls = cls
        op.sources = tuple(sources)
        op.inputs = tuple(self.stand_in(a) for a in args)  # what backward reads of fn.inputs: requires_grad
        op.shape, op.dtype = out.shape, out.dtype
        op.tracked = out.grad_fn is not None
        op.ufunc = options.get("ufunc") if cls is None else None
        op.options = {} if cls is None else op_options
        op.lowered = None
        if self.lower and cls is not None and not option_views:
            arrays = [a.data if isinstance(a, Tensor) else a for a in args]
            op.lowered = lowering.lower(cls, arrays, op_options, out.data)
        slot = len(self.schedule.ops)
        self.keep.append(out)
        self.outputs.append(out.data)
        self.slots[id(out)] = slot
        if op.tracked:
            self.node_slots[id(out.grad_fn)] = slot
        self.schedule.ops.append(op)
        self.schedule.steps.append(op)

    def stand_in(self, value):
        """A captured value as a replayed node's `inputs` entry: parameters as they are; other tensors as a tensor of
        the same shape, dtype and requires_grad holding no memory (the capture's activations are not kept alive);
        constants as None (backward reads only whether each input wants a gradient)."""
        if not isinstance(value, Tensor):
            return None
        if id(value) in self.externals:
            return value
        stand_in = self.stand_ins.get(id(value))
        if stand_in is None:
            stand_in = Tensor._make(np.broadcast_to(np.zeros((), value.dtype), value.shape), None)
            stand_in._requires_grad = value._requires_grad
            self.stand_ins[id(value)] = stand_in
        return stand_in

    def input_tensors_only(self) -> list:
        return [t for _, t in self.input_tensors]

    def constant(self, cls, value) -> tuple | None:
        """Where a non-tensor argument comes from: an argument's own array (reshaped), or a constant."""
        if not isinstance(value, _ndarray):
            return (_CONSTANT, value)
        for k, t in self.input_tensors:
            data = t.data
            if not np.shares_memory(value, data):
                continue
            if (
                value.dtype == data.dtype
                and value.size == data.size
                and value.flags.c_contiguous
                and data.flags.c_contiguous
                and _address(value) == _address(data)
            ):
                return (_INPUT_VIEW, (k, value.shape, None))
            return self.fail(f"{_name(cls)} got a slice of an argument's array; give the op the argument itself")
        for k, t in self.input_tensors:  # an argument's values converted (cross_entropy's int32 targets to int64)
            data = t.data
            if (
                value.dtype != data.dtype
                and value.size == data.size
                and value.size
                and np.array_equal(value.reshape(-1), data.reshape(-1).astype(value.dtype))
            ):
                return (_INPUT_VIEW, (k, value.shape, value.dtype))
        return (_CONSTANT, value)

    def backward(self, outputs, grad_outputs, retain_graph, create_graph, inputs) -> None:
        if self.paused:
            return
        if create_graph or inputs is not None:
            return self.fail("create_graph=True and autograd.grad are not captured")
        root = outputs[0]
        if len(outputs) != 1 or not _is_unit_seed(grad_outputs[0], root):
            return self.fail("only loss.backward() from one scalar loss, without gradient=, is captured")
        if id(root) not in self.slots or root.grad_fn is None:
            return self.fail("backward() from a tensor not computed inside the step")
        nodes, seen, stack = [], {id(root.grad_fn)}, [root.grad_fn]
        while stack:
            node = stack.pop()
            slot = self.node_slots.get(id(node))
            if slot is None:
                return self.fail(f"the graph reaches {node.name}, an op run outside the step")
            if node._hooks is not None or node._retain is not None:
                return self.fail(f"a tensor hook or retain_grad() on the output of {node.name}")
            targets = []
            for position, inp in enumerate(node.inputs):
                if not isinstance(inp, Tensor) or not inp._requires_grad:
                    continue
                parent = inp.grad_fn
                if parent is None:
                    if inp._hooks or id(inp) in autograd._post_accumulate_hooks:
                        return self.fail("a gradient hook on a leaf tensor (register_hook, post-accumulate: DDP)")
                    source = (_INPUT, self.inputs[id(inp)]) if id(inp) in self.inputs else (_EXTERNAL, inp)
                    targets.append((position, self.stand_in(inp), source))
                else:
                    targets.append((position, self.stand_in(inp), self.node_slots.get(id(parent), -1)))
                    if id(parent) not in seen:
                        seen.add(id(parent))
                        stack.append(parent)
            nodes.append((slot, not node.exact_gradients, tuple(targets)))
        nodes.sort(key=lambda n: -n[0])  # slots follow creation order: the walk's newest-first order
        walk = _Backward()
        walk.root, walk.nodes, walk.retain = self.slots[id(root)], nodes, retain_graph
        self.schedule.steps.append(walk)

    def call(self, method, args: tuple, label: str):
        """Record `method(*args)` and run it with recording paused (its own array work is repeated by the call)."""
        if not self.paused:
            record = _Call()
            record.method, record.args, record.label = method, args, label
            self.schedule.steps.append(record)
        self.paused += 1
        _state.capture = None  # the call runs as on a replay: its inner work is not recorded again
        try:
            return method(*args)
        finally:
            _state.capture = self
            self.paused -= 1

    def assign_grad(self, tensor: Tensor, value) -> None:
        if self.paused:
            return
        if value is not None:
            return self.fail("the step assigns a tensor to .grad")
        record = _Call()
        record.method, record.args, record.label = _clear_grad, (tensor,), "p.grad = None"
        self.schedule.steps.append(record)

    def read(self, what: str) -> None:
        if not self.paused:
            self.fail(f"the step reads a tensor's value ({what}); replaying it would repeat the first value")


def _clear_grad(tensor: Tensor) -> None:
    tensor._grad = None


def _name(cls) -> str:
    return cls.__name__ if cls is not None else "a comparison"


def _address(a) -> int:
    return a.__array_interface__["data"][0]


def _key(args: tuple, kwargs: dict) -> tuple | None:
    """The arguments' signature: each tensor's shape, dtype and requires_grad, every other argument (by value if
    it is a plain Python value, else by identity), the keywords' names. None if a list/tuple/dict holds a tensor."""
    shapes, others = [], []
    for a in (args + tuple(kwargs.values())) if kwargs else args:
        if isinstance(a, Tensor):
            data = a.data
            shapes.append((data.shape, data.dtype, a._requires_grad))
        elif isinstance(a, (int, float, str, bool, type(None))):
            others.append(a)
        else:
            if isinstance(a, (list, tuple, dict)) and _has_tensor(a):
                return None
            others.append(id(a))
    return tuple(shapes), tuple(others), tuple(kwargs)


class CompiledStep:
    """A step function with capture and replay; call it like the function itself (see the module docstring)."""

    def __init__(self, fn: Callable, warn: bool = True, lower: bool = True):
        self.fn = fn
        self.warn = warn
        self.lower = lower  # write the hottest ops inline (glassnet/lowering.py); False: call every op's methods
        self.schedules: dict[tuple, Schedule] = {}
        self.fallback_reason: str | None = None
        self.captures = 0
        self.replays = 0
        functools.update_wrapper(self, fn)

    @property
    def schedule(self) -> Schedule | None:
        """The schedule recorded last (None before the first call or after a fallback)."""
        return next(reversed(self.schedules.values()), None) if self.schedules else None

    def __call__(self, *args, **kwargs):
        if self.fallback_reason is not None:
            return self.fn(*args, **kwargs)
        key = _key(args, kwargs)
        if key is None:
            return self._fall_back("tensors inside a list/tuple/dict argument; pass them as arguments", args, kwargs)
        schedule = self.schedules.get(key)
        if schedule is None and len(self.schedules) >= MAX_SCHEDULES:
            return self._fall_back(
                f"more than {MAX_SCHEDULES} input signatures (shapes, dtypes or non-tensor arguments change each call)",
                args,
                kwargs,
            )
        if schedule is not None:
            inputs = list(args) + list(kwargs.values()) if kwargs else args
            values = schedule.run(inputs)
            if values is not _STALE:
                self.replays += 1
                return _rebuild(schedule.result, values, inputs) if schedule.result is not None else None
            del self.schedules[key]  # a parameter changed shape, dtype or requires_grad: capture again
        return self._capture(key, args, kwargs)

    def _fall_back(self, reason: str, args, kwargs):
        """Run eagerly from now on, saying why once."""
        self.fallback_reason = reason
        self.schedules.clear()
        if self.warn:
            warnings.warn(
                f"gn.compile({getattr(self.fn, '__name__', 'step')}): running eagerly: {reason}", stacklevel=3
            )
        return self.fn(*args, **kwargs)

    def _capture(self, key, args, kwargs):
        if _state.anomaly:
            return self._fall_back("detect_anomaly() is on", args, kwargs)
        if _state.capture is not None:
            return self._fall_back("a compiled step called inside another one's capture", args, kwargs)
        inputs = list(args) + list(kwargs.values())
        schedule = Schedule(key, len(inputs))
        recorder = _Recorder(schedule, inputs, self.lower)
        _state.capture = recorder
        try:
            with autograd.observe_ops(recorder.op):
                result = self.fn(*args, **kwargs)  # eager, as without compile; the recorder only watches
        finally:
            _state.capture = None
        reason = recorder.error or _made_inside(recorder, schedule)
        if reason is None:
            try:
                schedule.result = _result_spec(result, recorder)
            except CaptureError as e:
                reason = str(e)
        if reason is not None:
            self.fallback_reason = reason
            self.schedules.clear()
            if self.warn:
                warnings.warn(
                    f"gn.compile({getattr(self.fn, '__name__', 'step')}): running eagerly: {reason}", stacklevel=3
                )
            return result
        schedule.run = _generate(schedule)
        self.schedules[key] = schedule
        self.captures += 1
        return result


def _made_inside(recorder: _Recorder, schedule: Schedule) -> str | None:
    """A reason to refuse if an op read a tensor holding an argument's or an op result's array (or a view of one)
    without being that tensor (made by .detach(), .data ...): a replay would reuse its captured value."""
    produced = {id(a) for a in recorder.outputs} | {id(t.data) for t in recorder.input_tensors_only()}
    for t in recorder.externals.values():
        a = t.data
        while isinstance(a, _ndarray):
            if id(a) in produced:
                return (
                    f"a tensor of shape {tuple(t.shape)} holds a value of the step (or a view of one) but was not made "
                    "by an op (.detach(), .data ...); keep it on the graph or compute it outside the step"
                )
            a = a.base
    return None


def _has_tensor(value) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return any(isinstance(v, Tensor) or (isinstance(v, (list, tuple, dict)) and _has_tensor(v)) for v in items)


def _result_spec(result, recorder: _Recorder):
    """How to rebuild the return value on a replay: tensors by their slot, anything else as it is."""
    if isinstance(result, Tensor):
        if id(result) in recorder.slots:
            return (_SLOT, recorder.slots[id(result)])
        if id(result) in recorder.inputs:
            return (_INPUT, recorder.inputs[id(result)])
        return (_CONSTANT, result)
    if isinstance(result, (tuple, list)):
        return (type(result), [_result_spec(r, recorder) for r in result])
    if isinstance(result, dict):
        return (dict, {k: _result_spec(v, recorder) for k, v in result.items()})
    if isinstance(result, (int, float, str, bool, type(None))):
        return (_CONSTANT, result)
    raise CaptureError(f"the step returned a {type(result).__name__}; return tensors (or nothing)")


def _rebuild(spec, values: list, inputs: list):
    kind, value = spec
    if kind == _SLOT:
        return Tensor._make(values[value], None)
    if kind == _INPUT:
        return inputs[value]
    if kind == _CONSTANT:
        return value
    if kind is dict:
        return {k: _rebuild(v, values, inputs) for k, v in value.items()}
    return kind(_rebuild(v, values, inputs) for v in value)


def _generate(schedule: Schedule) -> Callable:
    """The schedule as one flat Python function: every array call in order, with its operands in local variables.

    Forward: `v3 = f3.forward(v2, p1.data)` per op. Backward: the walk's visiting order and the places its
    gradients go are fixed at capture, so the walk becomes straight-line code: `gx = f3.backward(g3)` then each
    input's share is added to its producer's gradient (`g2 = gx[0]`, or a sum where a value has several
    consumers, as the eager walk sums them: the first share as it is, the second into a new array, further ones
    in place). Leaf gradients go through the eager walk's own `_write_leaf_grads`. `schedule.source` shows it.
    A lowered op (glassnet/lowering.py) is written as its own array calls instead: `v3 = _tanh(v2)`, and in the
    backward `d3_0 = g3 * (1 - v3 * v3)`. Each node's values are dropped once its backward has run (_freeable).
    """
    consts: dict = {
        "_new": _new,
        "_ndarray": _ndarray,
        "_asarray": np.asarray,
        "_match": match_gradient,
        "_unit": unit_gradient,
        "_write": _write_leaf_grads,
        "_sum": _sum_per_leaf,
        "_state": _state,
        "_block_opened": mode_block_opened,
        "_block_closed": mode_block_closed,
        "_fix": _fix_scalar,
        "_STALE": _STALE,
        "_write_fresh": _write_fresh,
        **lowering.NAMESPACE,
    }
    names: dict = {}

    def const(value: Any, prefix: str) -> str:
        key = (prefix, id(value))
        if key not in names:
            names[key] = f"{prefix}{len(names)}"
            consts[names[key]] = value
        return names[key]

    lines = ["def replay(inputs):"]
    emit = lines.append
    emit(
        f"    {', '.join(f'a{k}' for k in range(schedule.n_inputs))}{',' if schedule.n_inputs == 1 else ''} = "
        "[t.data if type(t) is _T else t for t in inputs]"
        if schedule.n_inputs
        else "    pass"
    )
    consts["_T"] = Tensor
    # Lowered code reads each parameter's array without the op's checks: a parameter whose shape, dtype or
    # requires_grad changed since the capture (model.double(), a frozen layer) makes the schedule stale
    guarded = {}
    for op in schedule.ops:
        if op.lowered is not None:
            for kind, value in op.sources:
                if kind == _EXTERNAL:
                    guarded[id(value)] = value
    for p in guarded.values():
        data = p.data
        emit(
            f"    if {const(p, 'p')}.data.dtype is not {const(data.dtype, 'c')} or {const(p, 'p')}.data.shape != "
            f"{data.shape} or {const(p, 'p')}._requires_grad != {p._requires_grad}: return _STALE"
        )
    # a post-accumulate hook (DDP) registered on one of the walks' parameters since the capture: captured again,
    # which refuses it (the replay does not run them)
    leaves = set()
    for walk in schedule.steps:
        if type(walk) is _Backward:
            for _, _, targets in walk.nodes:
                leaves.update(id(t[1]) for _, _, t in targets if type(t) is tuple and t[0] == _EXTERNAL)
    if leaves:
        consts["_post_hooks"] = autograd._post_accumulate_hooks
        emit(
            f"    if _post_hooks and not _post_hooks.keys().isdisjoint({const(frozenset(leaves), 'c')}): return _STALE"
        )
    i = 0
    for n_walk, step in enumerate(schedule.steps):
        if type(step) is _Op:
            args = []
            for kind, value in step.sources:
                if kind == _SLOT:
                    args.append(f"v{value}")
                elif kind == _INPUT:
                    args.append(f"a{value}")
                elif kind == _EXTERNAL:
                    args.append(f"{const(value, 'p')}.data")
                elif kind == _INPUT_VIEW:
                    args.append(_view(value, const))
                else:
                    args.append(const(value, "c"))
            if step.cls is None:
                emit(f"    v{i} = {const(step.ufunc, 'u')}({', '.join(args)})")
            elif step.lowered is not None:  # the op's own array calls, inline (glassnet/lowering.py)
                emit(f"    # {step.cls.__name__}")
                for line in step.lowered.forward(i, args, const):
                    emit(f"    {line}")
            else:
                if step.options:
                    args.append(f"**{const(step.options, 'o')}")
                args.extend(f"{name}={_view(view, const)}" for name, view in step.option_views.items())
                emit(f"    f{i} = _new({const(step.cls, 'C')}); v{i} = f{i}.forward({', '.join(args)})")
                emit(f"    if type(v{i}) is not _ndarray: v{i} = _fix(v{i}, f{i})")
                if step.tracked:
                    emit(f"    f{i}.inputs = {const(step.inputs, 'I')}; f{i}._out = v{i}")
            i += 1
        elif type(step) is _Backward:
            _emit_backward(step, n_walk, emit, const, schedule.ops, _freeable(schedule, n_walk, step))
        elif _defined_as(step.method, "glassnet.optim.optimizer", "Optimizer.zero_grad") and step.args == (True,):
            # Optimizer.zero_grad() itself: each parameter's .grad = None (the setter does no more for None)
            emit(f"    for group in {const(step.method.__self__, 'o')}.param_groups:")
            emit("        for p in group['params']: p._grad = None")
        elif _defined_as(step.method, "glassnet.optim.optimizer", "Optimizer.step") and _defined_as(
            type(step.method.__self__), "glassnet.optim.sgd", "SGD"
        ):
            # SGD.step() itself: each group's update_group (array updates only: the no_grad block it opens for
            # optimisers whose update makes tensors is left out), unless hooks have been added since
            opt = const(step.method.__self__, "o")
            emit(f"    if {opt}._step_pre_hooks or {opt}._step_post_hooks: {opt}.step()")
            emit("    else:")
            emit(f"        for group in {opt}.param_groups: {opt}.update_group(group)")
            emit(f"        {opt}._step_count += 1")
        else:
            emit(f"    {const(step.method, 'm')}(*{const(step.args, 'c')})")
    slots = sorted(_result_slots(schedule.result))
    emit(f"    return {{{', '.join(f'{k}: v{k}' for k in slots)}}}")
    source = "\n".join(lines) + "\n"
    namespace = dict(consts)
    exec(builtins.compile(source, "<gn.compile schedule>", "exec"), namespace)  # noqa: S102  (code generated above)
    schedule.source = source
    return namespace["replay"]


def _defined_as(value, module: str, qualname: str) -> bool:
    """Whether `value` (a class, or a bound method's function) is the one defined as `module`.`qualname`: the
    optimisers sit in a layer above this module, which therefore names them rather than importing them."""
    value = getattr(value, "__func__", value)
    return getattr(value, "__module__", None) == module and getattr(value, "__qualname__", None) == qualname


def _view(view: tuple, const: Callable) -> str:
    """An argument's array as an op received it at capture: reshaped, and converted if it was."""
    k, shape, dtype = view
    return f"a{k}.reshape({shape})" if dtype is None else f"a{k}.astype({const(dtype, 'c')}).reshape({shape})"


def _fix_scalar(out, fn):
    """As Function.apply does when NumPy returns a scalar from 0-d math: keep every result an array (another array
    type, such as a GPU array, is left as it is)."""
    if not isinstance(out, (np.generic, int, float, complex)):
        return out
    raw, out = out, np.asarray(out)
    fn._saved = tuple(out if v is raw else v for v in fn._saved)
    return out


def _freeable(schedule: Schedule, n: int, walk: _Backward) -> tuple[set, set]:
    """What the replay may drop once walk `n` has run a node's backward, as the eager walk frees each node's saved
    values: (slots whose value nothing later reads: no later op, not the step's result; nodes no later walk visits).
    Nothing, if the walk keeps its graph (retain_graph=True)."""
    if walk.retain:
        return set(), set()
    read_later, visited_later = set(_result_slots(schedule.result)), set()
    for step in schedule.steps[n + 1 :]:
        if type(step) is _Op:
            read_later.update(value for kind, value in step.sources if kind == _SLOT)
        elif type(step) is _Backward:
            visited_later.update(slot for slot, _, _ in step.nodes)
    slots = {slot for slot, _, _ in walk.nodes}
    return slots - read_later, slots - visited_later


def _drop(names: list) -> str:
    """`a = b = None`: the replay lets go of arrays it no longer needs (see _freeable)."""
    return f"{' = '.join(names)} = None"


def _emit_backward(
    walk: _Backward, n: int, emit: Callable, const: Callable, ops: list, freeable: tuple = (set(), set())
) -> None:
    """One backward walk as straight-line code: each node's backward (the op's method, or its lowered lines),
    then each input's share routed to its producer's gradient or to the leaves' list."""
    consumers: dict = {}  # slot -> how many shares its gradient receives
    for _, _, targets in walk.nodes:
        for _, _, target in targets:
            if type(target) is int:
                consumers[target] = consumers.get(target, 0) + 1
    if _emit_lowered_backward(walk, n, emit, const, ops, consumers, freeable):
        return
    emit(f"    # backward walk {n} from v{walk.root}")
    emit(f"    seed{n} = _unit(v{walk.root}); g{walk.root} = seed{n}; leaves{n} = []")
    for target, count in consumers.items():
        emit(f"    g{target} = None" + (f"; own{target} = False" if count > 1 else ""))
    # a mode block, as the eager walk opens one: ops in other threads then read their own modes, not the shared
    # fast path that assumes no thread has changed any (state.py: open_blocks)
    emit("    _block_opened()")
    emit("    prev = _state.graph_backward, _state.grad_enabled; _state.graph_backward = _state.grad_enabled = False")
    emit("    try:")
    for slot, checked, targets in walk.nodes:
        if slot != walk.root and slot not in consumers:
            continue
        emit(f"        if g{slot} is not None:  # {ops[slot].cls.__name__}")
        lowered = ops[slot].lowered
        if lowered is not None:
            wanted = {position for position, _, _ in targets}
            n_inputs = len(ops[slot].sources)
            lines, grads = lowered.backward(slot, tuple(k in wanted for k in range(n_inputs)), const)
            for line in lines:
                emit(f"            {line}")
        else:
            emit(f"            gx = f{slot}.backward(g{slot})")
            emit("            if type(gx) is not tuple: gx = (gx,)")
        for position, inp, target in targets:
            if lowered is not None:  # (a lowering returns each gradient in its input's shape and dtype)
                emit(f"            s = {grads[position] if position < len(grads) else None}")
            else:
                emit(f"            s = gx[{position}] if len(gx) > {position} else None")
            if checked and lowered is None:
                data, name = const(inp, "p"), const(ops[slot].cls.__name__, "c")
                emit(
                    f"            if s is not None and (s.shape != {data}.data.shape or s.dtype != {data}.data.dtype):"
                    f" s = _match(s, {data}, {name})"
                )
            if type(target) is tuple:
                kind, leaf = target
                owner = f"inputs[{leaf}]" if kind == _INPUT else const(leaf, "p")
                emit(f"            if s is not None: leaves{n}.append(({owner}, s))")
            elif consumers[target] == 1:
                emit(f"            g{target} = s")
            else:  # as the eager walk sums: the first share as it is, the second into a new array, then in place
                emit("            if s is not None:")
                emit(f"                if g{target} is None: g{target} = s")
                emit(f"                elif own{target}: g{target} += s")
                emit(f"                else: g{target} = g{target} + s; own{target} = True")
        if not walk.retain and lowered is None:
            emit(f"            f{slot}._saved = f{slot}._out = None")
        dropped = [f"g{slot}"] + _dropped(slot, lowered, grads if lowered is not None else [], freeable)
        emit(f"            {_drop(dropped)}" if lowered is not None else f"            {_drop(dropped + ['gx'])}")
    emit("    finally:")
    emit("        _state.graph_backward, _state.grad_enabled = prev")
    emit("        _block_closed()")
    emit(f"    _write(_sum(leaves{n}), False, (seed{n},))")


def _dropped(slot: int, lowered, grads: list, freeable: tuple, keep: tuple = ()) -> list:
    """The locals of node `slot` to drop after its backward: its lowered temporaries and gradients (but `keep`),
    its saved values, its own value, its op object, as far as `freeable` allows."""
    values, nodes = freeable
    names = [f"gy_{slot}"] if isinstance(lowered, lowering._LinearCall) else []
    names += [g for g in grads if g is not None and g not in keep]
    if lowered is not None and slot in nodes:
        names += lowered.saved(slot)
    if slot in values:
        names.append(f"v{slot}")
    if lowered is None and slot in nodes:
        names.append(f"f{slot}")
    return names


def _emit_lowered_backward(
    walk: _Backward, n: int, emit: Callable, const: Callable, ops: list, consumers: dict, freeable: tuple
):
    """A walk whose every node is lowered, and whose every leaf gets one share, as plain straight-line code: every
    gradient is then known to exist and to be a fresh array, so the checks for None, the sums' bookkeeping, the
    leaves' list and the grad-mode switch (no op method runs) all go; the eager order of every sum stays.
    Returns False (writing nothing) for any other walk."""
    walked = [(slot, targets) for slot, _, targets in walk.nodes if slot == walk.root or slot in consumers]
    leaf_shares: dict = {}
    arrived: dict = {}  # slot -> how many of its gradient's shares are summed so far
    code, writes = [], []
    for slot, targets in walked:
        lowered = ops[slot].lowered
        if lowered is None:
            return False
        wanted = {position for position, _, _ in targets}
        lines, grads = lowered.backward(slot, tuple(k in wanted for k in range(len(ops[slot].sources))), const)
        code.append(f"# {ops[slot].cls.__name__}")
        code.extend(lines)
        to_leaves = []
        for position, _, target in targets:
            grad = grads[position] if position < len(grads) else None
            if grad is None:
                return False
            if type(target) is tuple:
                kind, leaf = target
                key = (kind, id(leaf))
                leaf_shares[key] = leaf_shares.get(key, 0) + 1
                writes.append(f"({f'inputs[{leaf}]' if kind == _INPUT else const(leaf, 'p')}, {grad})")
                to_leaves.append(grad)
                continue
            arrived[target] = k = arrived.get(target, 0) + 1
            # as the eager walk sums: the first share as it is, the second into a new array, then in place
            code.append(
                f"g{target} = {grad}"
                if k == 1
                else f"g{target} = g{target} + {grad}"
                if k == 2
                else f"g{target} += {grad}"
            )
        code.append(_drop([f"g{slot}"] + _dropped(slot, lowered, grads, freeable, keep=tuple(to_leaves))))
    if any(count != 1 for count in leaf_shares.values()):
        return False
    root = ops[walk.root]
    seed = unit_gradient(np.zeros(root.shape, root.dtype))
    seed.flags.writeable = False  # (read by the root's lowered backward only)
    emit(f"    # backward walk {n} from v{walk.root}, all lowered")
    emit(f"    g{walk.root} = {const(seed, 'c')}")
    for line in code:
        emit(f"    {line}")
    if writes:
        emit(f"    _write_fresh(({', '.join(writes)},))")
    return True


def _write_fresh(leaves: tuple) -> None:
    """`_write_leaf_grads` for a lowered walk's leaf gradients: one per leaf, each a new array nothing else holds."""
    for leaf, _ in leaves:
        if leaf._hooks:  # (added since the capture) the eager writer runs them
            _write_leaf_grads(list(leaves), False)
            return
    for leaf, g in leaves:
        grad = leaf._grad
        if grad is not None:
            grad.data += g
            continue
        if g.base is not None:  # a view (a reshaped gradient): copied, as the eager writer does
            g = g.copy()
        t = _new(Tensor)
        t.data, t.grad_fn, t._requires_grad, t._grad, t._hooks = g, None, False, None, None
        leaf._grad = t


def _result_slots(spec) -> set:
    if spec is None:
        return set()
    kind, value = spec
    if kind == _SLOT:
        return {value}
    if kind is dict:
        return set().union(*map(_result_slots, value.values())) if value else set()
    if kind in (_INPUT, _CONSTANT):
        return set()
    return set().union(*map(_result_slots, value)) if value else set()


def compile(fn: Callable | None = None, *, warn: bool = True, lower: bool = True) -> Any:  # noqa: A001
    """Capture `fn` (a training step) on its first call and replay the recording afterwards; see the module doc.
    (The name is torch.compile's.) `lower=False` replays every op through its own forward and backward instead of
    writing the hottest ones inline (glassnet/lowering.py): slower, the reference the lowered replay equals.

    Usable as `step = gn.compile(step)` or as the decorator `@gn.compile`.
    """
    if fn is None:
        return lambda f: CompiledStep(f, warn=warn, lower=lower)
    return CompiledStep(fn, warn=warn, lower=lower)
