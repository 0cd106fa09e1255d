"""Module: the base class of every layer and model. It keeps track of parameters, buffers, submodules and hooks.

Assigning a `Parameter`, a `Module` or a registered buffer to an attribute registers it, so

    class MLP(Module):
        def __init__(self):
            super().__init__()
            self.hidden = Linear(784, 256)   # a submodule: its parameters become MLP's
            self.out = Linear(256, 10)

        def forward(self, x):
            return self.out(self.hidden(x).relu())

gives `named_parameters()` → hidden.weight, hidden.bias, out.weight, out.bias; `state_dict()` holds the same
names (plus persistent buffers), and `model(x)` runs the forward pre-hooks, `forward`, then the forward hooks.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy

from glassnet import backend
from glassnet.autograd import _state as _capture_state
from glassnet.autograd import is_grad_enabled
from glassnet.nn.parameter import Parameter
from glassnet.tensor import Tensor, cat, split

__all__ = [
    "Module",
    "RemovableHandle",
    "register_module_forward_pre_hook",
    "register_module_forward_hook",
    "register_module_full_backward_hook",
]


class RemovableHandle:
    """Returned by every `register_*_hook`; `remove()` unregisters the hook (also usable as a context manager)."""

    _ids = itertools.count()

    def __init__(self, hooks_dict: dict):
        self._hooks_dict = hooks_dict
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        """Unregister the hook (a no-op if it is already gone)."""
        self._hooks_dict.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


# Hooks that fire for every module (instruments such as a recorder attach here rather than patching code).
_live_hooks = 0  # hooks registered anywhere and not yet removed: while 0, Module.__call__ need not look for any
_live_hooks_lock = threading.Lock()


def _count_hooks(change: int) -> None:
    global _live_hooks
    with _live_hooks_lock:
        _live_hooks += change


class _HookDict(OrderedDict):
    """The hooks of one module, or of all modules. Each entry added (by `register_*_hook` or by hand) or removed
    here updates the process-wide count of live hooks; while it is 0, `Module.__call__` runs forward directly
    (hooks are rare, module calls are not). A module garbage-collected with hooks still on it keeps them counted:
    that only costs the slower path, never a missed hook."""

    _count = staticmethod(_count_hooks)

    def __setitem__(self, key, value) -> None:
        if key not in self:
            self._count(1)
        super().__setitem__(key, value)

    def __delitem__(self, key) -> None:
        super().__delitem__(key)
        self._count(-1)

    def pop(self, key, *default):
        if key in self:
            self._count(-1)
        return super().pop(key, *default)

    def popitem(self, last: bool = True):
        item = super().popitem(last)
        self._count(-1)
        return item

    def clear(self) -> None:
        self._count(-len(self))
        super().clear()


_live_state_hooks = 0  # state_dict / load_state_dict hooks registered anywhere and not yet removed


def _count_state_hooks(change: int) -> None:
    global _live_state_hooks
    with _live_hooks_lock:
        _live_state_hooks += change


class _StateHookDict(_HookDict):
    """The state_dict hooks of one module: counted apart from the forward hooks (they must not slow module calls);
    while none is live anywhere, state_dict and load_state_dict do not even look for them."""

    _count = staticmethod(_count_state_hooks)


_global_forward_pre_hooks: dict = _HookDict()
_global_forward_hooks: dict = _HookDict()
_global_backward_hooks: dict = _HookDict()


def register_module_forward_pre_hook(hook: Callable) -> RemovableHandle:
    """Call `hook(module, args)` before the forward of every module; it may return replacement args."""
    handle = RemovableHandle(_global_forward_pre_hooks)
    _global_forward_pre_hooks[handle.id] = hook
    return handle


def register_module_forward_hook(hook: Callable) -> RemovableHandle:
    """Call `hook(module, args, output)` after the forward of every module; it may return a replacement output."""
    handle = RemovableHandle(_global_forward_hooks)
    _global_forward_hooks[handle.id] = hook
    return handle


def register_module_full_backward_hook(hook: Callable) -> RemovableHandle:
    """Call `hook(module, grad_input, grad_output)` during backward for every module."""
    handle = RemovableHandle(_global_backward_hooks)
    _global_backward_hooks[handle.id] = hook
    return handle


# The four stores of state_dict hooks, named as PyTorch's. A module made before they existed (or without
# Module.__init__) lacks them: they are read with .get and created when a hook is registered.
_STATE_HOOKS = (
    "_state_dict_pre_hooks", "_state_dict_hooks", "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks"
)


def _has_state_hooks(module: Module, stores: tuple) -> bool:
    """Whether any module of the tree has a hook in one of `stores`: no look at all while no state_dict hook is live
    anywhere (the common case), else one dict check per module."""
    return _live_state_hooks > 0 and any(m.__dict__.get(store) for m in module.modules() for store in stores)


class _IncompatibleKeys(NamedTuple):
    missing_keys: list
    unexpected_keys: list


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _funnel(tensors: list, on_grads: Callable) -> list:
    """Route `tensors` through one new graph node whose gradient hook sees all their gradients at once.

    `on_grads(grads)` receives a tuple with one gradient per tensor and may return replacements. One tensor goes
    through a copy (x + 0); several are flattened and concatenated, then split and reshaped back, so that a single
    tensor hook (`Tensor.register_hook`) observes the module boundary. Only used when backward hooks exist.
    """
    if len(tensors) == 1:
        routed = tensors[0].clone()

        def hook_one(grad):
            new = on_grads((grad,))
            return None if new is None else _replacement(new[0], grad)

        routed.register_hook(hook_one)
        return [routed]
    shapes = [t.shape for t in tensors]
    sizes = [t.numel() for t in tensors]
    packed = cat([t.reshape(-1) for t in tensors])

    def hook_many(grad):
        pieces = tuple(p.reshape(s).to(t.dtype) for p, s, t in zip(split(grad, sizes), shapes, tensors))
        new = on_grads(pieces)
        if new is None:
            return None
        return cat([_replacement(n, p).reshape(-1).to(grad.dtype) for n, p in zip(new, pieces)])

    packed.register_hook(hook_many)
    return [p.reshape(s).to(t.dtype) for p, s, t in zip(split(packed, sizes), shapes, tensors)]


def _replacement(new, old: Tensor) -> Tensor:
    """A hook's replacement gradient as a Tensor of the old one's shape (None means: no gradient, i.e. zeros)."""
    if new is None:
        return Tensor(numpy.zeros(old.shape, dtype=old.dtype), device=old.device)
    new = new if isinstance(new, Tensor) else Tensor(numpy.asarray(new, dtype=old.dtype), device=old.device)
    if new.shape != old.shape:
        raise RuntimeError(f"backward hook returned a gradient of shape {new.shape}; expected {old.shape}")
    return new


class _BackwardHook:
    """One forward call's bookkeeping for full backward hooks: captures grad_output, then fires at the inputs."""

    def __init__(self, module: Module, hooks: list):
        self.module = module
        self.hooks = hooks
        self.n_args = 0
        self.input_index: list = []
        self.n_outputs = 0
        self.grad_output: tuple | None = None

    def setup_inputs(self, args: tuple) -> tuple:
        """Route the positional tensors that require grad through one hooked node; return the new args."""
        self.n_args = len(args)
        self.input_index = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not self.input_index:
            return args
        routed = _funnel([args[i] for i in self.input_index], self._on_input_grads)
        args = list(args)
        for i, t in zip(self.input_index, routed):
            args[i] = t
        return tuple(args)

    def setup_outputs(self, output: Any) -> Any:
        """Route the output tensor(s) through one hooked node that captures grad_output."""
        single = isinstance(output, Tensor)
        outs = [output] if single else list(output) if isinstance(output, (tuple, list)) else None
        if outs is None:
            return output
        index = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        if not index:
            return output
        self.n_outputs = len(outs)
        self.output_index = index
        routed = _funnel([outs[i] for i in index], self._on_output_grads)
        for i, t in zip(index, routed):
            outs[i] = t
        if single:
            return outs[0]
        return type(output)(outs) if isinstance(output, list) or type(output) is tuple else type(output)(*outs)

    def _on_output_grads(self, grads: tuple):
        full = [None] * self.n_outputs
        for i, g in zip(self.output_index, grads):
            full[i] = g
        self.grad_output = tuple(full)
        if not self.input_index:  # nothing upstream requires grad: fire now, with no input gradients
            self._fire((None,) * self.n_args)
        return None

    def _on_input_grads(self, grads: tuple):
        full: list = [None] * self.n_args
        for i, g in zip(self.input_index, grads):
            full[i] = g
        new = self._fire(tuple(full))
        if new is None:
            return None
        return tuple(new[i] for i in self.input_index)

    def _fire(self, grad_input: tuple):
        grad_output = self.grad_output if self.grad_output is not None else (None,) * max(self.n_outputs, 1)
        replaced = None
        for hook in self.hooks:
            result = hook(self.module, grad_input, grad_output)
            if result is None:
                continue
            result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
            if len(result) != len(grad_input):
                raise RuntimeError(
                    f"backward hook on {type(self.module).__name__} returned {len(result)} gradients; "
                    f"expected {len(grad_input)} (one per positional input)"
                )
            grad_input = replaced = result
        return replaced


