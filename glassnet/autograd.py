"""The autograd engine: the Function base class every op is written in, and the backward walk.

A Function is one node of the graph. `forward` computes the result from plain arrays; `backward`
receives dL/d(output) and returns dL/d(input) for each positional input, written in NumPy.
When `create_graph=True`, the very same backward code runs on Tensors instead of arrays (Tensor
speaks NumPy's array protocols), so the gradient computation is itself recorded and can be
differentiated again.

The rules a backward follows (tests/test_backward_rules.py checks every op of the registry against them):

1. Same code for arrays and Tensors. Use operators (+ − * / ** @), methods both have (`.sum(axis=, keepdims=)`,
   `.reshape`, `.T`, `.astype`), the NumPy functions Tensor routes (`np.exp`, `np.log`, `np.where`, `np.sum`,
   `np.broadcast_to`, `np.einsum`, … — the `_UFUNCS` and `_FUNCTIONS` tables in tensor.py) or another op's
   `Op.call(...)`. Never `np.asarray`/`np.array`/`float()` of a gradient: that would cut it off the graph.
2. In-place array work (`out=`, `+=`, `np.put_along_axis`) only on arrays the backward made itself, and only in a
   branch taken on arrays (`if is_array(x):` — see Gelu and the losses); on Tensors take the plain formula.
3. `save_for_backward` receives the op's inputs or output (the very arrays forward got or returned): in a
   create_graph walk they come back as the Tensors on the graph. Anything else kept on `self` is a constant there.
4. Return one gradient per positional input (None where none flows); it may be broadcast-shaped (the walk sums it
   back), unless the op declares `exact_gradients`.
5. Device-neutral: new arrays come from `array_module(x)` (`xp.zeros`, `xp.empty`), constants are moved with
   `array_like(value, x)`, and no value is read back to the host (no `bool(array)` or `.item()` on the way).
An op whose backward cannot follow rule 1 (the fused recurrent ops) refuses `create_graph` with a clear error.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import linecache
import operator
import os
import traceback
import weakref

from glassnet.backend import array_like, array_module, is_array, np, same_device_error
from glassnet.errors import OpValueError, ShapeError
from glassnet.state import mode_block_closed, mode_block_opened, modes, open_blocks

Tensor = None  # glassnet.tensor assigns the class here (it imports this module first)
ndarray = np.ndarray
_sequence = itertools.count(1)


# The per-thread modes (grad mode, anomaly, observers): one object, listed with the rest of the process state in
# glassnet/state.py. Its attributes are thread-local, so two threads training at once keep their own modes.
_state = modes
_block_opened, _block_closed = open_blocks.append, open_blocks.pop  # state.mode_block_opened/closed, bound once


def _update_watching() -> None:
    _state.watching = _state.anomaly or bool(_state.observers)


@contextlib.contextmanager
def observe_ops(observer):
    """Inside this block, call `observer(op_class, args, options, output)` after every op runs.

    This is how tools see a forward pass op by op without patching glassnet (the ONNX exporter records
    with it). `args` are the op's positional arguments as given (Tensors and constants), `options` its
    keyword options, `output` the resulting Tensor. Comparisons (x > 0), which have no gradient and are
    not Functions, are reported with `op_class` None and `options={"ufunc": ...}`.
    """
    prev = _state.observers
    mode_block_opened()
    _state.observers = prev + (observer,)
    _update_watching()
    try:
        yield observer
    finally:
        _state.observers = prev
        _update_watching()
        mode_block_closed()


def _watch(fn, cls, args, options, out) -> None:
    """The slow path of Function.apply: anomaly checks on recorded nodes, then the observers."""
    if _state.anomaly and out.grad_fn is fn:
        fn._trace = _user_frame()
        _check_finite(out.data, "forward output", fn, nan_only=True)  # −∞ in a mask is intended; NaN never is
    for observer in _state.observers:
        observer(cls, args, options, out)


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph."""
    return _state.grad_enabled


class _GradMode(contextlib.ContextDecorator):
    """Sets whether ops record the graph inside a `with` block or a decorated function, then restores it."""

    enabled = True

    def __enter__(self):
        state = _state
        self.prev = state.grad_enabled
        _block_opened(None)  # (state.py: mode_block_opened, inlined: the optimiser's step enters one every step)
        state.grad_enabled = self.enabled

    def __exit__(self, *exc):
        _state.grad_enabled = self.prev
        _block_closed()
        return False

    def _recreate_cm(self):  # a decorated function gets a fresh manager per call, so recursion restores correctly
        fresh = object.__new__(type(self))
        fresh.enabled = self.enabled
        return fresh


