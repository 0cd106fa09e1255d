"""Generated bad (and good) calls to the public ops and layers, against PyTorch.

For every call: either glassnet's result equals PyTorch's, or glassnet raises one of its clear errors — a
ValueError/TypeError/IndexError/RuntimeError that names the op — never a raw NumPy error, never a hang.
CI runs a bounded number of examples (a few seconds); `python tests/security/test_fuzz_api.py N` runs N.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as tF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import glassnet as gn
import glassnet.nn.functional as gF

EXAMPLES = int(os.environ.get("GLASSNET_FUZZ_EXAMPLES", "150"))
DTYPES = ["float32", "float64", "int64", "bool"]
SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30]


@st.composite
def arrays(draw):
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(0, 3), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**16))
    values = np.asarray(np.random.default_rng(seed).standard_normal(shape) * 3)
    if values.size and draw(st.booleans()):
        flat = values.reshape(-1)
        flat[draw(st.integers(0, flat.size - 1))] = draw(st.sampled_from(SPECIALS))
    if dtype == "bool":
        return np.asarray(values > 0)
    if dtype == "int64":
        return np.asarray(np.nan_to_num(values, nan=0, posinf=7, neginf=-7).clip(-100, 100).astype(np.int64))
    return np.asarray(values.astype(dtype))


def operands(draw_arrays):
    """An array, a Python scalar or a nested list: what users pass."""
    return st.one_of(
        draw_arrays,
        st.floats(allow_nan=True, allow_infinity=True, width=32),
        st.integers(-5, 5),
        st.lists(st.floats(-3, 3, width=32), min_size=0, max_size=3),
    )


def _to(lib, value):
    if isinstance(value, np.ndarray):
        return gn.tensor(value) if lib is gn else torch.from_numpy(value.copy())
    return value


UNARY = ["exp", "log", "sqrt", "sin", "tanh", "sigmoid", "relu", "abs", "neg", "square", "reciprocal"]
BINARY = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "matmul"]
REDUCTIONS = ["sum", "mean", "amax", "amin", "var", "std", "softmax", "log_softmax", "logsumexp", "argmax"]
SHAPES = ["reshape", "transpose", "permute", "squeeze", "unsqueeze", "flatten"]


def call(lib, name, args, extra):
    """The call `name` on `lib` (gn or torch), spelled the same way on both."""
    F = gF if lib is gn else tF
    a = [_to(lib, x) for x in args]
    if name in UNARY:
        return getattr(lib, name)(a[0]) if name not in ("relu",) else F.relu(a[0])
    if name in BINARY:
        return getattr(lib, name)(a[0], a[1])
    if name in REDUCTIONS:
        if name in ("softmax", "log_softmax"):
            return getattr(F, name)(a[0], dim=extra)
        return getattr(lib, name)(a[0], dim=extra)
    if name == "reshape":
        return a[0].reshape(*extra if isinstance(extra, tuple) else (extra,))
    if name == "transpose":
        return a[0].transpose(extra, 0)
    if name == "permute":
        return a[0].permute(*extra if isinstance(extra, tuple) else (extra,))
    if name in ("squeeze", "unsqueeze"):
        return getattr(a[0], name)(extra)
    if name == "flatten":
        return a[0].flatten(extra)
    if name in ("cat", "stack"):
        return getattr(lib, name)([a[0], a[1]], dim=extra)
    if name == "linear":
        return F.linear(a[0], a[1])
    if name in LAYERS:
        lib.manual_seed(0)
        layer = LAYERS[name](lib.nn)
        return layer(a[0])
    if name == "mse_loss":
        return F.mse_loss(a[0], a[1])
    if name == "cross_entropy":
        return F.cross_entropy(a[0], a[1])
    raise AssertionError(name)


LAYERS = {
    "Linear": lambda nn: nn.Linear(3, 2),
    "Conv2d": lambda nn: nn.Conv2d(1, 2, 2),
    "MaxPool2d": lambda nn: nn.MaxPool2d(2),
    "BatchNorm1d": lambda nn: nn.BatchNorm1d(3),
    "LayerNorm": lambda nn: nn.LayerNorm(3),
    "Embedding": lambda nn: nn.Embedding(5, 2),
    "LSTM": lambda nn: nn.LSTM(3, 2, batch_first=True),
}
EXTRAS = st.one_of(st.integers(-4, 4), st.tuples(st.integers(-2, 4), st.integers(-2, 4)), st.none())
NAMES = UNARY + BINARY + REDUCTIONS + SHAPES + ["cat", "stack", "linear", "mse_loss", "cross_entropy", *LAYERS]
METHODS = set(SHAPES) | set(LAYERS)
CLEAR = (ValueError, TypeError, IndexError, RuntimeError)
OP_WORDS = {
    "neg": "neg|negative|-",
    "div": "div|/",
    "sub": "sub|-",
    "add": "add|\\+",
    "mul": "mul|\\*",
    "matmul": "matmul|@",
    "pow": "pow|\\*\\*",
    "cross_entropy": "cross_entropy|CrossEntropy",
}


def _clear(error: BaseException, name: str) -> str | None:
    """Why `error` is not one of glassnet's clear errors for op `name`, or None if it is."""
    if not isinstance(error, CLEAR):
        return f"{type(error).__name__} is not a ValueError/TypeError/IndexError/RuntimeError"
    if type(error).__module__.startswith("numpy"):
        return f"a raw NumPy {type(error).__name__}"
    words = OP_WORDS.get(name, re.escape(name.replace("_", "")))
    if not re.search(words, str(error).replace("_", ""), re.IGNORECASE):
        return f"the message does not name {name!r}"
    return None


