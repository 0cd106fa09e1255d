"""The tour's chapters as Jupyter notebooks, generated from the chapter modules themselves (one source of truth).

    python -m glassnet.tour.notebooks docs/notebooks           # (re)write chNN_*.ipynb and index.md
    python -m glassnet.tour.notebooks docs/notebooks --check   # exit 1 naming the notebooks that are out of date

Each notebook is its chapter's text, a parameter cell (`QUICK = False`; set it to True for the short version that
`glassnet tour --quick` runs), the chapter module's own code split into cells (imports, constants, one cell per
function or class) and a last cell that seeds the generator as `glassnet tour` does, calls the chapter's `run` and
shows what it returned (results, tables, figures) with `show`. The notebooks carry no outputs, so they change only
when a chapter's code or text changes. Needs the `notebooks` extra (nbformat) to write them.
"""

from __future__ import annotations

import argparse
import ast
import base64
import html
import importlib
import inspect
import os
import sys
import textwrap
from typing import Any

from glassnet.tour import CHAPTERS, Chapter

PARAMETERS_TAG = "parameters"  # the tag papermill and our notebook test look for
GENERATOR = "python -m glassnet.tour.notebooks docs/notebooks"
_SHOWN_AS_TEXT = {"TITLE", "TEXT"}  # module constants that become the notebook's markdown, not code


def _nbformat() -> Any:
    try:
        import nbformat
    except ImportError:
        raise SystemExit("writing the tour notebooks needs nbformat: pip install 'glassnet[notebooks]'") from None
    return nbformat


def _leading_comments(lines: list[str], start: int, stop: int) -> list[str]:
    """The comment lines directly above line `stop` (0-based, exclusive) and after `start`."""
    out: list[str] = []
    i = stop - 1
    while i >= start and lines[i].lstrip().startswith("#"):
        out.insert(0, lines[i])
        i -= 1
    return out


def _absolute_import(node: ast.ImportFrom, package: str) -> str:
    """`from .x import y` inside `package` written as `from package.x import y` (a notebook is no package)."""
    base = package.split(".")
    if node.level > 1:
        base = base[: -(node.level - 1)]
    module = ".".join(base + ([node.module] if node.module else []))
    return ast.unparse(ast.ImportFrom(module=module, names=node.names, level=0))


def code_cells(module_name: str) -> list[str]:
    """A chapter module's code as notebook cells: imports, then constants, functions and classes in source order.

    `from __future__` imports, the module docstring and `TITLE`/`TEXT` (shown as markdown) are left out; comments
    directly above a statement stay with it; consecutive imports, and consecutive constants, share one cell.
    """
    module = importlib.import_module(module_name)
    source = inspect.getsource(module)
    lines = source.splitlines()
    tree = ast.parse(source)
    package = module_name.rpartition(".")[0]
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    as_text = _SHOWN_AS_TEXT - used  # a constant the code reads must stay code
    cells: list[tuple[str, str]] = []  # (kind, text) with kind "import", "constant" or "definition"
    previous_end = 0
    for i, node in enumerate(tree.body):
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        comments = _leading_comments(lines, previous_end, first)
        blank_line_above = first - len(comments) > previous_end  # keeps the import groups apart, as in the module
        previous_end = node.end_lineno
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module docstring
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            continue  # a script entry point would run in the notebook, whose __name__ is "__main__"
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if {getattr(t, "id", None) for t in targets} <= as_text:
                continue
        if isinstance(node, ast.ImportFrom) and node.level:
            text = _absolute_import(node, package)
        else:
            text = "\n".join(lines[first : node.end_lineno])
        text = "\n".join(comments + [text])
        if isinstance(node, ast.Import | ast.ImportFrom):
            kind = "import"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            kind = "definition"
        else:
            kind = "constant"
        if cells and kind != "definition" and cells[-1][0] == kind:
            joiner = "\n\n" if kind != "import" or blank_line_above else "\n"
            cells[-1] = (kind, cells[-1][1] + joiner + text)
        else:
            cells.append((kind, text))
    return [text for _, text in cells]