class no_grad(_GradMode):  # noqa: N801  (a class, like torch.no_grad: creating one runs no Python __init__)
    """Context manager / decorator: ops inside record no graph (inference, optimiser updates)."""

    enabled = False


class enable_grad(_GradMode):  # noqa: N801
    """Context manager / decorator: turn graph recording back on inside a `no_grad` block."""

    enabled = True


class set_grad_enabled(_GradMode):  # noqa: N801
    """Context manager / decorator that turns graph recording on or off."""

    def __init__(self, mode: bool):
        self.enabled = bool(mode)


class inference_mode(_GradMode):  # noqa: N801
    """Context manager / decorator for inference: no graph is recorded (here the same as `no_grad`;
    PyTorch's version also skips some bookkeeping glassnet never does). `inference_mode(False)` records."""

    enabled = False

    def __init__(self, mode: bool = True):
        self.enabled = not mode


@contextlib.contextmanager
def detect_anomaly():
    """Inside this block, a NaN or Inf produced by an op's forward or backward raises an error
    naming the op and the line of user code that created it."""
    prev = _state.anomaly
    mode_block_opened()
    _state.anomaly = True
    _update_watching()
    try:
        yield
    finally:
        _state.anomaly = prev
        _update_watching()
        mode_block_closed()


_GLASSNET_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_frame() -> str:
    """The innermost stack frame outside glassnet, as 'file:line: code'."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_GLASSNET_DIR):
            code = frame.line or linecache.getline(frame.filename, frame.lineno).strip()
            return f"{frame.filename}:{frame.lineno}: {code}"
    return "<unknown>"


def _check_finite(value, what: str, node: Function, nan_only: bool = False) -> None:
    """Raise if `value` holds NaN (or, unless nan_only, ±Inf), naming the op and where it was created."""
    arr = value.data if hasattr(value, "grad_fn") else value
    if not (hasattr(arr, "dtype") and arr.dtype.kind == "f"):
        return
    if nan_only and not np.isnan(arr).any():
        return
    if not np.isfinite(arr).all():
        kind = "NaN" if np.isnan(arr).any() else "Inf"
        raise RuntimeError(
            f"detect_anomaly: {node.name} produced {kind} in its {what}; "
            f"the op was created at {node._trace}"
        )


class Function:
    """One differentiable operation: `forward` on arrays, `backward` mapping dL/dy to dL/dx.

    Subclass it to add an op, then call `MyOp.apply(*inputs, **options)`. Positional arguments
    that are Tensors are the op's inputs; anything else (numbers, arrays) is passed to forward as
    a constant. `backward` returns one gradient per positional argument (None where there is none).
    Values needed by backward are kept with `save_for_backward`: save inputs and outputs (anything
    else is treated as a constant when the backward is itself differentiated).

    The walk brings each returned gradient to its input's shape and dtype (undoing broadcasting) or
    explains why it cannot. Every gradient entering a node has that node's output shape and dtype, so
    an op whose backward then always returns exact shapes and dtypes may set `exact_gradients = True`
    to skip that check (Linear and Tanh do, on the hot path of every dense network); a test verifies
    each such claim on every sample of the op registry.
    """

    # Engine bookkeeping; class-level defaults so that recording a node sets only what differs.
    inputs: tuple = ()
    _out = None
    _saved: tuple | None = ()
    _seq = 0  # creation order: every node is created after its inputs, so it is a topological order
    _hooks = None
    _retain = None
    _trace = "<run with gn.autograd.detect_anomaly() to record where>"
    exact_gradients = False  # True: backward returns each gradient in its input's exact shape and dtype
    # True: dL/dx is zeros except where y read x (GetItem). The walk may then add dL/dy into a gradient sum of x it
    # already holds, `add_gradient_into(buffer, gy)`, instead of building and adding a zeros-sized array; and the
    # array backward returns is fresh (nobody else holds it), so the walk may add later shares into it in place.
    scatters_gradient = False

    @property
    def name(self) -> str:
        return type(self).__name__

    def forward(self, *args, **options):
        raise NotImplementedError(f"{self.name}.forward is not written")

    def backward(self, grad_output):
        raise NotImplementedError(f"{self.name}.backward is not written")

    @property
    def needs_input_grad(self) -> tuple:
        """For each positional input, whether a gradient for it is wanted (lets backward skip work)."""
        return tuple([isinstance(a, Tensor) and a._requires_grad for a in self.inputs])

    def input_requires_grad(self, index: int) -> bool:
        """`needs_input_grad[index]`, without building the whole tuple (for the hottest backward methods)."""
        inp = self.inputs[index]
        return isinstance(inp, Tensor) and inp._requires_grad

    def save_for_backward(self, *values) -> None:
        """Keep inputs/outputs (as arrays) for backward."""
        self._saved = values

    @property
    def saved_tensors(self) -> tuple:
        """The saved values: arrays normally; Tensors on the graph when backward is being recorded."""
        saved = self._saved
        if saved is None:  # run_backward sets None when it frees a walked node
            raise RuntimeError(
                f"{self.name}: its saved values were freed by an earlier backward(); "
                "pass retain_graph=True to the first backward() to walk the graph again"
            )
        if not _state.graph_backward:
            return saved
        return tuple(self._as_graph_tensor(v, k) for k, v in enumerate(saved))

    def _as_graph_tensor(self, value, position: int):
        # Two inputs may share one array (x * x.detach()): the input at the saved value's own position wins.
        inputs = self.inputs
        if position < len(inputs) and isinstance(inputs[position], Tensor) and inputs[position].data is value:
            return inputs[position]
        for inp in inputs:
            if isinstance(inp, Tensor) and inp.data is value:
                return inp
        if value is self._out:
            return Tensor._make(value, self)
        return value

    @classmethod
    def call(cls, *args, **options):
        """Run the op on arrays (plain result) or, if any argument is a Tensor, record it like `apply`.

        Used inside backward methods, so that one backward serves both plain and create_graph walks.
        """
        if any(isinstance(a, Tensor) for a in args):
            return cls.apply(*args, **options)
        return cls.__new__(cls).forward(*args, **options)

    @classmethod
    def apply(cls, *args, **options):
        """Run forward on the arrays inside `args` and, if any input requires grad, record the node.

        Fast path (glassnet/fast_paths.py): one, two and three arguments are unpacked by hand.
        Reference: the general loop (its last branch).
        """
        fn = _new_object(cls)
        # Tensor arguments are unpacked to their arrays by hand for one and two inputs: this is the hottest
        # code in glassnet (every op of every step passes here), so it avoids a generic loop and extra calls.
        try:
            if len(args) == 1:
                a = args[0]
                if isinstance(a, Tensor):
                    out = fn.forward(a.data, **options) if options else fn.forward(a.data)
                    tracked = a._requires_grad
                else:
                    out = fn.forward(a, **options)
                    tracked = False
            elif len(args) == 2:
                a, b = args
                a_is, b_is = isinstance(a, Tensor), isinstance(b, Tensor)
                a, b = a.data if a_is else a, b.data if b_is else b
                out = fn.forward(a, b, **options) if options else fn.forward(a, b)
                tracked = (a_is and args[0]._requires_grad) or (b_is and args[1]._requires_grad)
            elif len(args) == 3 and not options and isinstance(args[0], Tensor) and isinstance(args[1], Tensor):
                a, b, c = args  # x, weight, bias of a dense layer: the third hottest shape of call
                c_is = isinstance(c, Tensor)
                out = fn.forward(a.data, b.data, c.data if c_is else c)
                tracked = a._requires_grad or b._requires_grad or (c_is and c._requires_grad)
            else:
                arrays, tracked = [], False
                for a in args:
                    if isinstance(a, Tensor):
                        arrays.append(a.data)
                        tracked = tracked or a._requires_grad
                    else:
                        arrays.append(a)
                out = fn.forward(*arrays, **options)
        except Exception as e:
            mixed = same_device_error(cls.__name__, [a.data if isinstance(a, Tensor) else a for a in args])
            if mixed is not None:  # the array library's own complaint about mixing devices, said plainly
                raise mixed from e
            if not isinstance(e, (ValueError, TypeError, IndexError)):
                raise
            wrapped = _op_error(e, cls, args)
            raise wrapped from (None if type(e) in _MESSAGE_ERRORS else e)  # a foreign type stays as the cause
        if type(out) is not ndarray and not is_array(out):  # NumPy returns scalars from 0-d math: make them arrays
            raw, out = out, np.asarray(out)
            fn._saved = tuple(out if v is raw else v for v in fn._saved)
        t = _new_object(Tensor)
        t.data = out
        t._grad = t._hooks = None
        if tracked and (not open_blocks or _state.grad_enabled):
            fn.inputs = args
            fn._out = out
            fn._seq = next(_sequence)
            t.grad_fn = fn
            t._requires_grad = True
        else:
            t.grad_fn = None
            t._requires_grad = False
        if open_blocks and _state.watching:  # detect_anomaly or an observer (the common case: one check)
            _watch(fn, cls, args, options, t)
        return t


def _op_error(error: Exception, cls, args) -> Exception:
    """`error`, raised inside `cls.forward`, as an error whose message starts with the op's name and ends with the
    input shapes. The message is always `str(error)`, never rebuilt from its arguments: a built-in TypeError or
    IndexError (or a glassnet error) is raised again as the same type, a plain ValueError as `OpValueError`; a
    library's subclass (NumPy's `_UFuncNoLoopError` takes a ufunc and dtypes, not a message) becomes its built-in
    base (a ValueError: `OpValueError`), chained to the original: IndexError first (NumPy's AxisError is both a
    ValueError and an IndexError; PyTorch raises IndexError for a bad dim)."""
    shapes = ", ".join(str(tuple(a.shape)) for a in args if hasattr(a, "shape"))
    if type(error) in _MESSAGE_ERRORS:  # built from a message alone: safe to raise again with a longer one
        kind = type(error)
    else:
        kind = next(k for k in (IndexError, TypeError, ValueError) if isinstance(error, k))
    if kind is ValueError:  # glassnet's op error: still a ValueError, and catchable as RuntimeError, as in PyTorch
        kind = OpValueError
    return kind(f"{cls.__name__}: {error} (input shapes {shapes})")


# The error types whose constructor takes just a message: re-raised as themselves (a plain ValueError as
# OpValueError), with no cause to chain. Any other type (a library's subclass) is never rebuilt from its args.
_MESSAGE_ERRORS = (ValueError, TypeError, IndexError, OpValueError, ShapeError)


_new_object = object.__new__
_first = operator.itemgetter(0)


def unbroadcast(grad, shape: tuple):
    """Sum a gradient back down to `shape`, undoing NumPy broadcasting.

    If x of shape (3, 1) was broadcast to (2, 3, 4) in the forward pass, each x element was used
    2*4 times, so its gradient is the sum over the axes broadcasting created or stretched.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)  # the method form: ndarray and Tensor both have it
    return grad.reshape(shape)


