"""The Optimizer base class: parameter groups, per-parameter state, zero_grad, step, state_dict.

An optimiser holds `param_groups`, a list of dicts, each with a `params` list and that group's
hyperparameters (the constructor's defaults fill in whatever a group leaves out), and `state`, a
dict from parameter to that parameter's buffers (momentum, running averages, step count).

A subclass writes one method, `update(param, grad, state, group)`: the rule for a single parameter,
on plain arrays, in place. The base class walks the groups, skips parameters without a gradient,
and runs every update under `no_grad`, so an optimiser step never records graph.

`state_dict()` has PyTorch's structure, so checkpoints read the same in both libraries::

    {"state": {0: {"step": 3, "exp_avg": Tensor, ...}, 1: {...}},      # keyed by parameter index
     "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1]}]}
"""

from __future__ import annotations

import copy
import warnings
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from glassnet.autograd import _state, enable_grad, no_grad
from glassnet.backend import array_like, is_array, np
from glassnet.tensor import Tensor, _RemovableHandle


class _Required:
    """Marks a hyperparameter with no default: every parameter group must give it."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


_scalar_arrays: dict = {}


def scalar_array(value: float, dtype, like=None):
    """`value` as a read-only 0-d array of `dtype`, cached (or the plain float beside an array `like` on a device,
    which takes no host array).

    NumPy multiplies a small array by a 0-d array of its own dtype in about half the time it takes for a
    Python float (which it converts on every call), and the result is bitwise the same: the float is rounded
    to `dtype` either way. Optimisers use it for the learning rate in their per-parameter updates.
    Fast path (glassnet/fast_paths.py). Reference: the Python float.
    """
    if like is not None and type(like) is not np.ndarray:
        return value
    key = (value, dtype)
    array = _scalar_arrays.get(key)
    if array is None:
        if len(_scalar_arrays) > 256:  # schedulers change lr every step: keep the cache bounded
            _scalar_arrays.clear()
        array = _scalar_arrays[key] = np.array(value, dtype)
        array.flags.writeable = False
    return array


def _plain(value):
    """NumPy scalars (and tuples of them) become Python numbers, so float32 updates stay float32."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


