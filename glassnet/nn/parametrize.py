"""Parametrizations, as torch.nn.utils.parametrize: a tensor of a module computed from other tensors on every read.

    register_parametrization(layer, "weight", Symmetric())

turns `layer.weight` from a parameter into a property: reading it runs `Symmetric()(X)` with
X = `layer.parametrizations.weight.original` (the parameter that the optimiser now trains), so gradients reach X
through the ordinary ops. What changes on the module, exactly as PyTorch does it:

- the module's class becomes a subclass `Parametrized<Class>` that holds one property per parametrized name
  (a property on the class is found before `Module.__getattr__`, so `self.weight` in forward reads it);
- `module.parametrizations` is a ModuleDict; `parametrizations[name]` a ParametrizationList (a ModuleList of the
  parametrizations, applied in order) that owns `original` (or `original0`, `original1`, … when the first
  parametrization's `right_inverse` returns several tensors, as weight_norm's does);
- state_dict keys therefore read `parametrizations.weight.original` (plus the parametrizations' own buffers,
  e.g. spectral norm's `parametrizations.weight.0._u`), the same as PyTorch's, so checkpoints load both ways.

Assigning `layer.weight = value` calls the list's `right_inverse` (each parametrization's, last to first) and
stores the result in the originals. `cached()` computes each parametrized tensor once per context (useful when a
tensor is read many times in one forward, as an RNN's weights are). `remove_parametrizations` undoes all of it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from glassnet.autograd import no_grad
from glassnet.nn.containers import ModuleDict, ModuleList
from glassnet.nn.module import Module
from glassnet.nn.parameter import Parameter
from glassnet.state import modes
from glassnet.tensor import Tensor

__all__ = [
    "register_parametrization",
    "remove_parametrizations",
    "is_parametrized",
    "cached",
    "type_before_parametrizations",
    "ParametrizationList",
]

@contextmanager
def cached() -> Iterator[None]:
    """Within this context each parametrized tensor is computed once, on its first read, and then reused (the
    cache, kept per thread, is emptied when the outermost context exits)."""
    outermost = modes.parametrize_cache is None
    if outermost:
        modes.parametrize_cache = {}
    try:
        yield
    finally:
        if outermost:
            modes.parametrize_cache = None


def _describe(module: Module) -> str:
    """A module's name in error messages: its class and settings on one line (e.g. Linear(in_features=3, …))."""
    return f"{type(module).__name__}({' '.join(module.extra_repr().split())})"


def _apply(parametrizations: Sequence[Module], originals: tuple) -> object:
    """parametrizations[-1](… parametrizations[1](parametrizations[0](*originals)))"""
    x = parametrizations[0](*originals)
    for p in parametrizations[1:]:
        x = p(x)
    return x


def _right_inverse(parametrizations: Sequence[Module], value, strict: bool):
    """value through each parametrization's right_inverse, last to first (one without right_inverse: the identity
    when registering, an error when assigning, as PyTorch)."""
    with no_grad():
        for p in reversed(parametrizations):
            if hasattr(p, "right_inverse"):
                try:
                    value = p.right_inverse(value)
                except NotImplementedError:
                    if strict:
                        raise
            elif strict:
                raise RuntimeError(f"parametrization {type(p).__name__} does not implement right_inverse.")
    return value


def _same_kind(original: Tensor, value: Tensor, requires_grad: bool) -> Tensor:
    """A new original: a Parameter when the tensor it replaces was one (a buffer otherwise)."""
    data = value.data.copy()
    return Parameter(data, requires_grad) if isinstance(original, Parameter) else Tensor(data)


