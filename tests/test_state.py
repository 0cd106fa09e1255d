"""Process and thread state: grad mode per thread, errors that keep their message, the list in glassnet/state.py."""

from __future__ import annotations

import ast
import pathlib
import threading

import numpy as np
import pytest

import glassnet as gn
from glassnet import nn, state
from glassnet.autograd import observe_ops
from glassnet.ops import arithmetic as ar


def _run_threads(*targets) -> None:
    errors: list = []

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - re-raised in the main thread below
                errors.append(e)

        return run

    threads = [threading.Thread(target=guarded(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    if errors:
        raise errors[0]


def test_two_threads_training_keep_their_own_grad_mode():
    # Thread A evaluates under no_grad while thread B trains; the two interleave at every barrier. If grad mode were
    # process-wide, B's forward passes would run with recording off (no grad_fn) and its step would fail.
    rounds = 20
    barrier = threading.Barrier(2)
    seen: dict = {"a": [], "b": []}

    def evaluator():
        net = nn.Linear(3, 2)
        with gn.no_grad():
            for _ in range(rounds):
                barrier.wait()
                out = net(gn.ones(4, 3))
                seen["a"].append((gn.is_grad_enabled(), out.requires_grad))
                barrier.wait()

    def trainer():
        gn.manual_seed(0)
        net = nn.Linear(3, 2)
        opt = gn.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(rounds):
            barrier.wait()  # thread A is inside its no_grad block now
            loss = net(gn.ones(4, 3)).pow(2).mean()
            seen["b"].append((gn.is_grad_enabled(), loss.requires_grad))
            opt.zero_grad()
            loss.backward()
            opt.step()
            barrier.wait()

    _run_threads(evaluator, trainer)
    assert seen["a"] == [(False, False)] * rounds
    assert seen["b"] == [(True, True)] * rounds
    assert gn.is_grad_enabled()  # neither thread touched the main thread's mode


def test_a_new_thread_starts_with_grad_enabled_and_the_default_modes():
    found = {}

    def probe():
        found["grad"] = gn.is_grad_enabled()
        found["anomaly"] = state.modes.anomaly
        found["watching"] = state.modes.watching

    with gn.no_grad(), gn.autograd.detect_anomaly():
        _run_threads(probe)
        assert not gn.is_grad_enabled() and state.modes.anomaly
    assert found == {"grad": True, "anomaly": False, "watching": False}


def test_observers_see_only_their_own_thread():
    seen_here: list = []
    other_done = threading.Event()

    def other():
        (gn.ones(2) * 3).sum()
        other_done.set()

    with observe_ops(lambda cls, args, options, out: seen_here.append(cls.__name__)):
        _run_threads(other)
        assert other_done.is_set() and seen_here == []  # the other thread's ops are not reported here
        gn.ones(2) * 3
    assert seen_here == ["Mul"]


def test_inference_mode_records_no_graph_and_restores():
    w = gn.ones(2, requires_grad=True)
    with gn.inference_mode():
        assert not gn.is_grad_enabled()
        assert not (w * 2).requires_grad
        with gn.inference_mode(False):
            assert (w * 2).requires_grad
    assert gn.is_grad_enabled()

    @gn.inference_mode()
    def predict(x):
        return x * 2

    assert not predict(w).requires_grad and gn.is_grad_enabled()


def test_an_op_error_keeps_numpy_message_when_its_type_cannot_be_rebuilt():
    # NumPy's _UFuncNoLoopError takes (ufunc, dtypes), not a message: re-raising type(e)(msg) would lose the real
    # message in a TypeError about __init__. The op's name and the original message must both be there.
    x = gn.tensor([1, 2, 3])
    expected = r"^Add: ufunc 'add' did not contain a loop.*\(input shapes \(3,\), \(3,\)\)"
    with pytest.raises(TypeError, match=expected) as info:
        ar.Add.apply(x, np.array(["a", "b", "c"]))
    cause = info.value.__cause__  # the original NumPy error, chained
    assert type(cause).__module__.startswith("numpy") and type(cause) is not TypeError
    with pytest.raises(TypeError, match="__init__|argument"):
        type(cause)("a message alone")  # why it cannot be rebuilt with a longer message


def test_an_op_error_of_a_builtin_type_keeps_its_type():
    class Boom(gn.autograd.Function):
        def forward(self, x):
            raise IndexError("index 9 is out of bounds")

    with pytest.raises(IndexError, match=r"^Boom: index 9 is out of bounds \(input shapes \(2,\)\)$") as info:
        Boom.apply(gn.ones(2))
    assert type(info.value) is IndexError and info.value.__cause__ is None


def test_an_op_error_of_a_multiple_inheritance_type_becomes_an_index_error():
    class Bad(gn.autograd.Function):
        def forward(self, x):
            raise np.exceptions.AxisError(5, 1)  # a ValueError and an IndexError; its message is built from numbers

    with pytest.raises(IndexError, match=r"^Bad: axis 5 is out of bounds for array of dimension 1") as info:
        Bad.apply(gn.ones(2))
    assert type(info.value) is IndexError and isinstance(info.value.__cause__, np.exceptions.AxisError)


# ----- the list of process state -----------------------------------------------------------------------------
_KNOWN_STATE = {  # module -> names of its module-level mutable state; each must be described in glassnet/state.py
    "glassnet/autograd.py": {"_sequence", "_post_accumulate_hooks"},
    "glassnet/distributed/__init__.py": {"_group"},
    "glassnet/threads.py": {"_controller"},
    "glassnet/data/workers.py": {"_worker_info"},
    "glassnet/backend.py": {"_default_float", "_devices", "_array_types"},
    "glassnet/nn/module.py": {
        "_live_hooks",
        "_live_state_hooks",
        "_global_forward_pre_hooks",
        "_global_forward_hooks",
        "_global_backward_hooks",
    },
    "glassnet/ops/linalg.py": {"_ones_cache"},
    "glassnet/kernels.py": {"_kernels", "_compiled"},
    "glassnet/optim/optimizer.py": {"_scalar_arrays"},
    "glassnet/random.py": {"default_generator"},
    "glassnet/state.py": {"modes", "open_blocks"},
    "glassnet/backends.py": {"mps", "cudnn", "cuda"},
}
_DESCRIBED_AS = {  # how state.py names each one
    "_default_float": "set_default_dtype",
    "_sequence": "autograd._sequence",
    "_post_accumulate_hooks": "autograd._post_accumulate_hooks",
    "_group": "distributed._group",
    "_controller": "threads._controller",
    "_worker_info": "data.workers._worker_info",
    "_devices": "register_device",
    "_array_types": "register_device",
    "_live_hooks": "count of live hooks",
    "_live_state_hooks": "count of live state_dict hooks",
    "_global_forward_pre_hooks": "module-hooks switch",
    "_global_forward_hooks": "module-hooks switch",
    "_global_backward_hooks": "module-hooks switch",
    "_ones_cache": "sum_rows",
    "_kernels": "kernels._kernels",
    "_compiled": "kernels._compiled",
    "_scalar_arrays": "scalar_array",
    "default_generator": "default_generator",
    "modes": "`modes`",
    "open_blocks": "`open_blocks`",
    "mps": "`backends.mps`",
    "cudnn": "`backends.cudnn`",
    "cuda": "`backends.cuda`",
}


_IMMUTABLE_MAKERS = {
    "numpy.dtype",
    "frozenset",
    "tuple",
    "object",
    "_Required",
    "operator.itemgetter",
    "threading.Lock",
    "logging.getLogger",  # (a logger is configuration, kept by the logging module)
    # functions.py's factories: each returns a new function (gn.acos, gn.floor, ...), not a container
    "_unary",
    "_binary_float",
    "_bitwise",
    "_logical",
    "_step",
}


def _module_state(path: pathlib.Path) -> set:
    """Names a module rebinds with `global`, or binds at module level to a mutable container or object."""
    tree = ast.parse(path.read_text())
    names = {n for node in ast.walk(tree) if isinstance(node, ast.Global) for n in node.names}
    for node in tree.body:
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
            continue
        value = node.value
        called = ast.unparse(value.func) if isinstance(value, ast.Call) else ""
        mutable = isinstance(value, (ast.Dict, ast.List, ast.Set)) or (called and called not in _IMMUTABLE_MAKERS)
        for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
            name = ast.unparse(target)
            constant_table = name.isupper() or name.lstrip("_")[:1].isupper() or name == "__all__"
            if mutable and not constant_table:
                names.add(name)
    return names


def test_every_piece_of_module_level_state_is_listed_in_state_py():
    root = pathlib.Path(gn.__file__).parent
    found = {}
    for path in sorted(root.rglob("*.py")):
        names = _module_state(path)
        if names:
            found[str(path.relative_to(root.parent))] = names
    # A new global needs an entry in glassnet/state.py's list (and here): it must be safe with two training threads.
    assert found == _KNOWN_STATE
    doc = state.__doc__
    for name, words in _DESCRIBED_AS.items():
        assert words in doc, f"glassnet/state.py does not describe {name} (expected the words {words!r})"


def test_mode_blocks_are_counted_and_closed_even_when_they_fail():
    # Ops skip the per-thread lookup while no thread has a mode block open; every block must close its entry.
    assert state.open_blocks == []
    with pytest.raises(ValueError):
        with gn.no_grad():
            assert len(state.open_blocks) == 1 and not gn.is_grad_enabled()
            raise ValueError("inside")
    x = gn.ones(2, requires_grad=True)
    y = (x * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="already freed"):
        y.backward()  # a walk that fails part-way
    with pytest.raises(ZeroDivisionError), observe_ops(lambda *a: 1 / 0):
        x * 3
    assert state.open_blocks == [] and gn.is_grad_enabled() and not state.modes.watching