class Module:
    """Base class for layers and models: subclass it, create submodules/parameters in __init__, write forward."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", _HookDict())
        object.__setattr__(self, "_forward_hooks", _HookDict())
        object.__setattr__(self, "_backward_hooks", _HookDict())
        # state_dict / load_state_dict hooks (counted apart from the forward hooks; see _STATE_HOOKS)
        for store in _STATE_HOOKS:
            object.__setattr__(self, store, _StateHookDict())
        object.__setattr__(self, "_initialised", True)

    # ----- the forward pass -----------------------------------------------------------------------------
    _initialised = False  # Module.__init__ sets it on the instance

    def _check_initialised(self) -> None:
        if not self._initialised:
            raise RuntimeError(f"{type(self).__name__}: Module.__init__() was not called; add super().__init__()")

    def forward(self, *args, **kwargs) -> Any:
        """The computation; every subclass writes its own."""
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define forward(self, ...) in the class")

    def __call__(self, *args, **kwargs):
        """Run forward with the hooks around it.

        Fast path (glassnet/fast_paths.py): while no hook is live anywhere, forward runs directly.
        Reference: the hooked path below it.
        """
        try:
            if not _live_hooks and self._initialised:  # no hook exists anywhere: just the forward (the common case)
                return self.forward(*args, **kwargs) if kwargs else self.forward(*args)
            self._check_initialised()
            state = self.__dict__
            hooked = state["_forward_hooks"] or state["_forward_pre_hooks"] or state["_backward_hooks"]
            if not (hooked or _global_forward_pre_hooks or _global_forward_hooks or _global_backward_hooks):
                return self.forward(*args, **kwargs) if kwargs else self.forward(*args)
            if _capture_state.capture is not None:  # gn.compile: a replay runs the ops, not the hooks
                _capture_state.capture.fail(f"{type(self).__name__} has module hooks, which a replay would not call")
            for hook, with_kwargs in itertools.chain(
                ((h, False) for h in _global_forward_pre_hooks.values()), self._forward_pre_hooks.values()
            ):
                result = hook(self, args, kwargs) if with_kwargs else hook(self, args)
                if result is not None:
                    if with_kwargs:
                        args, kwargs = result
                    else:
                        args = result if isinstance(result, tuple) else (result,)
            backward_hook = None
            hooks = [*_global_backward_hooks.values(), *self._backward_hooks.values()]
            if hooks and is_grad_enabled():
                backward_hook = _BackwardHook(self, hooks)
                args = backward_hook.setup_inputs(args)
            output = self.forward(*args, **kwargs)
            for hook, with_kwargs in itertools.chain(
                ((h, False) for h in _global_forward_hooks.values()), self._forward_hooks.values()
            ):
                result = hook(self, args, kwargs, output) if with_kwargs else hook(self, args, output)
                if result is not None:
                    output = result
            if backward_hook is not None:
                output = backward_hook.setup_outputs(output)
            return output
        except (ValueError, TypeError, IndexError, RuntimeError) as error:
            _name_the_layer(error, self)
            raise

    # ----- hooks ----------------------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook: Callable, *, with_kwargs: bool = False) -> RemovableHandle:
        """Call `hook(module, args)` before forward; a non-None result replaces the args (a single value is wrapped)."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = (hook, with_kwargs)
        return handle

    def register_forward_hook(self, hook: Callable, *, with_kwargs: bool = False) -> RemovableHandle:
        """Call `hook(module, args, output)` after forward; a non-None result replaces the output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = (hook, with_kwargs)
        return handle

    def register_full_backward_hook(self, hook: Callable) -> RemovableHandle:
        """Call `hook(module, grad_input, grad_output)` when the gradients w.r.t. the module's inputs are known.

        grad_input has one entry per positional argument (None where it is not a tensor requiring grad) and
        grad_output one per output; the hook may return a tuple that replaces grad_input.
        """
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        return handle

    # ----- state_dict hooks (PyTorch's public ones) --------------------------------------------------------
    def _state_hook_store(self, store: str) -> _StateHookDict:
        hooks = self.__dict__.get(store)
        if hooks is None:  # a module made before the stores existed
            hooks = _StateHookDict()
            object.__setattr__(self, store, hooks)
        return hooks

    def _add_state_hook(self, store: str, hook: Callable) -> RemovableHandle:
        hooks = self._state_hook_store(store)
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call `hook(module, prefix, keep_vars)` when `state_dict()` reaches this module, before its entries."""
        return self._add_state_hook("_state_dict_pre_hooks", hook)

    def register_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call `hook(module, state_dict, prefix, local_metadata)` after this module and its children have put their
        entries into `state_dict`; the hook may edit it in place and must return None. glassnet keeps no
        metadata: `local_metadata` is {"version": 1}, as PyTorch's for a module without `_version`."""
        return self._add_state_hook("_state_dict_hooks", hook)

    def register_load_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call `hook(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
        error_msgs)` when `load_state_dict` reaches this module (parents before children), before its entries are
        read. `state_dict` is a copy (the caller's mapping is never changed) holding the keys under `prefix`; the
        hook may rename, add or remove entries there, and append messages to `error_msgs` (the load then raises
        and changes nothing). `local_metadata` is the checkpoint's `_metadata` entry for this module when the
        mapping has one, else {} (glassnet's state_dicts carry no metadata). `strict` is always True, as PyTorch's."""
        return self._add_state_hook("_load_state_dict_pre_hooks", hook)

    def register_load_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call `hook(module, incompatible_keys)` after `load_state_dict` has loaded this module and its children
        (children first). The hook may edit `incompatible_keys.missing_keys` / `.unexpected_keys` in place (the
        strict check comes after the post hooks: clearing them lets strict loading pass) and must return None.
        If the load then fails, the values already copied are put back (glassnet's load is all-or-nothing)."""
        return self._add_state_hook("_load_state_dict_post_hooks", hook)

    # ----- registration ---------------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' (Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            if "_modules" not in self.__dict__:
                raise AttributeError("cannot assign a submodule before Module.__init__() call")
            self._forget(name, keep="_modules")
            self._modules[name] = value
        elif "_modules" in self.__dict__ and name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' (Module or None expected)"
                )
            self._modules[name] = None
        elif "_buffers" in self.__dict__ and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' (Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Drop `name` from the plain attributes and from every registry except `keep` (whose order is kept)."""
        self.__dict__.pop(name, None)
        for store in ("_parameters", "_buffers", "_modules"):
            if store != keep:
                self.__dict__[store].pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: parameters, buffers and submodules live in their own dicts.
        d = self.__dict__
        params = d.get("_parameters")
        if params is not None and name in params:  # the common case first (self.weight in every forward)
            return params[name]
        for store in ("_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(store, ()):
                del self.__dict__[store][name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list:
        keys = list(super().__dir__()) + list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(set(keys))

    def _check_name(self, name: str, kind: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{kind} name can't be empty or contain '.', got {name!r}")
        if hasattr(self, name) and name not in self.__dict__.get(
            {"parameter": "_parameters", "buffer": "_buffers", "module": "_modules"}[kind], {}
        ):
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a None placeholder, as for bias=False) under `name`."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameters before Module.__init__() call")
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' (Parameter expected)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add state that is not a parameter (running statistics); persistent buffers go into the state_dict."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            if not isinstance(tensor, numpy.ndarray):
                raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (Tensor expected)")
            tensor = Tensor(tensor)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under `name`."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "module")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The submodule at a dotted path such as 'features.0'."""
        mod = self
        if target == "":
            return mod
        for part in target.split("."):
            if part not in mod._modules or mod._modules[part] is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule '{part}' (looking up '{target}')")
            mod = mod._modules[part]
        return mod

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at a dotted path such as 'features.0.weight'."""
        return self._get_entry(target, "_parameters", "parameter")

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at a dotted path such as 'bn.running_mean'."""
        return self._get_entry(target, "_buffers", "buffer")

    def _get_entry(self, target: str, store: str, kind: str):
        prefix, _, name = target.rpartition(".")
        mod = self.get_submodule(prefix)
        entries = getattr(mod, store)
        if name not in entries or entries[name] is None:
            raise AttributeError(f"{type(mod).__name__} has no {kind} '{name}' (looking up '{target}')")
        return entries[name]

    # ----- iteration ------------------------------------------------------------------------------------
    def _named_members(self, get_members, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        memo: set = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in get_members(module):
                if value is None or (remove_duplicate and id(value) in memo):
                    continue
                if remove_duplicate:
                    memo.add(id(value))
                yield (module_prefix + "." if module_prefix else "") + name, value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs; a parameter shared by two layers appears once."""
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter of this module and (if recurse) its submodules."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True) -> Iterator[tuple]:
        """(dotted name, buffer) pairs, persistent or not."""
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer of this module and (if recurse) its submodules."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for the direct submodules."""
        memo: set = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in memo:
                memo.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct submodules."""
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True) -> Iterator:
        """(dotted name, module) for this module ('' for itself) and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and every descendant."""
        for _, module in self.named_modules():
            yield module

    # ----- modes and bulk changes -------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch norm uses batch statistics) here and in every submodule."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode is expected to be a bool, got {type(mode).__name__}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode; the same as train(False)."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze (True) every parameter."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (to None by default, else to zeros)."""
        if _capture_state.capture is not None:  # gn.compile is recording: the call itself goes into the schedule
            return _capture_state.capture.call(self.zero_grad, (set_to_none,), f"{type(self).__name__}.zero_grad()")
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.zero_()

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call fn(module) on every submodule (children first) and on self, e.g. for custom initialisation."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def _apply_to_arrays(self, convert: Callable) -> Module:
        """Replace the array inside every parameter, buffer and gradient in place (identities are kept)."""
        for module in self.modules():
            for t in itertools.chain(module._parameters.values(), module._buffers.values()):
                if t is None:
                    continue
                t.data = convert(t.data)
                if t.grad is not None:
                    t.grad.data = convert(t.grad.data)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Move and/or convert parameters and buffers in place: to("cuda"), to(gn.float64), to("cuda", gn.float64).

        Only floating tensors change dtype; every tensor (and its gradient) moves. The Parameter objects stay the
        same, so an optimiser made before the move keeps working (its state follows on its next step).
        """
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("memory_format", None)  # accepted for PyTorch's sake: arrays here are dense
        if kwargs:
            raise TypeError(f"to: unexpected keyword arguments {sorted(kwargs)}")
        for arg in args:
            if isinstance(arg, Tensor):
                dtype, device = arg.dtype, arg.device
            elif isinstance(arg, backend.Device) or (isinstance(arg, str) and not _is_dtype_name(arg)):
                device = arg
            else:
                dtype = arg
        if device is not None:
            device = backend.Device(device)
            if device.type == "cuda" and device.index is None:
                device = backend.Device("cuda", 0)
            backend.backend_for(device)  # fails here, before anything moved, when the device cannot be used
            self._apply_to_arrays(lambda a: backend.to_device(a, device))
        if dtype is None:
            return self
        dtype = backend.to_dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"to: Module.to only accepts floating dtypes, got {dtype}")
        return self._apply_to_arrays(lambda a: a.astype(dtype) if a.dtype.kind == "f" and a.dtype != dtype else a)

    def float(self) -> Module:
        """Convert floating parameters and buffers to float32."""
        return self.to(backend.float32)

    def double(self) -> Module:
        """Convert floating parameters and buffers to float64."""
        return self.to(backend.float64)

    def half(self) -> Module:
        """Convert floating parameters and buffers to float16."""
        return self.to(backend.float16)

    def cpu(self) -> Module:
        """Move parameters and buffers to host memory."""
        return self.to("cpu")

    def cuda(self, device: int | str | None = None) -> Module:
        """Move parameters and buffers to a CUDA GPU (`cuda()` is GPU 0)."""
        return self.to(backend.Device("cuda", device) if isinstance(device, int) or device is None else device)

    # ----- state ------------------------------------------------------------------------------------------
    def _state_entries(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """(key, tensor) for every parameter and persistent buffer, recursing without removing shared modules."""
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, p
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                yield prefix + name, b
        for name, module in self._modules.items():
            if module is not None:
                yield from module._state_entries(prefix + name + ".")

    def state_dict(self, destination: dict | None = None, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """Name → tensor for every parameter and persistent buffer (detached; values shared, not copied)."""
        if destination is None:
            destination = OrderedDict()
        if _has_state_hooks(self, _STATE_HOOKS[:2]):
            self._state_dict_hooked(destination, prefix, keep_vars)
            return destination
        for key, t in self._state_entries(prefix):
            destination[key] = t if keep_vars else t.detach()
        return destination

    def _state_dict_hooked(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        """state_dict with hooks, in PyTorch's order: this module's pre hooks, its own entries, its children's
        (recursively), then its post hooks."""
        d = self.__dict__
        for hook in tuple(d.get("_state_dict_pre_hooks", {}).values()):
            hook(self, prefix, keep_vars)
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, module in self._modules.items():
            if module is not None:
                module._state_dict_hooked(destination, prefix + name + ".", keep_vars)
        for hook in tuple(d.get("_state_dict_hooks", {}).values()):
            if hook(self, destination, prefix, {"version": 1}) is not None:
                raise RuntimeError("state_dict post-hook must return None")

    def load_state_dict(self, state_dict: Mapping, strict: bool = True) -> _IncompatibleKeys:
        """Copy values (Tensors or arrays) into the parameters and buffers, keeping their dtypes.

        A shape mismatch is always an error; with strict=True missing and unexpected keys are errors too. All
        problems are listed in one RuntimeError, and on error nothing is changed. Returns (missing, unexpected).
        Hooks (`register_load_state_dict_pre_hook` / `_post_hook`) run as in PyTorch, on a copy of `state_dict`.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a dict-like state_dict, got {type(state_dict).__name__}")
        if _has_state_hooks(self, _STATE_HOOKS[2:]):
            return self._load_hooked(state_dict, strict)
        expected = OrderedDict(self._state_entries())
        missing = [k for k in expected if k not in state_dict]
        unexpected = [k for k in state_dict if k not in expected]
        problems, updates = [], []
        for key, target in expected.items():
            if key in state_dict:
                _check_entry(key, state_dict[key], target, problems, updates)
        self._raise_load_errors(problems, missing if strict else [], unexpected if strict else [])
        for target, array in updates:
            target.copy_(array.astype(target.dtype, copy=False))  # onto the parameter's own device
        return _IncompatibleKeys(missing, unexpected)

    def _raise_load_errors(self, problems: list, missing: list, unexpected: list) -> None:
        errors = []
        if missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        errors.extend(problems)
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors)
            )

    def _load_hooked(self, state_dict: Mapping, strict: bool) -> _IncompatibleKeys:
        """load_state_dict with hooks, in PyTorch's order. Each module: its pre hooks (which may edit its dict), its
        entries checked and copied, its unexpected keys noted; its children (given the entries under their prefix,
        as a new dict) loaded the same way; then its post hooks. The strict check comes last. Unlike PyTorch,
        nothing stays changed on error: the values already copied are put back."""
        metadata = getattr(state_dict, "_metadata", None)
        missing: list = []
        unexpected: list = []
        errors: list = []
        saved: list = []  # (tensor, its values before the load), to put back if the load fails

        def load(module: Module, local: OrderedDict, prefix: str) -> None:
            d = module.__dict__
            local_metadata = {} if metadata is None else metadata.get(prefix[:-1], {})
            for hook in tuple(d.get("_load_state_dict_pre_hooks", {}).values()):
                hook(module, local, prefix, local_metadata, True, missing, unexpected, errors)
            own = OrderedDict((k, v) for k, v in module._parameters.items() if v is not None)
            own.update(
                (k, v) for k, v in module._buffers.items() if v is not None and k not in module._non_persistent_buffers
            )
            updates: list = []
            for name, target in own.items():
                key = prefix + name
                if key in local:
                    _check_entry(key, local[key], target, errors, updates)
                else:
                    missing.append(key)
            for target, array in updates:
                saved.append((target, target.data.copy()))
                target.copy_(array.astype(target.dtype, copy=False))
            for key in local:
                if key.startswith(prefix):
                    head, *rest = key[len(prefix) :].split(".", 1)
                    if (head not in module._modules) if rest else (head not in own):
                        unexpected.append(key)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, OrderedDict((k, v) for k, v in local.items() if k.startswith(child_prefix)),
                         child_prefix)
            incompatible = _IncompatibleKeys(missing, unexpected)  # the hooks may edit the lists in place
            for hook in tuple(d.get("_load_state_dict_post_hooks", {}).values()):
                if hook(module, incompatible) is not None:
                    raise AssertionError(
                        "Hooks registered with ``register_load_state_dict_post_hook`` are not expected to return new "
                        "values, if incompatible_keys need to be modified, it should be done inplace."
                    )

        try:
            load(self, OrderedDict(state_dict), "")  # a copy: the hooks may edit it, the caller's mapping stays
            self._raise_load_errors(errors, missing if strict else [], unexpected if strict else [])
        except BaseException:
            for target, array in reversed(saved):
                target.copy_(array)
            raise
        return _IncompatibleKeys(missing, unexpected)

    # ----- printing ---------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (its settings); subclasses override it."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(module), 2) for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