class BackwardVisitor:
    """Watches one backward walk: the way instruments see backward without keeping a copy of the walk.

    `run_backward(..., visitor=v)` calls `v.node(node, grad_output, grad_inputs)` once per node, after the node's
    tensor hooks ran and its backward returned (`grad_inputs` as backward returned them, one per input, None where
    no gradient flows; `match_gradient(g, input, name)` gives one in its input's shape and dtype), and
    `v.leaf(tensor, grad)` once per leaf with its total gradient, after the leaf's hooks. With
    `writes_grads = False` the walk computes every gradient but writes no `.grad` (nor `retain_grad`), so
    `lens.trace` shows exactly what `.grad` would hold. Anomaly mode is a visitor too.
    The values passed are the walk's own arrays: copy what you keep.
    """

    writes_grads = True

    def node(self, node: Function, grad_output, grad_inputs: list) -> None:
        """One node was walked."""

    def leaf(self, tensor, grad) -> None:
        """A leaf's total gradient is known."""


class _AnomalyCheck(BackwardVisitor):
    """detect_anomaly's part of the walk: a NaN or Inf gradient names the op that produced it."""

    def node(self, node, grad_output, grad_inputs):
        for gx in grad_inputs:
            if gx is not None:
                _check_finite(gx, "backward (gradient)", node)


