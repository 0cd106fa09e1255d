"""Optional dependencies in tests: skip where a developer lacks them, fail under CI, whose install brings them all.

CI (`CI=true bash .ci/run`) installs the test extra, MiniLM and the Debian programs `dot` and `chromium`, so a
test that would skip there is a broken install, not an optional feature: it fails instead of hiding.
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType

import pytest


def _missing(what: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} (CI's install must bring it)", pytrace=False)
    pytest.skip(what)


def need_module(name: str, install: str) -> ModuleType:
    """Import `name` or skip (fail under CI), saying what to install."""
    try:
        return importlib.import_module(name)
    except ImportError:
        _missing(f"needs the Python module {name!r}: {install}")
        raise  # unreachable: skip/fail raise


def need_program(name: str, install: str) -> str:
    """The path of program `name` or skip (fail under CI), saying what to install."""
    path = shutil.which(name)
    if path is None:
        _missing(f"needs the program {name!r} on PATH: {install}")
    return path