def _check_entry(key: str, value: Any, target: Tensor, problems: list, updates: list) -> None:
    """Check one state_dict entry against its parameter/buffer: append (target, array) to updates, or a message."""
    try:
        array = value.data if isinstance(value, Tensor) else numpy.asarray(value)
    except Exception as e:  # noqa: BLE001 - reported with the key
        problems.append(f"could not read {key}: {e}")
        return
    if array.dtype.kind not in "biuf":
        problems.append(f"could not read {key}: values of dtype {array.dtype} are not numbers")
    elif tuple(array.shape) != tuple(target.shape):
        problems.append(
            f"size mismatch for {key}: copying a param with shape {tuple(array.shape)} from checkpoint, "
            f"the shape in current model is {tuple(target.shape)}."
        )
    else:
        updates.append((target, array))


def _is_dtype_name(name: str) -> bool:
    try:
        numpy.dtype(name)
    except TypeError:
        return False
    return True


def _name_the_layer(error: BaseException, module: Module) -> None:
    """Start `error`'s message with the innermost layer it came from ("BatchNorm1d(3): ..."), once, keeping its
    type and traceback, so a user sees which layer refused the input even when a shared op raised the error."""
    if getattr(error, "_glassnet_layer", False) or len(error.args) != 1 or not isinstance(error.args[0], str):
        return
    if str(error) != error.args[0]:  # an exception that formats itself differently: leave it whole
        return
    name = type(module).__name__
    extra = module.extra_repr() if hasattr(module, "extra_repr") else ""
    label = f"{name}({extra})" if extra and len(extra) <= 60 else name
    if not error.args[0].startswith(name):
        error.args = (f"{label}: {error.args[0]}",)
    error._glassnet_layer = True
