"""The documentation site: `mkdocs build --strict` (warnings are errors) succeeds offline, with an API page for every
public module, the gallery and the tour notebooks; tools/docs_hooks.py picks the modules."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from needs import need_module

ROOT = Path(__file__).resolve().parents[2]
INSTALL = "pip install -e '.[docs]'"


@pytest.fixture(scope="module")
def hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "tools" / "docs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_public_module_has_a_page_or_is_reexported(hooks):
    import pkgutil

    import glassnet

    pages = hooks.api_modules()
    for name in [
        "glassnet",
        "glassnet.tensor",
        "glassnet.autograd",
        "glassnet.nn",
        "glassnet.nn.functional",
        "glassnet.optim",
        "glassnet.optim.lr_scheduler",
        "glassnet.data",
        "glassnet.train",
        "glassnet.models",
        "glassnet.lens",
        "glassnet.lens.plots",
        "glassnet.io",
        "glassnet.tour",
    ]:
        assert name in pages
    assert "glassnet.cli" not in pages and not [p for p in pages if p.startswith("glassnet.tour.ch")]
    assert "glassnet.nn.linear" not in pages  # everything it offers is on the glassnet.nn page
    for info in pkgutil.walk_packages(glassnet.__path__, prefix="glassnet."):
        if info.name in pages or not hooks._is_public(info.name):
            continue
        module = importlib.import_module(info.name)
        package = importlib.import_module(info.name.rpartition(".")[0])
        assert info.name.rpartition(".")[0] in pages
        missing = [n for n in hooks._public_names(module) if getattr(package, n, None) is not getattr(module, n)]
        assert not missing, f"{info.name} has no page but its package does not offer {missing}"


def test_package_page_lists_reexports_and_what_static_analysis_misses(hooks):
    text = hooks.page_text("glassnet")
    assert "::: glassnet\n" in text and "        - Tensor\n" in text and "        - no_grad\n" in text
    assert "::: glassnet.creation.tensor" in text  # gn.tensor, shadowed by the module glassnet/tensor.py
    assert "- `abs`: `gn.abs(x, ...)` is `x.abs(...)`." in text  # made in a loop at import time
    assert "- `float32`: `dtype('float32')`" in text
    lens = hooks.page_text("glassnet.lens")  # has __all__; gn.lens.trace is a function and a module
    assert "::: glassnet.lens.trace.trace\n" in lens and "::: glassnet.lens.diagnose.diagnose\n" in lens
    assert "- `explain` is `glassnet.lens.trace.trace` under another name" in lens
    assert "- `CHAPTERS`: a `list` of 12 entries" in hooks.page_text("glassnet.tour")
    assert hooks.page_text("glassnet.optim") == "# `glassnet.optim`\n\n::: glassnet.optim\n"  # has __all__


def test_a_module_that_cannot_be_imported_still_gets_a_plain_page(hooks, tmp_path, monkeypatch):
    package = tmp_path / "docpkg" / "sub"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text('"""A package."""\n')
    (package / "__init__.py").write_text('"""A subpackage."""\n__all__ = []\n')
    (package / "needs_extra.py").write_text('"""Needs a missing extra."""\nimport a_module_nobody_installed\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert hooks.api_modules("docpkg") == ["docpkg", "docpkg.sub", "docpkg.sub.needs_extra"]
    assert hooks.page_text("docpkg.sub.needs_extra") == "# `docpkg.sub.needs_extra`\n\n::: docpkg.sub.needs_extra\n"


def test_strict_build_offline(tmp_path):
    need_module("mkdocs", INSTALL)
    need_module("mkdocstrings_handlers.python", INSTALL)
    need_module("mkdocs_jupyter", INSTALL)
    site = tmp_path / "site"
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "GLASSNET_DOCS_EXECUTE": "false",
        "GLASSNET_DOCS_CACHE": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "WARNING" not in proc.stderr
    nn_page = (site / "api" / "glassnet.nn" / "index.html").read_text(encoding="utf-8")
    assert 'id="glassnet.nn.Linear"' in nn_page and "y = x W" in nn_page  # Linear's docstring, rendered
    root_page = (site / "api" / "glassnet" / "index.html").read_text(encoding="utf-8")
    assert 'id="glassnet.Tensor.backward"' in root_page and 'id="glassnet.creation.tensor"' in root_page
    lens_page = (site / "api" / "glassnet.lens" / "index.html").read_text(encoding="utf-8")
    assert 'id="glassnet.lens.trace.trace"' in lens_page
    chapter = (site / "notebooks" / "ch04_backprop" / "index.html").read_text(encoding="utf-8")
    assert "Chapter 4" in chapter and "QUICK" in chapter
    gallery = (site / "gallery" / "index.html").read_text(encoding="utf-8")
    for image in re.findall(r'src="([^"]+\.png)"', gallery):
        assert (site / "gallery" / image).resolve().is_file(), image
    assert (site / "search" / "search_index.json").is_file()
    assert any((tmp_path / "cache").iterdir())  # the notebook cache went to the temporary folder, not the checkout