def run_backward(outputs, grad_outputs, retain_graph: bool, create_graph: bool, inputs=None, visitor=None):
    """Walk the graph from `outputs` back to the leaves: the one backward walk of glassnet.

    Nodes are visited newest first (a max-heap on creation order): a node is created after all of its
    inputs, so by the time it is popped every consumer has already added its share to its gradient.
    With `inputs=None`, gradients are accumulated into each leaf's `.grad` (after all of them are
    computed, so a failure part-way leaves every `.grad` untouched). Otherwise the gradients of
    `inputs` are returned and no `.grad` is changed. A `BackwardVisitor` watches every node and leaf
    (anomaly mode adds its own).

    Fast path (glassnet/fast_paths.py): a sum this walk made itself is added to in place.
    Reference: a fresh sum for every share.
    """
    if _state.capture is not None:
        _state.capture.backward(outputs, grad_outputs, retain_graph, create_graph, inputs)
    grads: dict = {}  # node -> dL/d(node's output), summed over consumers
    leaves: list = []  # (leaf, dL/d(leaf)) in the order found; a leaf used twice appears twice
    heap: list = []  # (-creation order, node): the order is unique, so nodes themselves are never compared
    for out, g in zip(outputs, grad_outputs):
        node = out.grad_fn
        if node is None:
            if out._requires_grad:
                leaves.append((out, g))
            continue
        if node in grads:
            grads[node] = grads[node] + g
        else:
            grads[node] = g
            heapq.heappush(heap, (-node._seq, node))
    wanted = None
    if inputs is not None:
        wanted = {id(t.grad_fn) if t.grad_fn is not None else id(t): t for t in inputs}
    captured: dict = {}
    owned: set = set()  # nodes whose gradient buffer is a fresh sum made by this walk

    visitors = None  # (the common case: nobody watches)
    if visitor is not None or _state.anomaly:
        visitors = [v for v in (visitor, _AnomalyCheck() if _state.anomaly else None) if v is not None]
    writes = visitors is None or all(v.writes_grads for v in visitors)
    pop, push, found = heapq.heappop, heapq.heappush, leaves.append
    ready = None  # leaves whose post-accumulate hooks run as soon as their gradient is complete (data parallel)
    if inputs is None and _post_accumulate_hooks and writes:  # (a walk that writes no .grad announces none)
        ready = _ReadyLeaves(outputs, create_graph, leaves)
        if ready.remaining:
            found = ready.found
    prev_graph, prev_enabled = _state.graph_backward, _state.grad_enabled
    _block_opened(None)  # (closed in the finally below)
    _state.graph_backward = _state.grad_enabled = create_graph
    # This loop runs once per node of every training step; it is written for speed (locals, one check per case).
    try:
        while heap:
            node = pop(heap)[1]
            gy = grads.pop(node)
            if owned:
                owned.discard(node)
            if node._saved is None:
                raise RuntimeError(
                    f"backward: the graph through {node.name} was already freed by an earlier backward(); "
                    "pass retain_graph=True to the first backward() to walk it again"
                )
            if node._hooks is not None or node._retain is not None:
                gy = _run_tensor_hooks(node, gy, create_graph, writes)
            if wanted is not None and id(node) in wanted:
                captured[id(node)] = gy
            if node.scatters_gradient and visitors is None and node.inputs[0].grad_fn in owned:
                node.add_gradient_into(grads[node.inputs[0].grad_fn], gy)  # x[index] += dL/dy, in the sum itself
                if not retain_graph:
                    node._saved = node._out = None
                continue
            gxs = node.backward(gy)
            if type(gxs) is not tuple:
                gxs = (gxs,)
            if visitors:
                for v in visitors:
                    v.node(node, gy, gxs)
            checked = not node.exact_gradients
            for inp, gx in zip(node.inputs, gxs):
                if gx is None or not isinstance(inp, Tensor) or not inp._requires_grad:
                    continue
                if checked:
                    data = inp.data
                    if gx.shape != data.shape or (gx.dtype is not data.dtype and gx.dtype != data.dtype):
                        gx = match_gradient(gx, inp, node.name)
                parent = inp.grad_fn
                if parent is None:
                    found((inp, gx))
                elif parent in grads:
                    if parent in owned:  # a sum this walk made itself: add in place (nothing else sees it)
                        grads[parent] += gx
                    else:
                        grads[parent] = grads[parent] + gx
                        if not create_graph:
                            owned.add(parent)
                else:
                    grads[parent] = gx
                    push(heap, (-parent._seq, parent))
                    if node.scatters_gradient and visitors is None and not create_graph:
                        owned.add(parent)  # a fresh zeros-and-slice array that no visitor has seen: ours to add into
            if not retain_graph:  # free what backward kept (None marks it walked); the node dies with its output
                node._saved = node._out = None
    finally:
        _state.graph_backward, _state.grad_enabled = prev_graph, prev_enabled
        _block_closed()

    if inputs is not None:
        for leaf, g in _sum_per_leaf(leaves):
            if id(leaf) in wanted:
                captured[id(leaf)] = g
        return [captured.get(k) for k in wanted]
    if ready is not None:
        ready.flush()
    final = _sum_per_leaf(leaves)
    if visitors:
        final = [(leaf, _run_leaf_hooks(leaf, g, create_graph) if leaf._hooks else g) for leaf, g in final]
        for v in visitors:
            for leaf, g in final:
                v.leaf(leaf, g)
        if not writes:
            return None
        _write_leaf_grads(final, create_graph, grad_outputs, hooks_done=True)  # (the hooks ran above)
    else:
        _write_leaf_grads(final, create_graph, grad_outputs)
    if ready is not None:
        ready.fire_for(final)
    return None