class Optimizer:
    """Base class of all optimisers: holds parameter groups and per-parameter state.

    Args:
        params: an iterable of Tensors, of `(name, Tensor)` pairs, or of dicts each with a
            `params` entry and hyperparameters that override `defaults` for that group.
        defaults: the hyperparameters (name -> default value) of this optimiser.
    """

    def __init__(self, params, defaults: dict[str, Any]):
        self.defaults = dict(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._step_count = 0
        self._step_pre_hooks: list = []
        self._step_post_hooks: list = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors or dicts, but got a single Tensor; "
                "wrap it in a list"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ----- parameter groups ---------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (e.g. newly unfrozen layers) with its own hyperparameters."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError(f"{name}.add_param_group: the group has no 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: parameters must be given in an ordered collection (a list), not a set, "
                "whose order changes between runs"
            )
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError(f"{name}: give every parameter a name or none of them")
            group["param_names"] = names
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name} can only optimize Tensors, but parameter {i} is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name} can't optimize a non-leaf Tensor (parameter {i} was computed by an op)")
        group["params"] = params

        for key, default in self.defaults.items():
            if default is required and key not in group:
                raise ValueError(f"{name}: parameter group didn't specify a value of required hyperparameter {key!r}")
            group.setdefault(key, default)
        for key in group:
            if key != "params":
                group[key] = _plain(group[key])

        ids = [id(p) for p in params]
        if len(ids) != len(set(ids)):
            warnings.warn(f"{name}: a parameter group contains the same parameter twice", stacklevel=3)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if not seen.isdisjoint(ids):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        if any(("param_names" in g) != ("param_names" in group) for g in self.param_groups):
            raise ValueError(f"{name}: all parameter groups should be with names or all without")
        self.param_groups.append(group)

    # ----- the update -----------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set each `.grad` to None (default) or fill it with zeros."""
        if _state.capture is not None:  # gn.compile is recording: the call itself goes into the schedule
            return _state.capture.call(self.zero_grad, (set_to_none,), f"{type(self).__name__}.zero_grad()")
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad = p.grad.detach()
                    p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient; `closure` (re)computes the loss first and is returned."""
        if _state.capture is not None:  # gn.compile is recording: the call itself goes into the schedule
            if closure is not None:
                _state.capture.fail("optimizer.step(closure) is not captured")
            return _state.capture.call(self.step, (closure,), f"{type(self).__name__}.step()")
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        if self._step_pre_hooks:
            for hook in list(self._step_pre_hooks):
                hook(self)
        with no_grad():
            for group in self.param_groups:
                self.update_group(group)
        self._step_count += 1
        if self._step_post_hooks:
            for hook in list(self._step_post_hooks):
                hook(self)
        return loss

    def update_group(self, group: dict[str, Any]) -> None:
        """Update each parameter of one group that has a gradient, by calling `update` for it.

        An optimiser may override this with a loop specialised to its commonest case (SGD does, for plain
        SGD, which keeps no state): on small networks the per-parameter bookkeeping costs more than the update.
        """
        state, update = self.state, self.update
        for p in group["params"]:
            grad = p.grad
            if grad is not None:
                update(p, grad.data, state[p], group)

    def update(self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Apply this optimiser's rule to one parameter, in place on `param.data` (subclasses write this)."""
        raise NotImplementedError(f"{type(self).__name__}.update is not written")

    def register_step_pre_hook(self, hook: Callable[[Optimizer], None]) -> _RemovableHandle:
        """Call `hook(optimizer)` before every step (e.g. to record parameters before the update)."""
        self._step_pre_hooks.append(hook)
        return _RemovableHandle(self._step_pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable[[Optimizer], None]) -> _RemovableHandle:
        """Call `hook(optimizer)` after every step (e.g. to record the size of the update)."""
        self._step_post_hooks.append(hook)
        return _RemovableHandle(self._step_post_hooks, hook)

    # ----- saving and restoring ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimiser's state as `{"state": {index: {...}}, "param_groups": [...]}` (copies, PyTorch's layout).

        Parameters are numbered in order across the groups; each group lists its parameters' numbers.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, s in self.state.items():
            key = index[id(p)] if isinstance(p, Tensor) else p
            state[key] = {k: _copy_value(v) for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a `state_dict()`: hyperparameters and buffers, matched to this optimiser's parameters by position."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups'")
        saved_groups = copy.deepcopy(list(state_dict["param_groups"]))
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the loaded state dict has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} has {len(saved['params'])} parameters in the "
                    f"loaded state dict but {len(group['params'])} in this optimizer"
                )
        by_index = {
            int(k): p
            for saved, group in zip(saved_groups, self.param_groups)
            for k, p in zip(saved["params"], group["params"])
        }
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, value in state_dict["state"].items():
            p = by_index.get(int(key)) if _is_index(key) else None
            if p is None:
                state[key] = copy.deepcopy(value)
                continue
            if not isinstance(value, dict):
                raise ValueError(f"{name}.load_state_dict: the state of parameter {key} is not a dict: {value!r:.80}")
            for k, v in value.items():
                _check_state_shape(name, key, k, v, p)
            state[p] = {k: _cast_state(k, v, p) for k, v in value.items()}
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            saved = {k: _plain(v) for k, v in saved.items()}
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            new_groups.append(saved)
        self.state = state
        self.param_groups = new_groups

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k not in ("params", "param_names")]
        return "\n".join(lines) + "\n)"


def _is_index(key) -> bool:
    return isinstance(key, (int, np.integer)) or (isinstance(key, str) and key.isdigit())


def _copy_value(value):
    if isinstance(value, Tensor):
        return Tensor._make(value.data.copy(), None)
    return copy.deepcopy(value)


def _check_state_shape(who: str, index: Any, key: str, value: Any, param: Tensor) -> None:
    """A per-element buffer (exp_avg, momentum_buffer, ...) must have its parameter's shape and hold numbers."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_state_shape(who, index, f"{key}.{k}", v, param)
        return
    if not isinstance(value, (Tensor, np.ndarray)) or key == "step":
        return
    arr = value.data if isinstance(value, Tensor) else value
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{who}.load_state_dict: state[{index}][{key!r}] holds {arr.dtype} values, not numbers")
    if arr.ndim > 0 and tuple(arr.shape) != tuple(param.shape):
        raise ValueError(
            f"{who}.load_state_dict: state[{index}][{key!r}] has shape {tuple(arr.shape)}, but its parameter has "
            f"shape {tuple(param.shape)}"
        )


def _cast_state(key, value, param: Tensor):
    """A copy of a loaded state entry, with floating buffers cast to the parameter's dtype."""
    if key == "step":
        return value.item() if isinstance(value, (Tensor, np.generic)) or is_array(value) else value
    if isinstance(value, Tensor) or is_array(value):
        arr = value.data if isinstance(value, Tensor) else value
        if arr.dtype.kind == "f" and param.dtype.kind == "f":
            arr = arr.astype(param.dtype)
        return Tensor._make(array_like(arr, param.data).copy(), None)  # state lives where its parameter lives
    if isinstance(value, dict):
        return {k: _cast_state(k, v, param) for k, v in value.items()}
    return _plain(copy.deepcopy(value))
