"""The tour notebooks in docs/notebooks/: generated from the chapter modules, up to date, and they run in Jupyter.

The execution test starts a real Jupyter kernel (ipykernel, from the notebooks extra) through nbclient, with a kernel
spec written into a temporary JUPYTER_PATH for this interpreter, and runs each notebook in quick mode (the parameter
cell set to `QUICK = True`, as `glassnet tour --quick`).
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from needs import need_module

from glassnet.tour import CHAPTERS

NOTEBOOKS = Path(__file__).resolve().parents[2] / "docs" / "notebooks"
AVAILABLE = [ch for ch in CHAPTERS if ch.available]
INSTALL = "pip install -e '.[notebooks]'"


@pytest.fixture(scope="module")
def generator():
    need_module("nbformat", INSTALL)
    from glassnet.tour import notebooks

    return notebooks


def test_committed_notebooks_are_what_the_generator_writes(generator):
    stale = generator.stale_files(NOTEBOOKS)
    assert not stale, f"out of date: {stale}; run `{generator.GENERATOR}` and commit"
    on_disk = {p.name for p in NOTEBOOKS.glob("*.ipynb")}
    assert on_disk == {f"{ch.module}.ipynb" for ch in AVAILABLE}, "a notebook without a chapter (or the reverse)"


def test_stale_files_sees_an_edited_notebook(generator, tmp_path):
    written = generator.write_notebooks(tmp_path)
    assert len(written) == len(AVAILABLE) + 1 and generator.stale_files(tmp_path) == []
    edited = tmp_path / f"{AVAILABLE[0].module}.ipynb"
    edited.write_text(edited.read_text().replace("QUICK = False", "QUICK = True"))
    (tmp_path / "index.md").unlink()
    assert sorted(generator.stale_files(tmp_path)) == sorted([str(edited), str(tmp_path / "index.md")])
    assert generator.main([str(tmp_path), "--check"]) == 1
    generator.main([str(tmp_path)])
    assert generator.main([str(tmp_path), "--check"]) == 0


@pytest.mark.parametrize("chapter", AVAILABLE, ids=lambda ch: ch.module)
def test_notebook_cells_are_the_chapter_code(generator, chapter):
    import importlib

    module = importlib.import_module(f"glassnet.tour.{chapter.module}")
    notebook = generator.build_notebook(chapter)
    code = "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert inspect.getsource(module.run) in code  # the chapter's function itself, not a copy that could drift
    ast.parse(code)  # the cells together are valid Python
    assert "TEXT = " not in code and "from __future__" not in code
    assert module.TEXT.split()[0] in notebook.cells[0].source  # the chapter's text is the first markdown cell
    parameter_cells = [c for c in notebook.cells if generator.PARAMETERS_TAG in c.metadata.get("tags", [])]
    assert len(parameter_cells) == 1 and "QUICK = False" in parameter_cells[0].source


def test_code_cells_of_a_module(generator, tmp_path, monkeypatch):
    package = tmp_path / "tourpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    (package / "chapter.py").write_text(
        '"""A chapter."""\n\nfrom __future__ import annotations\n\nimport math\n\nfrom .helpers import double\n\n'
        'TITLE = "t"\nTEXT = "words"\nSCALE = 3  # a constant\n\n\n# why run exists\n'
        "def run(quick=False):\n    return {'results': {'x': double(SCALE) + math.pi, 'title': TITLE}}\n\n\n"
        'if __name__ == "__main__":\n    run()\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    cells = generator.code_cells("tourpkg.chapter")
    assert cells == [
        "import math\n\nfrom tourpkg.helpers import double",  # groups kept apart, relative import made absolute
        'TITLE = "t"\n\nSCALE = 3  # a constant',  # TITLE stays code because run reads it; TEXT does not
        "# why run exists\ndef run(quick=False):\n    return {'results': {'x': double(SCALE) + math.pi, "
        "'title': TITLE}}",
    ]
    namespace: dict = {}
    exec("\n\n".join(cells) + "\nresult = run()", namespace)  # the cells run in order, as in Jupyter
    assert namespace["result"]["results"]["x"] == 6 + 3.141592653589793


def test_relative_imports_become_absolute(generator):
    node = ast.parse("from .pictures import draw, ring").body[0]
    assert generator._absolute_import(node, "glassnet.tour") == "from glassnet.tour.pictures import draw, ring"
    node = ast.parse("from ..lens import plots").body[0]
    assert generator._absolute_import(node, "glassnet.tour") == "from glassnet.lens import plots"


def test_without_nbformat_one_line_names_the_extra(generator, monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "nbformat", None)  # as if the notebooks extra were not installed
    with pytest.raises(SystemExit, match=r"pip install 'glassnet\[notebooks\]'"):
        generator.main([str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_show_prints_tables_without_jupyter(generator, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "IPython.display", None)  # as if IPython were not installed
    generator.show(
        {
            "results": {"accuracy": 0.96875},
            "tables": [{"title": "T", "columns": ["a", "b"], "rows": [[1, 2.5]]}],
            "figures": [{"title": "curves", "png": None}],
        }
    )
    out = capsys.readouterr().out
    assert "accuracy" in out and "0.9688" in out and "2.5" in out and "[figure: curves]" in out


def test_show_in_jupyter_renders_headlines_kinds_notes_and_figures(generator, monkeypatch):
    need_module("IPython", INSTALL)
    need_module("matplotlib", "pip install -e '.[plots]'")
    import IPython.display
    from matplotlib.figure import Figure

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    generator.show(
        {
            "results": {"accuracy": 0.558, "steps": 1500},
            "headlines": [("accuracy", "test accuracy", "percent")],
            "tables": [{"title": "T", "columns": ["n", "acc"], "rows": [[2000, 0.431]], "kinds": ["int", "percent"]}],
            "notes": ["a <small> net"],
            "texts": [{"title": "sample", "text": "ROMEO:\nay"}],
            "figures": [None, {"title": "curves", "caption": "loss by step", "figure": fig}],
        },
        printed=["step 1 <loss> 2.3"],
    )
    bundles = [b for b in shown if isinstance(b, dict)]
    html_all = "".join(b["text/html"] for b in bundles)
    assert "<td>test accuracy</td><td>55.8%</td>" in html_all  # a headline, formatted by its kind
    assert "<details><summary>all 2 results</summary>" in html_all and "<td>1,500</td>" in html_all
    assert "<td>2,000</td><td>43.1%</td>" in html_all  # table columns formatted by their kinds
    assert "a &lt;small&gt; net" in html_all and "<pre>ROMEO:\nay</pre>" in html_all  # escaped
    assert "<b>curves</b>: loss by step" in html_all
    assert "<summary>what the chapter printed (1 lines)</summary><pre>step 1 &lt;loss&gt; 2.3</pre>" in html_all
    (image,) = [o for o in shown if isinstance(o, IPython.display.Image)]
    assert image.data[:8] == b"\x89PNG\r\n\x1a\n"  # the matplotlib figure, rendered to PNG here


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    need_module("nbclient", INSTALL)
    need_module("ipykernel", INSTALL)
    from ipykernel.kernelspec import write_kernel_spec

    jupyter_dir = tmp_path_factory.mktemp("jupyter")
    name = "glassnet-notebook-test"
    # One BLAS thread: the notebooks are small and the test machine's cores are shared.
    write_kernel_spec(
        jupyter_dir / "kernels" / name,
        overrides={
            "display_name": "glassnet notebook test",
            "env": {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        },
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(jupyter_dir))
        # Connection files and the IPython profile go to the temporary folder, not the user's home.
        mp.setenv("JUPYTER_RUNTIME_DIR", str(jupyter_dir / "runtime"))
        mp.setenv("IPYTHONDIR", str(jupyter_dir / "ipython"))
        yield name


@pytest.mark.parametrize("chapter", AVAILABLE, ids=lambda ch: ch.module)
def test_notebook_runs_in_a_jupyter_kernel(generator, kernel_name, chapter, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOKS / f"{chapter.module}.ipynb", as_version=4)
    (parameters,) = [c for c in notebook.cells if generator.PARAMETERS_TAG in c.metadata.get("tags", [])]
    parameters.source = "QUICK = True"
    notebook.cells.append(nbformat.v4.new_code_cell('print("figures returned:", len(outcome.get("figures") or []))'))
    # Raises CellExecutionError, with the cell and its traceback, if any cell fails.
    NotebookClient(
        notebook, kernel_name=kernel_name, timeout=300, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    html_parts = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("<details><summary>what the chapter printed" in h for h in html_parts), "the printout is folded"
    html_tables = [o for o in outputs if "text/html" in o.get("data", {}) and "<table>" in o.data["text/html"]]
    assert html_tables, "show() displayed no table"
    assert any("<caption>Results</caption>" in o.data["text/html"] for o in html_tables)
    returned = int(notebook.cells[-1].outputs[0].text.split(":")[1])
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == returned, "every figure the chapter returned is displayed inline"
