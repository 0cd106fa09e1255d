"""`gn.save` / `gn.load`: state dicts in the safetensors format, written atomically, read without running code.

A safetensors file is an 8-byte little-endian header length, a JSON header (each tensor's dtype, shape and
byte range, plus a str -> str `__metadata__`), then the raw bytes of the tensors. No pickle is involved, so
loading a file can never execute code from it.

A model's state dict `{name: Tensor}` is stored as is: each tensor under its own name, so other safetensors
readers see the same names. Anything nested (an optimiser's `{"state": {0: {...}}, "param_groups": [...]}`)
is stored as flat named tensors ("state.0.exp_avg") plus a JSON description of the structure in the
metadata, in which each tensor appears as `{"tensor": name}`, each dict as `{"dict": [[key, value], ...]}`
(keeping integer keys integers) and each tuple as `{"tuple": [...]}`; numbers, strings, booleans, None and
lists are plain JSON.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

from glassnet.backend import Device, backend_for, is_array, np, to_host
from glassnet.files import FileRefused, atomic_write, check_regular
from glassnet.tensor import Tensor

_FORMAT_KEY = "glassnet.format"
_STRUCTURE_KEY = "glassnet.structure"
_FORMAT_VERSION = "1"
_MAX_HEADER = 100_000_000  # the safetensors limit


class WeightsFileError(ValueError):
    """A file given to `gn.load` is truncated, corrupt, or not a safetensors file."""


def _safetensors():
    import safetensors.numpy as stnp  # a core dependency, imported when first needed to keep `import glassnet` light

    return stnp


def check_weights_path(path: str | os.PathLike, who: str = "gn.save") -> None:
    """Refuse to write safetensors under a pickle checkpoint's name (.pt, .pth, .bin, …): a name must not lie about
    its format, or torch.load and other tools would be handed a file they cannot read."""
    name = os.fspath(path)
    suffix = os.path.splitext(name)[1].lower()
    if suffix in _PICKLE_SUFFIXES:
        suggestion = name[: len(name) - len(suffix)] + ".safetensors"
        raise ValueError(
            f"{who}: {name!r} has the suffix {suffix} of a pickle checkpoint (PyTorch's torch.save format), but "
            f"glassnet writes safetensors; name the file {suggestion!r} "
            "(PyTorch reads it with safetensors.torch.load_file)"
        )


# ----- saving ----------------------------------------------------------------------------------------------
def save(obj: Any, path: str | os.PathLike) -> None:
    """Write a state dict (or any nesting of dicts, lists and tuples of Tensors and numbers) to a safetensors file.

    The write is atomic: the data goes to a temporary file in the same folder, is flushed to disk, and then
    replaces `path` in one step, so `path` is never left half-written. A name ending in .pt, .pth, .bin, .ckpt
    or .pkl is refused (ValueError): those suffixes promise a pickle.
    """
    check_weights_path(path)
    stnp = _safetensors()
    tensors: dict[str, np.ndarray] = {}
    names_by_id: dict[int, str] = {}
    structure = _encode(obj, "", tensors, names_by_id)
    metadata = {_FORMAT_KEY: _FORMAT_VERSION, _STRUCTURE_KEY: json.dumps(structure, allow_nan=True)}
    data = stnp.save(tensors, metadata=metadata)
    atomic_write(path, data)


def _encode(obj: Any, where: str, tensors: dict, names_by_id: dict):
    if isinstance(obj, Tensor) or is_array(obj):
        arr = to_host(obj.data if isinstance(obj, Tensor) else obj)  # from a device: one explicit copy
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"gn.save: cannot store an array of dtype {arr.dtype} at {where or 'the top level'}")
        if id(obj) not in names_by_id:  # the same tensor twice (tied weights) is stored once
            name = where or "tensor"
            while name in tensors:
                name += "_"
            tensors[name] = arr if arr.flags.c_contiguous else np.array(arr, order="C")  # keeps 0-d as 0-d
            names_by_id[id(obj)] = name
        return {"tensor": names_by_id[id(obj)]}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            key = _plain_scalar(key)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise TypeError(f"gn.save: dict key {key!r} at {where or 'the top level'} is not a string or number")
            items.append([key, _encode(value, f"{where}.{key}" if where else str(key), tensors, names_by_id)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        values = [_encode(v, f"{where}.{i}" if where else str(i), tensors, names_by_id) for i, v in enumerate(obj)]
        return {"tuple": values} if isinstance(obj, tuple) else values
    obj = _plain_scalar(obj)
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    hint = " (pass model.state_dict() rather than the model)" if hasattr(obj, "state_dict") else ""
    raise TypeError(
        f"gn.save: cannot store a {type(obj).__name__} at {where or 'the top level'}{hint}; "
        "only Tensors, arrays, numbers, strings, None, and dicts/lists/tuples of them can be saved"
    )


def _plain_scalar(value):
    return value.item() if isinstance(value, np.generic) else value


# ----- loading ---------------------------------------------------------------------------------------------
def load(path: str | os.PathLike, map_location=None) -> Any:
    """Read a file written by `gn.save` (or any safetensors file) back as Tensors in the saved structure.

    Tensors come back in host memory (a file does not record where they were), or on `map_location`
    ("cuda", "cuda:1", a `gn.device`) when given.

    A file without glassnet's structure metadata (e.g. one written by PyTorch or Hugging Face) comes back as a
    flat `{name: Tensor}` dict. A truncated or corrupt file raises `WeightsFileError` naming the file.
    """
    stnp = _safetensors()
    path = os.fspath(path)
    try:
        check_regular(path)  # a FIFO would block forever, a device never ends
    except FileRefused as e:
        raise WeightsFileError(f"gn.load: {e}") from None
    header = _read_header(path)
    try:
        arrays = stnp.load_file(path)
    except Exception as e:  # noqa: BLE001 - the Rust reader's error type is private
        raise WeightsFileError(f"gn.load: {path} is not a valid safetensors file: {e}") from e
    device = None if map_location is None else Device(map_location)
    if device is not None:
        backend_for(device)  # a device that cannot be used fails before anything is read into it
    tensors = {
        name: Tensor(arr if arr.flags.writeable else arr.copy(), device=device) for name, arr in arrays.items()
    }
    metadata = header.get("__metadata__") or {}
    if _STRUCTURE_KEY not in metadata:
        return tensors
    try:
        structure = _parse_json(metadata[_STRUCTURE_KEY])
    except (ValueError, RecursionError) as e:
        raise WeightsFileError(f"gn.load: {path} has a corrupt structure description in its metadata: {e}") from None
    return _decode(structure, tensors, path, depth=0)


_MAX_DEPTH = 64  # a state dict nests a few levels; a deeper structure is corrupt or hostile


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's pairs as a dict, refusing a key that appears twice (JSON readers disagree on which wins)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} appears twice")
        result[key] = value
    return result


def _parse_json(text: str | bytes) -> Any:
    return json.loads(text, object_pairs_hook=_unique_keys)


_PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle")
_CONVERT_HINT = (
    "Convert it once to safetensors, in a Python with torch, from a file you trust:\n"
    "    import torch, safetensors.torch\n"
    "    state = torch.load(path, map_location='cpu', weights_only=True)  # the restricted unpickler\n"
    "    safetensors.torch.save_file({k: v.contiguous().clone() for k, v in state.items()}, 'model.safetensors')\n"
    "(if the checkpoint nests its weights, e.g. under 'state_dict', save that dict), then load the .safetensors file."
)


class PickleCheckpointError(WeightsFileError):
    """A file given to `gn.load` is a pickle-based checkpoint (PyTorch .pt/.pth/.bin/.ckpt), which glassnet refuses."""


def _refuse_pickles(path: str, head: bytes, size: int) -> None:
    """Refuse pickle-based files by their first bytes, whatever their name, and files with a pickle suffix that
    are not safetensors: unpickling runs whatever code the file's author put in it, so glassnet never does it."""
    why = "loading a pickle can execute arbitrary code hidden in the file, so glassnet never unpickles"
    # A safetensors file starts with its header's length, then "{"; checking both keeps a header length whose
    # first byte happens to be 0x80 or "PK" from being mistaken for a pickle or a zip.
    header_length = struct.unpack("<Q", head[:8])[0] if len(head) >= 8 else None
    if len(head) == 9 and head[8:9] == b"{" and header_length is not None and 8 + header_length <= size:
        return
    if head[:2] == b"PK":
        if _zip_holds_npy(path):
            raise WeightsFileError(
                f"gn.load: {path} is a zip archive of .npy arrays (a NumPy .npz), not a safetensors file; read it "
                "with numpy.load(path, allow_pickle=False) and save it with gn.save"
            )
        raise PickleCheckpointError(
            f"gn.load: {path} is a zip archive (a PyTorch .pt/.pth/.bin/.ckpt checkpoint holds a data.pkl "
            f"pickle), not a safetensors file; {why}. {_CONVERT_HINT}"
        )
    if head[:1] == b"\x80":
        raise PickleCheckpointError(
            f"gn.load: {path} looks like a pickle, not a safetensors file; {why}. {_CONVERT_HINT}"
        )
    if path.lower().endswith(_PICKLE_SUFFIXES):
        raise PickleCheckpointError(
            f"gn.load: {path} has a pickle checkpoint's suffix and is not a safetensors file; {why}. {_CONVERT_HINT}"
        )