# ----- leaves whose gradient is announced as soon as it is complete -------------------------------------------------
# id(leaf) -> (weak reference to the leaf, its post-accumulate hooks). Data-parallel training registers one per
# parameter, to start communicating a gradient while the walk is still computing the others.
_post_accumulate_hooks: dict = {}


class _PostAccumulateHooks(list):
    """One leaf's post-accumulate hooks; when the last is removed the leaf leaves the registry, so that a process
    whose hooks are all gone pays nothing more per backward."""

    def __init__(self, key: int):
        super().__init__()
        self.key = key

    def remove(self, hook) -> None:
        super().remove(hook)
        entry = _post_accumulate_hooks.get(self.key)
        if not self and entry is not None and entry[1] is self:
            del _post_accumulate_hooks[self.key]


def add_post_accumulate_grad_hook(leaf, hook) -> list:
    """Register `hook(leaf)` to run once `leaf.grad` holds this backward's complete gradient; returns the list the
    hook was appended to (removing it from there unregisters it)."""
    key = id(leaf)
    entry = _post_accumulate_hooks.get(key)
    if entry is None or entry[0]() is not leaf:
        registry = _post_accumulate_hooks  # bound now: the callback may run while the interpreter shuts down
        entry = (weakref.ref(leaf, lambda _ref, key=key: registry.pop(key, None)), _PostAccumulateHooks(key))
        _post_accumulate_hooks[key] = entry
    entry[1].append(hook)
    return entry[1]


