"""MkDocs hooks for the glassnet site: the API reference pages and the navigation are generated, not hand-kept.

`api_modules()` lists every public module of glassnet that needs a page of its own (a package, a top-level module,
or a module whose public names its package does not re-export); `on_config` appends the tour notebooks and those
pages to the navigation that mkdocs.yml starts (hand-written pages go there), and `on_files` writes one page per
module (`::: glassnet.x` for mkdocstrings). A new module therefore appears in the reference with no edit here; its
docstrings must build under `mkdocs build --strict`.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import sys
import types
from typing import Any

# Modules that are public by name but are not library API: why each is left out of the reference.
NOT_API = {
    "glassnet.cli": "the `glassnet` command, documented in the README",
    "glassnet.data.make_bundles": "a maintainer's script that rebuilds the bundled data files",
}
# The tour's chapters are shown as notebooks (docs/notebooks/), not as API pages.
NOT_API_PREFIXES = ("glassnet.tour.ch",)


def _public_names(module: types.ModuleType) -> list[str]:
    """The names a module offers: its `__all__`, else the functions and classes it defines without a leading _."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return sorted(
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == module.__name__
    )


def _is_public(name: str) -> bool:
    return (
        not any(part.startswith("_") for part in name.split("."))
        and name not in NOT_API
        and not name.startswith(NOT_API_PREFIXES)
    )


def api_modules(package: str = "glassnet") -> list[str]:
    """Every module of `package` that gets an API page, sorted by name, the package first."""
    root = importlib.import_module(package)
    found = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=package + "."):
        if not _is_public(info.name):
            continue
        parent_name, _, leaf = info.name.rpartition(".")
        try:
            module = importlib.import_module(info.name)
            parent = importlib.import_module(parent_name)
        except ImportError:  # an optional dependency is missing: mkdocstrings reads the source without importing it
            found.append(info.name)
            continue
        if info.ispkg or parent_name == package or leaf in getattr(parent, "__all__", ()):
            found.append(info.name)
            continue
        # An implementation module is covered by its package's page when the package re-exports all it offers.
        if any(getattr(parent, name, None) is not getattr(module, name) for name in _public_names(module)):
            found.append(info.name)
    return sorted(found)


def _value_text(obj: Any) -> str:
    text = repr(obj)
    if len(text) <= 80:
        return f"`{text}`"
    size = f" of {len(obj)} entries" if hasattr(obj, "__len__") else ""
    return f"a `{type(obj).__name__}`{size}"


def page_text(module_name: str) -> str:
    """The Markdown of one API page: the mkdocstrings directive, then what static analysis cannot document.

    mkdocstrings renders the functions and classes a module defines, or those in its `__all__`. A package without
    `__all__` gets the list of what it re-exports from its own modules (e.g. `glassnet` offers `Tensor`, `zeros`,
    `no_grad`, ...). Where a module declares `__all__` or is a package, the names it offers that mkdocstrings would
    miss are added: functions made at import time, functions named like a submodule (`gn.tensor`,
    `gn.lens.trace`), second names of a function (`explain = trace`) and plain values.
    """
    lines = [f"# `{module_name}`", "", f"::: {module_name}"]
    try:
        module = importlib.import_module(module_name)
    except ImportError:  # an optional dependency is missing: document what the source shows
        return "\n".join(lines) + "\n"
    declared = getattr(module, "__all__", None)
    if declared is None and not hasattr(module, "__path__"):
        return "\n".join(lines) + "\n"
    offered = declared if declared is not None else sorted(vars(module))
    members, made, shadowed, aliases, values = [], [], [], [], []
    for name in offered:
        obj = getattr(module, name, None)
        if name.startswith("_") or obj is None or isinstance(obj, types.ModuleType):
            continue
        defined_in = getattr(obj, "__module__", "") or ""
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            values.append(f"`{name}`: {_value_text(obj)}")
        elif "<locals>" in obj.__qualname__:
            made.append(f"`{name}`: {(obj.__doc__ or '').strip().splitlines()[0]}" if obj.__doc__ else f"`{name}`")
        elif f"{module_name}.{name}" in sys.modules:
            shadowed.append(f"{defined_in}.{obj.__qualname__}")
        elif obj.__name__ != name:
            aliases.append(f"`{name}` is `{defined_in}.{obj.__qualname__}` under another name")
        elif declared is None and defined_in.startswith(module_name):
            members.append(name)
    if declared is None:
        lines += ["    options:", "      members:"] + [f"        - {n}" for n in members]
    for target in shadowed:
        options = ["    options:", "      show_root_heading: true", "      show_root_full_path: false"]
        lines += ["", f"::: {target}", *options]
    for heading, items in (("Functions made at import", made), ("Other names", aliases), ("Values", values)):
        if items:
            lines += ["", f"## {heading}", ""] + [f"- {item}" for item in items]
    return "\n".join(lines) + "\n"


def _notebook_nav(docs_dir: str) -> list[Any]:
    folder = os.path.join(docs_dir, "notebooks")
    if not os.path.isdir(folder):
        return []
    nav: list[Any] = []
    if os.path.exists(os.path.join(folder, "index.md")):
        nav.append({"The tour as notebooks": "notebooks/index.md"})
    nav += [f"notebooks/{name}" for name in sorted(os.listdir(folder)) if name.endswith(".ipynb")]
    return nav


def on_config(config: Any) -> Any:
    """Complete the navigation: the pages listed in mkdocs.yml, then the tour notebooks and one API page per module."""
    nav: list[Any] = list(config["nav"] or [{"Home": "index.md"}])
    notebooks = _notebook_nav(config["docs_dir"])
    if notebooks:
        nav.append({"Tour notebooks": notebooks})
    nav.append({"API reference": [{name: f"api/{name}.md"} for name in api_modules()]})
    config["nav"] = nav
    return config


def on_files(files: Any, config: Any) -> Any:
    """Add the generated API pages to the site's files."""
    from mkdocs.structure.files import File

    for name in api_modules():
        files.append(File.generated(config, f"api/{name}.md", content=page_text(name)))
    return files