def _register_parameter_or_buffer(module: Module, name: str, value: Tensor) -> None:
    if isinstance(value, Parameter):
        module.register_parameter(name, value)
    else:
        module.register_buffer(name, value)


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor (applied in order) and the original tensor(s) they are computed from.

    Calling it (no arguments) computes the parametrized tensor. With a single original it is registered as
    `original`, and it is the very tensor (the same Parameter object) the module had, so an optimiser built before
    keeps training it; several originals (`original0`, `original1`, …) are new Parameters.
    """

    def __init__(self, modules: Sequence[Module], original: Tensor, unsafe: bool = False) -> None:
        modules = list(modules)
        if not modules:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        new = _check_originals(self, original, _right_inverse(modules, original, strict=False), unsafe)
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if new is not original:
                with no_grad():
                    original.data = new.data
            _register_parameter_or_buffer(self, "original", original)
        else:
            for i, value in enumerate(new):
                _register_parameter_or_buffer(self, f"original{i}", _same_kind(original, value, original.requires_grad))

    def originals(self) -> tuple:
        """The tensor(s) the parametrized one is computed from."""
        if self.is_tensor:
            return (self.original,)
        return tuple(getattr(self, f"original{i}") for i in range(self.ntensors))

    def right_inverse(self, value: Tensor) -> None:
        """Store in the originals the values whose parametrized tensor is `value` (what `module.name = value` runs)."""
        value = _right_inverse(list(self), value, strict=True)
        originals = self.originals()
        values = (value,) if self.is_tensor else value
        if not self.is_tensor and (isinstance(value, Tensor) or not isinstance(value, Sequence)):
            raise ValueError(f"'right_inverse' must return a sequence of tensors. Got {type(value).__name__}.")
        if len(values) != len(originals):
            raise ValueError(
                f"'right_inverse' must return a sequence of tensors of length {len(originals)}. "
                f"Got a sequence of length {len(values)}."
            )
        for i, (original, v) in enumerate(zip(originals, values)):
            if not isinstance(v, Tensor):
                raise ValueError(f"`right_inverse` should return a tensor. Got {type(v).__name__} (element {i})")
            if v.dtype != original.dtype:
                raise ValueError(
                    f"The tensor returned by `right_inverse` has dtype {v.dtype} while `original` has dtype "
                    f"{original.dtype}"
                )
        with no_grad():
            for original, v in zip(originals, values):
                original.data = v.data.copy() if v.data is not original.data else original.data

    def forward(self) -> Tensor:
        """The parametrized tensor, computed from the originals."""
        return _apply(list(self), self.originals())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return list(self._modules.values())[idx]
        return super().__getitem__(idx)


def _check_originals(plist: ParametrizationList, original: Tensor, new, unsafe: bool):
    """Check right_inverse(original) and, unless unsafe, that the parametrization keeps the shape and dtype, all
    before anything is changed (so a refused registration leaves the module as it was)."""
    if isinstance(new, Tensor):
        if new.dtype != original.dtype:
            raise ValueError(
                "When `right_inverse` outputs one tensor, it may not change the dtype.\n"
                f"original.dtype: {original.dtype}\nright_inverse(original).dtype: {new.dtype}"
            )
        values = (new,)
    elif isinstance(new, Sequence) and not isinstance(new, str):
        for i, value in enumerate(new):
            if not isinstance(value, Tensor):
                raise ValueError(
                    f"'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                    f"Got element {i} of the sequence with type {type(value).__name__}."
                )
        values = tuple(new)
    else:
        raise ValueError(
            "'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
            f"Got {type(new).__name__}"
        )
    if not unsafe:
        _check_unchanged(original, _apply(list(plist), values), "unparametrized ", "parametrized ")
    return new


def _check_unchanged(before: Tensor, after, before_label: str, after_label: str) -> None:
    """A parametrization (unless registered with unsafe=True) gives a tensor of the same dtype and shape."""
    if not isinstance(after, Tensor):
        raise ValueError(f"A parametrization must return a tensor. Got {type(after).__name__}.")
    for what in ("dtype", "shape"):
        old, new = getattr(before, what), getattr(after, what)
        if old != new:
            old, new = (tuple(old), tuple(new)) if what == "shape" else (old, new)
            raise ValueError(
                f"Registering a parametrization may not change the {what} of the tensor, unless `unsafe` flag is "
                f"enabled.\n{before_label}{what}: {old}\n{after_label}{what}: {new}"
            )


def _check_stacked(module: Module, tensor_name: str, parametrization: Module) -> None:
    """A parametrization stacked on an already parametrized tensor: it and its right_inverse keep dtype and shape."""
    y = getattr(module, tensor_name)
    x = parametrization(y)
    _check_unchanged(y, x, f"module.{tensor_name}.", f"parametrization(module.{tensor_name}).")
    if hasattr(parametrization, "right_inverse"):
        try:
            z = parametrization.right_inverse(x)
        except NotImplementedError:
            return
        _check_unchanged(y, z, f"module.{tensor_name}.", f"right_inverse(parametrization(module.{tensor_name})).")


def _inject_new_class(module: Module) -> None:
    """Give `module` a class of its own, `Parametrized<Class>`, to hold the properties (other instances of the
    class are not touched)."""
    cls = module.__class__

    def getstate(self):
        raise RuntimeError(
            "Serialization of parametrized modules is only supported through state_dict() (gn.save/gn.load)."
        )

    def default_deepcopy(self, memo: dict):  # deepcopy stays possible (it would otherwise go through getstate)
        replica = memo.get(id(self))
        if replica is None:
            replica = memo[id(self)] = self.__new__(self.__class__)
            replica.__dict__ = copy.deepcopy(self.__dict__, memo)
        return replica

    namespace = {"__getstate__": getstate}
    if not hasattr(cls, "__deepcopy__"):
        namespace["__deepcopy__"] = default_deepcopy
    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), namespace)


def _inject_property(module: Module, tensor_name: str) -> None:
    def get_parametrized(self) -> Tensor:
        parametrization = self.parametrizations[tensor_name]
        cache = modes.parametrize_cache
        if cache is None:
            return parametrization()
        key = (id(self), tensor_name)
        tensor = cache.get(key)
        if tensor is None:
            tensor = cache[key] = parametrization()
        return tensor

    def set_original(self, value: Tensor) -> None:
        self.parametrizations[tensor_name].right_inverse(value)

    setattr(module.__class__, tensor_name, property(get_parametrized, set_original))


def register_parametrization(
    module: Module, tensor_name: str, parametrization: Module, *, unsafe: bool = False
) -> Module:
    """Make `module.<tensor_name>` the output of `parametrization` applied to the original tensor (see the module's
    docstring). A second registration on the same name stacks: it is applied to the first one's output.

    unsafe=False checks that the parametrized tensor keeps the shape and dtype of the original; unsafe=True allows
    a change (the layer must then accept the new shape). On an error nothing is changed.
    """
    if not isinstance(module, Module):
        raise TypeError(f"register_parametrization: expected a Module, got {type(module).__name__}")
    if not isinstance(parametrization, Module):
        raise TypeError(
            f"register_parametrization: the parametrization must be a Module, got {type(parametrization).__name__}"
        )
    parametrization.train(module.training)
    where = f"register_parametrization on {_describe(module)}.{tensor_name}"
    if is_parametrized(module, tensor_name):
        if not unsafe:
            try:
                _check_stacked(module, tensor_name, parametrization)
            except ValueError as error:
                raise ValueError(f"{where}: {error}") from None
        plist = module.parametrizations[tensor_name]
        plist.append(parametrization)
        plist.unsafe |= unsafe  # one unsafe registration makes the whole list unsafe, as PyTorch
    elif tensor_name in module._buffers or tensor_name in module._parameters:
        original = getattr(module, tensor_name)
        if original is None:
            raise ValueError(f"{where}: the {tensor_name} is None")
        try:
            plist = ParametrizationList([parametrization], original, unsafe=unsafe)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_new_class(module)
            module.parametrizations = ModuleDict()
        _inject_property(module, tensor_name)
        module.parametrizations[tensor_name] = plist
    else:
        raise ValueError(
            f"Module '{_describe(module)}' does not have a parameter, a buffer, or a parametrized element with name "
            f"'{tensor_name}'"
        )
    return module


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether `module` has a parametrization on `tensor_name` (on any tensor when None)."""
    parametrizations = getattr(module, "parametrizations", None)
    if not isinstance(parametrizations, ModuleDict):
        return False
    if tensor_name is None:
        return len(parametrizations) > 0
    return tensor_name in parametrizations