class _ReadyLeaves:
    """During one backward walk: for each leaf with post-accumulate hooks, how many of its uses are still to be walked.

    A pass over the graph before the walk counts the uses (one per op input that is the leaf). The walk hands every
    leaf gradient share to `found`; when a hooked leaf's last share arrives its `.grad` is written and its hooks run,
    while the walk goes on with the ops nearer the inputs. Leaves without such hooks are untouched: they are written
    together after the walk, as always. Shares that never arrive (an op returned no gradient for the leaf) are
    written by `flush` after the walk.
    """

    def __init__(self, outputs, create_graph: bool, leaves: list):
        self.create_graph = create_graph
        self.leaves_append = leaves.append  # where the shares of leaves without such hooks go, as without this
        self.remaining: dict = {}  # id(leaf) -> uses not yet walked
        self.shares: dict = {}  # id(leaf) -> (leaf, [gradient shares so far])
        self.done: set = set()  # ids of leaves already written and announced in this walk
        hooked, remaining = _post_accumulate_hooks, self.remaining
        stack = [out.grad_fn for out in outputs if out.grad_fn is not None]
        seen = {id(node) for node in stack}
        while stack:
            node = stack.pop()
            for inp in node.inputs:
                if not isinstance(inp, Tensor) or not inp._requires_grad:
                    continue
                parent = inp.grad_fn
                if parent is None:
                    if id(inp) in hooked:
                        remaining[id(inp)] = remaining.get(id(inp), 0) + 1
                elif id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append(parent)

    def found(self, pair) -> None:
        """One gradient share for a leaf (the walk's `leaves.append`)."""
        leaf, g = pair
        key = id(leaf)
        left = self.remaining.get(key)
        if left is None:
            self.leaves_append(pair)
            return
        entry = self.shares.get(key)
        if entry is None:
            self.shares[key] = (leaf, [g])
        else:
            entry[1].append(g)
        self.remaining[key] = left - 1
        if left == 1:
            self._complete(key)

    def _complete(self, key) -> None:
        leaf, shares = self.shares.pop(key)
        g = shares[0]
        for extra in shares[1:]:
            g = g + extra  # a fresh array: the shares themselves stay untouched
        # The share may also be another leaf's (Add hands one array to both inputs): pass it as "shared" so that
        # it is copied before it becomes this leaf's .grad.
        _write_leaf_grads([(leaf, g)], self.create_graph, (g,))
        self.done.add(key)
        _announce(leaf)

    def flush(self) -> None:
        """After the walk: write and announce the hooked leaves some of whose shares never came."""
        for key in list(self.shares):
            self._complete(key)

    def fire_for(self, written: list) -> None:
        """Announce hooked leaves that were written with the others (an output that is itself a leaf)."""
        for leaf, _ in written:
            if id(leaf) in _post_accumulate_hooks and id(leaf) not in self.done:
                _announce(leaf)


