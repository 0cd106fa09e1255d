"""Loading weights made elsewhere: map a state dict's names (PyTorch, Hugging Face, ...) onto a glassnet module.

Glassnet's layers share PyTorch's parameter names and layouts (Linear.weight is (out, in), Conv2d.weight is
(out, in, kh, kw), LayerNorm has weight and bias, ...), so a PyTorch state dict loads by identity. A model
family that names or splits its tensors differently loads through a mapping table:

    mapping = {
        "encoder.layer.{i}.attention.output.dense.{p}": "encoder.layers.{i}.self_attn.out_proj.{p}",
        "encoder.layer.{i}.attention.self.query.weight": "encoder.layers.{i}.self_attn.in_proj_weight[0/3]",
        "embeddings.position_ids": None,
    }

Rules, in order:
- A key is a source-name pattern; `{name}` (or an anonymous `{}`) matches one dotted segment (no dots), and the
  same placeholder in the value is replaced by what it matched (anonymous ones in order). The first rule whose
  pattern matches the whole name wins; a name that matches no rule keeps its name (identity), so a table lists
  only what differs.
- A value of None drops the source tensor on purpose (reported as `skipped`, not as unmapped).
- A value ending in `[k/n]` fills the k-th of n equal blocks along dim 0 of the target: how separate q, k and v
  projections become one in_proj_weight. The target loads only when all n blocks are present.
- `mapping` may instead be a callable `source_name -> target_name | None`, with the same `[k/n]` suffix.

Loading is all or nothing: values are checked first and copied only when nothing is missing or mis-shaped (with
strict=True) so a failed load leaves the module as it was.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy

from glassnet.nn.module import Module
from glassnet.tensor import Tensor

__all__ = ["LoadReport", "load_state_dict", "compile_mapping"]

_BLOCK = re.compile(r"^(?P<name>.+)\[(?P<index>\d+)/(?P<count>\d+)\]$")


@dataclass
class LoadReport:
    """What `load_state_dict` did: target names loaded, source names unmapped or skipped, targets missing or
    mis-shaped as (name, source shape, target shape)."""

    loaded: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every target was loaded with the right shape (unmapped sources are allowed)."""
        return not self.missing and not self.mismatched

    def problems(self) -> list[str]:
        """One line per missing or mis-shaped target."""
        lines = [f"missing: {name} (no source tensor maps to it)" for name in self.missing]
        lines += [f"mis-shaped: {name}: source {_shape(src)}, target {_shape(dst)}" for name, src, dst in
                  self.mismatched]
        return lines

    def __str__(self) -> str:
        lines = [
            f"loaded {len(self.loaded)} tensors; {len(self.missing)} missing, {len(self.mismatched)} mis-shaped, "
            f"{len(self.unmapped)} unmapped, {len(self.skipped)} skipped"
        ]
        lines += ["  " + line for line in self.problems()]
        lines += [f"  unmapped source: {name}" for name in self.unmapped]
        lines += [f"  skipped source: {name}" for name in self.skipped]
        return "\n".join(lines)


def _shape(shape) -> str:
    """(3, 4) → '(3, 4)'; blocks ((2, 4), (2, 4)) → '(2, 4) + (2, 4)'; a description (str) as is."""
    if isinstance(shape, str):
        return shape
    if shape and isinstance(shape[0], tuple):
        return " + ".join(_shape(s) for s in shape)
    return str(tuple(int(s) for s in shape))


# ----- mapping rules -----------------------------------------------------------------------------------------
def _compile_rule(pattern: str, target: str | None) -> tuple[re.Pattern, str | None]:
    """'a.{i}.b' → regex a\\.(?P<i>[^.]+)\\.b, and the target with anonymous {} numbered like the pattern's."""
    regex, anonymous = [], 0
    for literal, name, _spec, _conv in string.Formatter().parse(pattern):
        regex.append(re.escape(literal))
        if name is None:
            continue
        if name == "":
            name, anonymous = f"_{anonymous}", anonymous + 1
        if not name.isidentifier():
            raise ValueError(f"load_state_dict: placeholder {{{name}}} in mapping pattern {pattern!r} is not a name")
        regex.append(f"(?P<{name}>[^.]+)")
    if target is not None:
        numbers = iter(range(1_000))
        target = re.sub(r"\{\}", lambda _m: f"{{_{next(numbers)}}}", target)
    return re.compile("".join(regex)), target


def compile_mapping(mapping) -> Callable[[str], str | None]:
    """A mapping table (dict of patterns) or callable as one function source_name → target_name (or None)."""
    if mapping is None:
        return lambda name: name
    if callable(mapping):
        return mapping
    if not isinstance(mapping, Mapping):
        raise TypeError(f"load_state_dict: mapping must be a dict, a callable or None, not {type(mapping).__name__}")
    rules = [_compile_rule(pattern, target) for pattern, target in mapping.items()]

    def rename(name: str) -> str | None:
        for regex, target in rules:
            match = regex.fullmatch(name)
            if match:
                if target is None:
                    return None
                try:
                    return target.format(**match.groupdict())
                except (KeyError, IndexError) as e:
                    raise ValueError(
                        f"load_state_dict: mapping target {target!r} uses placeholder {e} that its pattern "
                        f"{regex.pattern!r} does not define"
                    ) from None
        return name

    return rename