def _zip_holds_npy(path: str) -> bool:
    """True for a NumPy .npz (every member a .npy); reading a zip's table of contents runs no code."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return bool(names) and all(name.endswith(".npy") for name in names)


def _read_header(path: str) -> dict:
    """Check the header against the file's size, with an error that says what is wrong."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(9)
        _refuse_pickles(path, head, size)
        head = head[:8]
        f.seek(8)
        if len(head) < 8:
            raise WeightsFileError(
                f"gn.load: {path} is truncated: it has {size} bytes, but a safetensors file starts with an 8-byte "
                "header length"
            )
        (n,) = struct.unpack("<Q", head)
        if n > _MAX_HEADER:
            raise WeightsFileError(
                f"gn.load: {path} is corrupt or not a safetensors file: its header length field says {n} bytes"
            )
        if 8 + n > size:
            raise WeightsFileError(
                f"gn.load: {path} is truncated: its header should be {n} bytes but only {size - 8} bytes follow "
                "the length field"
            )
        raw = f.read(n)
    try:
        header = _parse_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise WeightsFileError(
            f"gn.load: {path} is corrupt or not a safetensors file: its header is not valid JSON ({e})"
        ) from None
    if not isinstance(header, dict):
        raise WeightsFileError(f"gn.load: {path} is corrupt: its header is not a JSON object")
    available = size - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = (int(x) for x in info["data_offsets"])
        except (TypeError, KeyError, ValueError, IndexError) as e:
            raise WeightsFileError(
                f"gn.load: {path} is corrupt: the header entry for {name!r} has no valid data_offsets"
            ) from e
        if end > available:
            raise WeightsFileError(
                f"gn.load: {path} is truncated: tensor {name!r} needs bytes {begin}..{end} of the data section, "
                f"but it holds only {available} bytes"
            )
    return header