def _announce(leaf) -> None:
    entry = _post_accumulate_hooks.get(id(leaf))
    if entry is not None and entry[0]() is leaf:
        for hook in list(entry[1]):
            hook(leaf)


def match_gradient(gx, inp, op_name: str):
    """Bring a returned gradient to its input's shape and dtype, or explain why it cannot be."""
    if type(gx) is not ndarray and not hasattr(gx, "grad_fn") and not is_array(gx):  # NumPy's 0-d math: scalars
        gx = np.asarray(gx)
    if gx.shape != inp.data.shape:
        try:
            gx = unbroadcast(gx, inp.data.shape)
        except ValueError:
            raise RuntimeError(
                f"{op_name}.backward returned a gradient of shape {tuple(gx.shape)} "
                f"for an input of shape {tuple(inp.data.shape)}"
            ) from None
    if gx.dtype != inp.data.dtype:
        gx = gx.astype(inp.data.dtype)
    return gx


def _as_array(value):
    """An array of any device as it is; a NumPy scalar (from 0-d math) as a 0-d host array."""
    return value if is_array(value) else np.asarray(value)


def _copied(value):
    """A fresh array holding `value` (on its device)."""
    return value.copy() if is_array(value) else np.array(value)


def _sum_per_leaf(leaves: list) -> list:
    """(leaf, gradient) pairs with one entry per leaf: a leaf used by several ops gets the sum of their shares."""
    if len(set(map(id, map(_first, leaves)))) == len(leaves):
        return leaves  # the common case: every leaf used once
    summed: dict = {}
    for leaf, g in leaves:
        key = id(leaf)
        if key in summed:
            summed[key] = (leaf, summed[key][1] + g)  # a fresh array: the shares themselves stay untouched
        else:
            summed[key] = (leaf, g)
    return list(summed.values())


def _run_tensor_hooks(node, gy, create_graph, writes: bool = True):
    """Hooks registered on a non-leaf tensor see (and may replace) its gradient; retain_grad keeps it (unless the
    walk writes no gradients)."""
    if node._hooks:
        for hook in node._hooks:
            result = hook(gy if isinstance(gy, Tensor) else Tensor._make(_as_array(gy), None))
            if result is not None:
                gy = _hook_result(result, node._out, create_graph)
    if node._retain is not None and writes:
        tensor = node._retain()
        if tensor is not None:
            g = gy if isinstance(gy, Tensor) else Tensor._make(_copied(gy), None)
            tensor._grad = g if tensor._grad is None else tensor._grad + g
    return gy


def _write_leaf_grads(leaves: list, create_graph: bool, grad_outputs=(), hooks_done: bool = False) -> None:
    """Accumulate each (leaf, gradient) into leaf.grad, running the leaves' hooks first."""
    for leaf, _ in leaves:
        if leaf._hooks and not hooks_done:  # every hook first: if one raises, no .grad has been touched yet
            leaves = [(leaf, _run_leaf_hooks(leaf, g, create_graph) if leaf._hooks else g) for leaf, g in leaves]
            break
    if create_graph:
        for leaf, g in leaves:
            g = g if isinstance(g, Tensor) else Tensor._make(_copied(g), None)
            leaf._grad = g if leaf._grad is None else leaf._grad + g
        return
    shared = set(map(id, grad_outputs))  # arrays that must not become a leaf's .grad as they are
    for leaf, g in leaves:
        if type(g) is not ndarray:
            g = g.data if isinstance(g, Tensor) else _as_array(g)  # (NumPy's 0-d math gives scalars: make arrays)
        if leaf._grad is not None:
            leaf._grad.data += g
            continue
        # A gradient array becomes .grad as it is only when nothing else can see it: a view, an array handed to
        # two leaves (Add passes dL/dy to both inputs), or the caller's `gradient` is copied first, so that
        # later in-place accumulation cannot leak.
        if g.base is not None or id(g) in shared:
            g = g.copy()
        shared.add(id(g))
        t = _new_object(Tensor)
        t.data, t.grad_fn, t._requires_grad, t._grad, t._hooks = g, None, False, None, None
        leaf._grad = t