def _same(ours, theirs) -> bool:
    ours = ours.numpy() if isinstance(ours, gn.Tensor) else np.asarray(ours)
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    if ours.shape != theirs.shape:
        return False
    if ours.dtype == bool or theirs.dtype == bool:
        return np.array_equal(ours, theirs)
    return np.allclose(ours.astype(np.float64), theirs.astype(np.float64), rtol=1e-4, atol=1e-5, equal_nan=True)


def check_one(name, args, extra):
    try:
        expected = call(torch, name, args, extra)
    except Exception:  # noqa: BLE001 - any refusal by torch
        expected = None
    try:
        with np.errstate(all="ignore"):
            got = call(gn, name, args, extra)
    except Exception as error:  # noqa: BLE001 - judged below
        why = _clear(error, name)
        assert why is None, f"{name}{tuple(np.shape(a) for a in args)} extra={extra}: {why}: {error!r}"
        return
    if name in LAYERS:  # random weights differ between the libraries: compare what the call returned, not values
        expected = expected[0] if isinstance(expected, tuple) else expected
        got = got[0] if isinstance(got, tuple) else got
        assert expected is None or tuple(got.shape) == tuple(expected.shape), f"{name}: {got.shape} vs {expected.shape}"
        return
    if expected is not None and isinstance(expected, torch.Tensor):
        assert _same(got, expected), f"{name} {args!r} extra={extra}: glassnet {got!r} vs torch {expected!r}"


@st.composite
def calls(draw):
    """An op and its arguments; a method (`x.reshape`) is called on a tensor, a function on anything."""
    name = draw(st.sampled_from(NAMES))
    first = draw(arrays() if name in METHODS else operands(arrays()))
    return name, [first, draw(operands(arrays()))], draw(EXTRAS)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(calls())
def test_generated_calls_match_torch_or_fail_clearly(case):
    check_one(*case)


@pytest.mark.parametrize("values", [[1.0, 2.0], [[1.0], [2.0]], (3.0,)])
@pytest.mark.parametrize("name", ["exp", "sqrt", "sigmoid", "tanh", "abs"])
def test_lists_name_the_op(name, values):
    with pytest.raises(TypeError, match=rf"gn\.{name}: expected a Tensor"):
        getattr(gn, name)(values)


@pytest.mark.parametrize(
    "layer, x, message",
    [
        (
            lambda: gn.nn.BatchNorm1d(3),
            gn.tensor([[1, 2, 3], [4, 5, 6]]),
            r"^BatchNorm1d.*: batch_norm: input must be floating",
        ),
        (lambda: gn.nn.LSTM(3, 2), gn.tensor([[1, 2, 3]]), r"^LSTM\(3, 2.*int64"),
        (lambda: gn.nn.Sequential(gn.nn.LayerNorm(3)), gn.tensor([[1, 2, 3]]), r"^LayerNorm\(\(3,\).*: "),
    ],
)
def test_a_layer_names_itself_when_a_shared_op_refuses_its_input(layer, x, message):
    with pytest.raises((TypeError, ValueError), match=message):
        layer()(x)


if __name__ == "__main__":  # the longer run: python tests/security/test_fuzz_api.py 5000
    examples = sys.argv[1] if len(sys.argv) > 1 else "2000"
    env = {**os.environ, "GLASSNET_FUZZ_EXAMPLES": examples}
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", __file__, "-q", "-k", "generated"], env=env))