def build_notebook(chapter: Chapter) -> Any:
    """The notebook of one chapter (an nbformat v4 NotebookNode without outputs, with stable cell ids)."""
    nbf = _nbformat()
    module_name = f"glassnet.tour.{chapter.module}"
    module = importlib.import_module(module_name)
    path = f"glassnet/tour/{chapter.module}.py"
    intro = (
        f"# Chapter {chapter.number}: {chapter.title}\n\n{textwrap.dedent(module.TEXT).strip()}\n\n"
        f"*This notebook is generated from `{path}` by `{GENERATOR}`: edit the chapter, "
        f"then regenerate. `glassnet tour --chapter {chapter.number}` runs the same code.*"
    )
    parameters = "# QUICK = True runs the short version of the chapter, as `glassnet tour --quick` does.\nQUICK = False"
    run_cell = (
        "import glassnet\nfrom glassnet.tour.notebooks import show\n\n"
        f"glassnet.manual_seed({chapter.number})  # the seed `glassnet tour` uses for chapter {chapter.number}\n"
        "printed = []  # what the chapter says on a terminal, kept under a fold below\n"
        "outcome = run(quick=QUICK, say=printed.append)\nshow(outcome, printed)"
    )
    cells = [
        nbf.v4.new_markdown_cell(intro),
        nbf.v4.new_code_cell(parameters, metadata={"tags": [PARAMETERS_TAG]}),
        nbf.v4.new_markdown_cell("## The chapter's code"),
    ]
    cells += [nbf.v4.new_code_cell(text) for text in code_cells(module_name)]
    cells += [
        nbf.v4.new_markdown_cell(
            "## Run it\n\n`show` displays what `run` returned: the numbers, tables, explanations and "
            "pictures; what the chapter prints on a terminal is folded under them."
        ),
        nbf.v4.new_code_cell(run_cell),
    ]
    for i, cell in enumerate(cells):
        cell["id"] = f"ch{chapter.number:02d}-{i:02d}"
    notebook = nbf.v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    return notebook


def index_markdown() -> str:
    """docs/notebooks/index.md: the chapters with a link to each notebook."""
    lines = [
        "# The tour as notebooks",
        "",
        "The twelve chapters of `glassnet tour`, one Jupyter notebook each, generated from the chapter modules in",
        f"`glassnet/tour/` by `{GENERATOR}` (so the command and the notebooks run the same code). Open them with",
        "`pip install -e '.[notebooks]'` and Jupyter; set `QUICK = True` in the first code cell for the short",
        "version.",
        "",
    ]
    for ch in CHAPTERS:
        if ch.available:
            lines.append(f"{ch.number}. [{ch.title}]({ch.module}.ipynb)")
    return "\n".join(lines) + "\n"


def rendered() -> dict[str, str]:
    """Every generated file's name and text: one notebook per available chapter and index.md."""
    nbf = _nbformat()
    files = {f"{ch.module}.ipynb": nbf.writes(build_notebook(ch)) + "\n" for ch in CHAPTERS if ch.available}
    files["index.md"] = index_markdown()
    return files


def write_notebooks(out_dir: str | os.PathLike) -> list[str]:
    """Write the notebooks and index.md into `out_dir` (atomically, file by file); return the paths written."""
    from glassnet.files import atomic_write

    files = rendered()  # first, so that a missing extra stops before anything is written
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name, text in files.items():
        path = os.path.join(out_dir, name)
        atomic_write(path, text)
        paths.append(path)
    return paths