def _run_leaf_hooks(leaf, g, create_graph: bool):
    for hook in leaf._hooks:
        result = hook(g if isinstance(g, Tensor) else Tensor._make(_as_array(g), None))
        if result is not None:
            g = _hook_result(result, leaf.data, create_graph)
    return g


def _hook_result(result, value, create_graph: bool):
    """A gradient a hook returned for `value`: it must keep the shape, and takes value's dtype (as every gradient
    in the walk has its tensor's shape and dtype)."""
    if not isinstance(result, Tensor):
        raise TypeError(f"a gradient hook must return a Tensor or None, not {type(result).__name__}")
    if result.shape != value.shape:
        raise RuntimeError(
            f"a gradient hook returned a gradient of shape {tuple(result.shape)} for a tensor of shape "
            f"{tuple(value.shape)}; a hook may change the values, not the shape"
        )
    if result.dtype != value.dtype:
        result = result.to(value.dtype)
    return result if create_graph else result.data


def unit_gradient(value):
    """dL/dL = 1 in the shape and dtype of a one-element `value` (ones/ones_like are slower Python wrappers)."""
    if type(value) is not np.ndarray:
        return array_module(value).ones(value.shape, value.dtype)
    seed = np.array(1, value.dtype)
    return seed if value.ndim == 0 else seed.reshape(value.shape)


def initial_gradients(outputs, grad_outputs, create_graph: bool, name: str) -> list:
    """dL/dL = 1 for scalar outputs; a non-scalar output needs an explicit gradient of its shape."""
    result = []
    for i, out in enumerate(outputs):
        g = None if grad_outputs is None else grad_outputs[i]
        if g is None:
            if out.data.size != 1:
                raise RuntimeError(
                    f"{name}: grad can be implicitly created only for scalar outputs, got shape {out.shape}; "
                    "pass gradient= with the same shape"
                )
            g = unit_gradient(out.data)
        else:
            g_arr = g.data if isinstance(g, Tensor) else array_like(g, out.data, out.dtype)
            if g_arr.shape != out.shape:
                raise RuntimeError(
                    f"{name}: gradient of shape {g_arr.shape} does not match the output shape {out.shape}"
                )
            # A gradient entering the graph has its output's dtype, like every gradient inside it (ops rely on it).
            if create_graph and isinstance(g, Tensor):
                result.append(g if g.dtype == out.dtype else g._cast(out.dtype))
                continue
            g = g_arr if g_arr.dtype == out.dtype else g_arr.astype(out.dtype)
        result.append(Tensor._make(g, None) if create_graph else g)
    return result


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Return d(outputs)/d(inputs) without touching any `.grad` (like `torch.autograd.grad`)."""
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if isinstance(outputs, Tensor):
        outputs = [outputs]
        if grad_outputs is not None and not isinstance(grad_outputs, (list, tuple)):
            grad_outputs = [grad_outputs]  # one output, one gradient (as torch.autograd.grad accepts)
    outputs = list(outputs)
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError(f"grad: an input of shape {t.shape} does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    gouts = initial_gradients(outputs, grad_outputs, create_graph, "grad")
    found = run_backward(outputs, gouts, retain_graph, create_graph, inputs=inputs)
    result = []
    for t, g in zip(inputs, found):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: an input of shape {t.shape} was not used to compute the outputs; "
                    "pass allow_unused=True if that is intended"
                )
            result.append(None)
        else:
            g = match_gradient(g, t, "grad")
            result.append(g if isinstance(g, Tensor) else Tensor._make(_as_array(g), None))
    return tuple(result)


def __getattr__(name):
    # gradcheck lives in its own module (it needs Tensor); expose it here as gn.autograd.gradcheck.
    if name in ("gradcheck", "gradgradcheck", "GradcheckError"):
        from glassnet import gradcheck as _gc

        return getattr(_gc, name)
    raise AttributeError(name)
