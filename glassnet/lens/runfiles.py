"""Reading a run folder safely: only regular files inside it, only up to a size limit, never blocking.

A run folder may come from anywhere (a colleague's upload, a shared disk), so reading one must not be a way to read
other files, exhaust memory or hang. `read_inside(root, "artefacts/x.png", limit)` resolves the path (following
links) and refuses it when it lands outside `root`; checks with `stat` that it is a regular file no larger than
`limit` *before* opening it (a FIFO, a device such as /dev/zero or a 3 GB sparse file is never opened or read);
opens without following a last link and without blocking, checks the opened file is the one it looked at, and
reads at most `limit` bytes. Each refusal is a `RunFileError` naming the file and the reason.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

__all__ = ["RunFileError", "inside", "list_inside", "read_inside", "read_json_inside"]


class RunFileError(ValueError):
    """A file of a run folder that was not read: missing, outside the folder, not a regular file, or too large."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def inside(root: Path, relative: str | os.PathLike) -> Path:
    """The resolved path of `root/relative`, or RunFileError when it is missing or resolves outside `root`."""
    root = Path(root).resolve()
    candidate = root / relative
    try:
        resolved = candidate.resolve(strict=True)
    except FileNotFoundError:
        raise RunFileError(f"{relative}: no such file") from None
    except (OSError, RuntimeError) as err:  # a link loop, a permission problem
        raise RunFileError(f"{relative}: cannot be resolved ({err})") from None
    if resolved != root and not resolved.is_relative_to(root):
        raise RunFileError(f"{relative}: refused: it is a link to a place outside the run folder")
    return resolved


def read_inside(root: Path, relative: str | os.PathLike, limit: int) -> bytes:
    """The bytes of the regular file `root/relative`, if it lies inside `root` and holds at most `limit` bytes."""
    path = inside(root, relative)
    before = os.stat(path)
    if not stat.S_ISREG(before.st_mode):
        raise RunFileError(f"{relative}: refused: {_kind(before.st_mode)}, expected a regular file")
    if before.st_size > limit:
        raise RunFileError(f"{relative}: refused: {before.st_size:,} bytes, more than the {limit:,} allowed")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise RunFileError(f"{relative}: cannot be opened ({err.strerror})") from None
    try:
        now = os.fstat(fd)  # the file opened is the file checked (not swapped for a FIFO or a link meanwhile)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
            raise RunFileError(f"{relative}: refused: it changed while being opened")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise RunFileError(f"{relative}: refused: it grew past the {limit:,} bytes allowed while being read")
    return b"".join(chunks)


def read_json_inside(root: Path, relative: str | os.PathLike, limit: int) -> Any:
    """`read_inside` then JSON; invalid JSON (or text that is not UTF-8) is a RunFileError naming the file."""
    data = read_inside(root, relative, limit)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise RunFileError(f"{relative} is not UTF-8 text: {err}") from None
    except RecursionError:
        raise RunFileError(f"{relative} is nested too deeply to be read") from None
    except ValueError as err:
        raise RunFileError(f"{relative} is not valid JSON: {err}") from None


def list_inside(root: Path, folder: str, pattern: str) -> list[str]:
    """Names (relative to `root`) in `root/folder` matching `pattern`, sorted; RunFileError when `folder` is a link
    out of `root` or not a directory. Nothing is opened: each name still goes through `read_inside`."""
    resolved = inside(root, folder)
    if not resolved.is_dir():
        raise RunFileError(f"{folder}: refused: expected a directory")
    return sorted(f"{folder}/{p.name}" for p in resolved.glob(pattern))