def stale_files(out_dir: str | os.PathLike) -> list[str]:
    """The generated files in `out_dir` that are missing or differ from what the chapters generate now."""
    stale = []
    for name, text in rendered().items():
        path = os.path.join(out_dir, name)
        try:
            with open(path, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != text:
            stale.append(path)
    return stale


def _format(value: Any, kind: str | None = None) -> str:
    """A value as the tour prints it: `kind` "percent" writes 0.558 as 55.8%, "int" a count with separators."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ", ".join(_format(v, kind) for v in value) if isinstance(value, list | tuple) else str(value)
    if kind == "percent":
        return f"{value:.1%}"
    if kind == "int" or isinstance(value, int):
        return f"{round(value):,}"
    return f"{value:.4g}"


def _table(
    columns: list[Any], rows: list[list[Any]], kinds: list[str | None] | None = None, title: str | None = None
) -> dict[str, str]:
    """One table as a display bundle: HTML for Jupyter, aligned text for anything else."""
    kinds = list(kinds or []) + [None] * len(columns)
    cells = [[_format(v, k) for v, k in zip(row, kinds)] for row in rows]
    e = html.escape
    head = "".join(f"<th>{e(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in cells)
    caption = f"<caption>{e(title)}</caption>" if title else ""
    text_rows = [[str(c) for c in columns]] + cells
    widths = [max(len(r[i]) for r in text_rows) for i in range(len(columns))]
    lines = ([title] if title else []) + ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in text_rows]
    return {
        "text/html": f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>",
        "text/plain": "\n".join(lines),
    }


def _headlines(outcome: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(key, label, kind) for each headline, given as a tuple (a chapter's `run`) or a dict (summary.json)."""
    out = []
    for item in outcome.get("headlines") or []:
        if isinstance(item, dict):
            out.append((item["key"], item.get("label", item["key"]), item.get("kind")))
        else:
            key, label, kind = (list(item) + [None, None])[:3]
            out.append((key, label or key, kind))
    return out


def _figure_png(figure: Any) -> tuple[str, str, bytes | None]:
    """(title, caption, PNG bytes) of a figure entry: {"title", "caption", and "figure" (matplotlib) or "png"
    (base64 or bytes)}, or a bare matplotlib Figure."""
    if not isinstance(figure, dict):
        figure = {"figure": figure}
    png = figure.get("png")
    if isinstance(png, str):
        png = base64.b64decode(png)
    if png is None and figure.get("figure") is not None:
        from glassnet.lens.plots import figure_to_png_bytes

        png = figure_to_png_bytes(figure["figure"])
    return figure.get("title", ""), figure.get("caption", ""), png


def show(outcome: dict[str, Any], printed: list[str] | None = None) -> None:
    """Display what a chapter's `run` returned: headline numbers, every result, tables, notes, texts and figures,
    and, folded, the lines it `printed` (what `glassnet tour` shows on a terminal).

    In Jupyter, tables are HTML and figures PNG images (no `%matplotlib inline` needed: a matplotlib figure is
    rendered to PNG here); elsewhere everything is printed as text and figures are named by their title.
    """
    try:
        from IPython.display import Image, display
    except ImportError:
        Image = display = None  # noqa: N806 - the names IPython gives them

    def emit(bundle: dict[str, str]) -> None:
        if display is None:
            print(bundle["text/plain"])
        else:
            display(bundle, raw=True)

    results = outcome.get("results") or {}
    headlines = _headlines(outcome)
    if headlines:
        emit(
            _table(
                ["", "value"],
                [[label, _format(results.get(key), kind)] for key, label, kind in headlines],
                title="In short",
            )
        )
    if results:
        every = _table(["result", "value"], [[k, v] for k, v in results.items()], title="Results")
        if headlines and display is not None:  # the headlines said the story; the rest is there when asked for
            every["text/html"] = f"<details><summary>all {len(results)} results</summary>{every['text/html']}</details>"
        emit(every)
    for table in outcome.get("tables") or []:
        emit(_table(table["columns"], table["rows"], table.get("kinds"), table.get("title")))
    notes = outcome.get("notes") or []
    if notes:
        items = "".join(f"<li>{html.escape(str(n))}</li>" for n in notes)
        emit({"text/html": f"<p><b>Why</b></p><ul>{items}</ul>", "text/plain": "\n".join(f"- {n}" for n in notes)})
    for text in outcome.get("texts") or []:
        title, body = text.get("title", ""), text.get("text", "")
        emit(
            {
                "text/html": f"<p><b>{html.escape(title)}</b></p><pre>{html.escape(body)}</pre>",
                "text/plain": f"{title}\n{body}",
            }
        )
    if printed:
        log = "\n".join(printed)
        summary = f"what the chapter printed ({len(printed)} lines)"
        emit(
            {
                "text/html": f"<details><summary>{summary}</summary><pre>{html.escape(log)}</pre></details>",
                "text/plain": log,
            }
        )
    for figure in outcome.get("figures") or []:
        if figure is None:  # a chapter's picture when matplotlib is missing
            continue
        if display is None:
            print(f"[figure: {figure.get('title', '') if isinstance(figure, dict) else ''}]")
            continue
        title, caption, png = _figure_png(figure)
        if png is None:
            print(f"[figure: {title}]")
            continue
        if title or caption:
            label = f"<b>{html.escape(title)}</b>" + (f": {html.escape(caption)}" if caption else "")
            emit({"text/html": f"<p>{label}</p>", "text/plain": f"{title}: {caption}" if caption else title})
        display(Image(data=png, format="png"))


def main(argv: list[str] | None = None) -> int:
    """Write the tour notebooks, or with --check report the ones that are out of date."""
    parser = argparse.ArgumentParser(prog="python -m glassnet.tour.notebooks", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="the folder of the notebooks (docs/notebooks in the repository)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook is out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.out_dir)
        for path in stale:
            print(f"out of date: {path} (regenerate with `{GENERATOR}`)", file=sys.stderr)
        return 1 if stale else 0
    for path in write_notebooks(args.out_dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
