"""The package is layered: each module imports only from its own layer or the layers below (see README, "The core's
rules"), and `import glassnet` loads no heavy optional dependency."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import glassnet

ROOT = pathlib.Path(glassnet.__file__).parent

# Lowest first. A module belongs to the longest prefix that names it.
LAYERS = [
    ("glassnet.state", 0),
    ("glassnet.backend", 0),
    ("glassnet.files", 0),  # atomic writes and safe reads, used at every layer
    ("glassnet.threads", 0),
    ("glassnet.extras", 0),  # the one-line errors naming an optional extra
    ("glassnet.display", 0),  # text and HTML renderings of tables and curves (no glassnet import)
    ("glassnet.errors", 0),  # glassnet's error classes (no glassnet import)
    ("glassnet.kernels", 0),  # the optional numba kernels the ops call (imports only threads, in a function)
    ("glassnet.autograd", 1),
    ("glassnet.random", 1),
    ("glassnet.ops", 2),
    ("glassnet.tensor", 3),
    ("glassnet.creation", 3),
    ("glassnet.gradcheck", 3),
    ("glassnet.cuda", 3),
    ("glassnet.accelerator", 3),  # gn.accelerator: torch.accelerator's names over gn.cuda
    ("glassnet.inplace", 3),  # the in-place Tensor methods (x.add_(1), …) over the out-of-place ones
    ("glassnet.backends", 0),  # gn.backends: torch.backends' switches (mps, cudnn), answered plainly
    ("glassnet.functions", 3),  # the torch-style free functions (gn.acos, gn.where, ...) over Tensors and ops
    ("glassnet.linalg", 3),  # gn.linalg: Tensor-level linear algebra
    ("glassnet.capture", 3),  # gn.compile: records a step's ops and Tensor calls, replays them
    ("glassnet.lowering", 3),  # gn.compile: the hottest ops' array calls, written inline into a replay
    ("glassnet.io.weights", 3),  # tensors to and from files: what checkpoints (train) are built on
    ("glassnet.distributed", 3),  # the MPI process group and collectives on Tensors (nn.parallel builds on it)
    ("glassnet.nn", 4),
    ("glassnet.optim", 5),
    ("glassnet.io", 5),  # io.mapping loads PyTorch state dicts into Modules
    ("glassnet.data", 6),
    ("glassnet.utils", 6),  # gn.utils.data: torch.utils.data's spelling of glassnet.data
    ("glassnet.train", 6),
    ("glassnet.models", 6),
    ("glassnet.distributed.training", 6),  # a Trainer's fit as one rank of a data-parallel job
    ("glassnet.io.onnx", 7),
    ("glassnet.onnx", 7),
    ("glassnet.lens", 8),
    ("glassnet", 9),  # the package itself: `import glassnet as gn` gives the whole library
    ("glassnet.tour", 10),
    ("glassnet.recipes", 10),
    ("glassnet.cli", 10),
    ("glassnet.__main__", 10),
    ("glassnet.serve", 10),
    ("glassnet.web", 10),  # applications: built as a user would
]

# Upward imports that exist today, each inside a function (so importing the lower module does not load the upper).
# The list may only shrink: a new upward import fails the test below.
KNOWN_UPWARD = {
    ("glassnet.autograd", "glassnet.gradcheck"),  # gn.autograd.gradcheck, through the module's __getattr__
    ("glassnet.lens.report", "glassnet"),  # the report shows glassnet.__version__
    ("glassnet.ops.collective", "glassnet.distributed"),  # the all-reduce op reaches the process group
    ("glassnet", "glassnet.serve"),  # gn.serve(...) loads the web server on first use (the package's __getattr__)
}

HEAVY = ("matplotlib", "starlette", "uvicorn", "mpi4py", "cupy", "torch", "scipy", "jinja2", "onnx", "httpx")


def _level(module: str) -> int:
    matches = [(len(prefix), level) for prefix, level in LAYERS if module == prefix or module.startswith(prefix + ".")]
    return max(matches)[1]


def _modules() -> dict:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: pathlib.Path, modules: dict):
    """(imported module, at module level?) for every glassnet import in the file."""
    tree = ast.parse(path.read_text())
    top = {id(n) for node in tree.body for n in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        for name in names:
            if name == "glassnet" or name.startswith("glassnet."):
                yield name, id(node) in top


def test_no_module_imports_from_a_higher_layer():
    modules = _modules()
    upward = set()
    for module, path in modules.items():
        for target, at_top in _imports(module, path, modules):
            if _level(target) > _level(module):
                edge = (module, target)
                assert not at_top, f"{module} imports {target} (a higher layer) at module level"
                upward.add(edge)
    new = upward - KNOWN_UPWARD
    assert not new, f"new upward imports (move the code down, or the import up a layer): {sorted(new)}"
    assert upward == KNOWN_UPWARD, f"fixed, remove from KNOWN_UPWARD: {sorted(KNOWN_UPWARD - upward)}"


def test_every_module_has_a_layer():
    for module in _modules():
        assert any(module == p or module.startswith(p + ".") for p, _ in LAYERS), module


def test_module_level_imports_have_no_cycle():
    modules = _modules()
    graph = {
        m: {t for t, top in _imports(m, p, modules) if top and t in modules and t != m} for m, p in modules.items()
    }
    # A package's __init__ importing its own submodules is how a package is assembled, not a cycle to avoid.
    for m in graph:
        graph[m] = {t for t in graph[m] if not (t.startswith(m + ".") and modules[m].name == "__init__.py")}
    state: dict = {}

    def visit(m, stack):
        state[m] = "open"
        for t in graph[m]:
            if t.startswith(m + "."):
                continue
            if state.get(t) == "open":
                raise AssertionError(f"import cycle: {' -> '.join(stack[stack.index(t) :] + [t])}")
            elif t not in state:
                visit(t, stack + [t])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_import_glassnet_loads_nothing_heavy():
    code = (
        "import sys, glassnet as gn\n"
        "gn.cuda.is_available()\n"  # asking about CUDA imports CuPy only if it is installed
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules and m != 'cupy']\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"import glassnet loaded {done.stdout.strip()}"
