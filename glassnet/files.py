"""Files, safely: the one atomic write and the one guarded read that every part of glassnet uses.

Writing: `atomic_write` puts the bytes in a temporary file beside the target, flushes them to disk and renames
the temporary over the target in one step, so a reader (or a crash) sees either the old file or the new one,
never half of one. A process killed mid-write leaves its temporary behind; the next write to the same target
removes temporaries whose writing process is gone (the process id is part of the temporary's name).

Reading: `read_regular` opens only regular files (a FIFO would block forever, a device such as /dev/zero never
ends), checks the size *before* reading, and with `inside=` refuses a path that resolves (through symlinks or
`..`) outside a given folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from pathlib import Path

__all__ = ["FileRefused", "atomic_write", "check_regular", "read_regular", "resolve_inside"]


class FileRefused(ValueError):
    """A path that glassnet will not read: not a regular file, too large, or outside the folder it belongs to."""


# ----- writing ---------------------------------------------------------------------------------------------
def _temporary_name(path: str, pid: int, tag: str) -> str:
    folder, base = os.path.split(path)
    return os.path.join(folder, f".{base}.{pid}.{tag}.tmp")


def _stale_temporaries(path: str) -> list[str]:
    """Temporaries of `path` (glassnet's own naming) whose writing process no longer exists."""
    folder, base = os.path.split(os.path.abspath(path))
    pattern = re.compile(rf"^\.{re.escape(base)}\.(\d+)\.[0-9a-f]{{8}}\.tmp$")
    stale = []
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            match = pattern.match(name)
            if match and not _process_alive(int(match.group(1))):
                stale.append(os.path.join(folder, name))
    return stale


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # it exists (someone else's) or we cannot tell: leave its file alone
    return True


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Write `data` (bytes, or str as UTF-8) to `path` atomically and durably; clean stale temporaries of `path`.

    A failure (disk full, read-only folder) leaves any previous `path` untouched and raises an OSError that names
    `path`.
    """
    path = os.path.abspath(os.fspath(path))
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    for stale in _stale_temporaries(path):
        with contextlib.suppress(OSError):
            os.unlink(stale)
    folder = os.path.dirname(path)
    while True:  # like tempfile.mkstemp, but with the permissions an ordinary new file gets (0o666 less umask)
        tmp = _temporary_name(path, os.getpid(), secrets.token_hex(4))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
        except OSError as e:
            raise _naming(e, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _naming(e, path) from None
        raise
    with contextlib.suppress(OSError, AttributeError):  # make the rename itself durable (POSIX)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _naming(error: OSError, path: str) -> OSError:
    """The same kind of OSError, with a message that names the file being written."""
    reason = os.strerror(error.errno) if error.errno else str(error)
    if error.errno == errno.ENOSPC:
        reason = "no space left on the device"
    named = type(error)(error.errno, f"could not write {path}: {reason}")
    named.filename = path
    return named


# ----- reading ---------------------------------------------------------------------------------------------
def resolve_inside(path: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """`path` resolved through every symlink, refused unless it lies inside `folder` (itself resolved)."""
    root = Path(folder).resolve()
    real = Path(path).resolve()
    if real != root and root not in real.parents:
        raise FileRefused(f"{path} resolves to {real}, outside {root}; glassnet reads nothing outside it")
    return real


def check_regular(path: str | os.PathLike, max_bytes: int | None = None) -> int:
    """The size of `path`, refused unless it is a regular file (after symlinks) of at most `max_bytes` bytes."""
    try:
        info = os.stat(path)
    except OSError as e:
        raise FileNotFoundError(e.errno, f"{path}: {os.strerror(e.errno) if e.errno else e}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode) else "not a file"
        raise FileRefused(f"{path} is {kind}, not a regular file; glassnet opens only regular files")
    if max_bytes is not None and info.st_size > max_bytes:
        raise FileRefused(f"{path} is {info.st_size:,} bytes, over the limit of {max_bytes:,} bytes")
    return info.st_size


def read_regular(
    path: str | os.PathLike, max_bytes: int | None = None, inside: str | os.PathLike | None = None
) -> bytes:
    """The bytes of a regular file of at most `max_bytes` bytes (inside `inside`, if given), checked before reading.

    The file is opened without following a FIFO's blocking open (O_NONBLOCK) and checked again once open, so a
    file swapped for a FIFO or a device between the check and the open is still refused.
    """
    if inside is not None:
        path = resolve_inside(path, inside)
    check_regular(path, max_bytes)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (max_bytes is not None and info.st_size > max_bytes):
            raise FileRefused(f"{path} changed into something glassnet will not read while it was being opened")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(info.st_size)  # no more than was checked, even if the file grows meanwhile
    finally:
        os.close(fd)