def _split_block(target: str) -> tuple[str, int, int]:
    """'w[1/3]' → ('w', 1, 3); a plain name → (name, 0, 1)."""
    match = _BLOCK.match(target)
    if not match:
        return target, 0, 1
    index, count = int(match["index"]), int(match["count"])
    if not 0 <= index < count:
        raise ValueError(f"load_state_dict: block [{index}/{count}] in mapping target {target!r} is out of range")
    return match["name"], index, count


# ----- reading sources ---------------------------------------------------------------------------------------
def _as_array(value, name: str) -> numpy.ndarray:
    """A glassnet Tensor, NumPy array or anything array-like (a torch tensor, detached to CPU) as an ndarray."""
    if isinstance(value, Tensor):
        return numpy.asarray(value.data)
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch
        return value.detach().cpu().numpy()
    try:
        return numpy.asarray(value)
    except Exception as e:  # noqa: BLE001 - reported with the name
        raise TypeError(f"load_state_dict: could not read source tensor {name!r} ({type(value).__name__}): {e}") from e


def _read_source(source) -> dict[str, numpy.ndarray]:
    if isinstance(source, (str, os.PathLike)):
        from glassnet.io.weights import load

        source = load(source)  # refuses pickles; a safetensors file comes back as {name: Tensor}
    if not isinstance(source, Mapping):
        raise TypeError(
            f"load_state_dict: source must be a path to a safetensors file or a dict of arrays, "
            f"not {type(source).__name__}"
        )
    return {str(name): _as_array(value, str(name)) for name, value in source.items()}


# ----- loading ------------------------------------------------------------------------------------------------
def load_state_dict(module: Module, source, mapping=None, strict: bool = True) -> LoadReport:
    """Copy named tensors from `source` (a safetensors path or a dict of arrays/Tensors/torch tensors) into `module`.

    Names are translated by `mapping` (see this module's docstring; identity by default). With strict=True a
    missing or mis-shaped target raises a ValueError listing every problem, and nothing is changed; with
    strict=False what fits is loaded and the rest is only reported. Values are cast to the target's dtype.
    """
    if not isinstance(module, Module):
        raise TypeError(f"load_state_dict: expected a glassnet Module, got {type(module).__name__}")
    arrays = _read_source(source)
    rename = compile_mapping(mapping)
    targets = dict(module.state_dict(keep_vars=True))  # the live parameters and buffers, written in place
    report = LoadReport()
    blocks: dict[str, dict[int, tuple[str, numpy.ndarray]]] = {}
    counts: dict[str, int] = {}
    for source_name, array in arrays.items():
        renamed = rename(source_name)
        if renamed is None:
            report.skipped.append(source_name)
            continue
        target_name, index, count = _split_block(renamed)
        if target_name not in targets:
            report.unmapped.append(source_name)
            continue
        if counts.setdefault(target_name, count) != count:
            raise ValueError(
                f"load_state_dict: {target_name} is mapped as both {counts[target_name]} and {count} blocks"
            )
        if index in blocks.setdefault(target_name, {}):
            raise ValueError(
                f"load_state_dict: both {blocks[target_name][index][0]!r} and {source_name!r} map to "
                f"{renamed!r}; a target can be filled only once"
            )
        blocks[target_name][index] = (source_name, array)
    updates = _assemble(targets, blocks, counts, report)
    if strict and not report.ok:
        raise ValueError(
            f"load_state_dict: could not load into {type(module).__name__} ({len(report.missing)} missing, "
            f"{len(report.mismatched)} mis-shaped; nothing was changed):\n  " + "\n  ".join(report.problems())
        )
    for target, array in updates:
        target.data[...] = array.astype(target.dtype, copy=False)
    return report


def _assemble(targets: dict, blocks: dict, counts: dict, report: LoadReport) -> list:
    """Join each target's blocks, check shapes and dtypes, and fill in the report; returns (target, array) pairs."""
    updates = []
    for name, target in targets.items():
        parts = blocks.get(name)
        count = counts.get(name, 1)
        if not parts:
            report.missing.append(name)
            continue
        if len(parts) < count:
            absent = sorted(set(range(count)) - set(parts))
            report.missing.append(f"{name} (block{'s' if len(absent) > 1 else ''} {absent} of {count})")
            continue
        arrays = [parts[i][1] for i in range(count)]
        shape = tuple(target.shape)
        if count == 1:
            block_shape = shape
        else:
            block_shape = (shape[0] // count, *shape[1:]) if shape and shape[0] % count == 0 else None
        bad = [a for a in arrays if block_shape is None or tuple(a.shape) != block_shape]
        if bad:
            source_shape = tuple(bad[0].shape) if count == 1 else tuple(a.shape for a in arrays)
            report.mismatched.append((name, source_shape, shape))
            continue
        if any(a.dtype.kind not in "biuf" for a in arrays):
            report.mismatched.append((name, f"values of dtype {arrays[0].dtype}", shape))
            continue
        updates.append((target, arrays[0] if count == 1 else numpy.concatenate(arrays, axis=0)))
        report.loaded.append(name)
    return updates