def _decode(node: Any, tensors: dict[str, Tensor], path: str, depth: int):
    """Rebuild the saved structure; anything that is not a structure gn.save writes is a WeightsFileError."""
    if depth > _MAX_DEPTH:
        raise WeightsFileError(f"gn.load: {path} is corrupt: its structure nests deeper than {_MAX_DEPTH} levels")
    if isinstance(node, list):
        return [_decode(v, tensors, path, depth + 1) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) != 1 or not {"tensor", "dict", "tuple"} >= set(node):
        raise WeightsFileError(f"gn.load: {path} is corrupt: unexpected entry {_short(node)} in its structure")
    (kind, value), = node.items()
    if kind == "tensor":
        if not isinstance(value, str) or value not in tensors:
            raise WeightsFileError(
                f"gn.load: {path} is corrupt: its structure names a tensor {_short(value)} the file does not hold"
            )
        return tensors[value]
    if not isinstance(value, list):
        raise WeightsFileError(f"gn.load: {path} is corrupt: a {kind!r} entry holds {_short(value)}, not a list")
    if kind == "tuple":
        return tuple(_decode(v, tensors, path, depth + 1) for v in value)
    result = {}
    for pair in value:
        key_types = (str, int, float, bool, type(None))
        if not (isinstance(pair, list) and len(pair) == 2) or not isinstance(pair[0], key_types):
            raise WeightsFileError(
                f"gn.load: {path} is corrupt: a 'dict' entry holds {_short(pair)}, not a [key, value] pair"
            )
        if pair[0] in result:
            raise WeightsFileError(f"gn.load: {path} is corrupt: the key {pair[0]!r} appears twice in one dict")
        result[pair[0]] = _decode(pair[1], tensors, path, depth + 1)
    return result


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