def remove_parametrizations(module: Module, tensor_name: str, leave_parametrized: bool = True) -> Module:
    """Undo register_parametrization(s) on `tensor_name`. leave_parametrized=True: the tensor keeps its current
    parametrized value; False: it gets back the original's value (only possible with a single original). With one
    original the Parameter object is kept (an optimiser keeps working); with several a new Parameter is made."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {_describe(module)} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                t = getattr(module, tensor_name)
            if t.dtype != original.dtype:
                raise RuntimeError(
                    f"remove_parametrizations: the parametrized {tensor_name} has dtype {t.dtype}, the original "
                    f"{original.dtype}; it cannot be stored in the original parameter"
                )
            with no_grad():
                original.data = t.data.copy() if t.data is not original.data else original.data
    else:
        if not leave_parametrized:
            raise ValueError(
                "Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is parametrized in terms of "
                "a sequence of tensors."
            )
        t = getattr(module, tensor_name)
        original = Parameter(t.detach().data.copy(), t.requires_grad) if t.requires_grad else t.detach()
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    _register_parameter_or_buffer(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]
    return module


def type_before_parametrizations(module: Module) -> type:
    """The module's class as it was before parametrizations were registered on it."""
    return module.__class__.__bases__[0] if is_parametrized(module) else type(module)
