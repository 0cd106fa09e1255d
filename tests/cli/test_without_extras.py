"""A plain install (no optional extra) runs every command that needs none; a missing extra is one line, up front.

Each check runs in a fresh process whose `sitecustomize` hides every optional package, as on a machine where only
`pip install glassnet` was run.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from glassnet.extras import EXTRAS, MissingExtra, available, require

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL = sorted(
    {m for modules in EXTRAS.values() for m in modules}
    | {"torch", "scipy", "IPython", "ipywidgets", "hypothesis", "transformers", "pytest"}
)

# None in sys.modules is how Python spells "not installed" to both `import` and `importlib.util.find_spec`
BLOCKER = f"import sys\nsys.modules.update(dict.fromkeys({OPTIONAL!r}))\n"


@pytest.fixture
def bare(tmp_path):
    """Run `python ARGS` as on a plain install, in tmp_path; returns the CompletedProcess."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]))

    def run(*args):
        return subprocess.run(
            [sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )

    return run


def test_train_then_report_with_no_extra(bare, tmp_path):
    hidden = bare("-c", "import glassnet, importlib.util as u; print(u.find_spec('matplotlib'))")
    assert hidden.stdout.strip() == "None"  # the blocker works (and glassnet imports without extras)
    train = bare("-m", "glassnet", "train", "mlp-digits", "--epochs", "1", "--out", "runs/x")
    assert train.returncode == 0 and "Traceback" not in train.stderr, train.stderr
    assert (tmp_path / "runs/x").is_dir()
    report = bare("-m", "glassnet", "report", "runs/x")
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr
    note = report.stderr.strip().splitlines()
    assert len(note) == 1 and "pip install 'glassnet[plots]'" in note[0]  # said before the work, in one line
    page = (tmp_path / "runs/x/report.html").read_text()
    assert "glassnet[plots]" in page


def test_a_feature_without_its_extra_fails_in_one_line(bare):
    run = bare("-c", "from glassnet.lens import plots; plots.plot_history({'loss': [1.0, 0.5]})")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (
        "glassnet.extras.MissingExtra: glassnet.lens.plots needs matplotlib: pip install 'glassnet[plots]'"
    )


def test_require_and_available():
    assert available("plots") == (importlib.util.find_spec("matplotlib") is not None)
    with pytest.raises(MissingExtra) as err:
        require_missing()
    assert str(err.value) == "the test feature needs no_such_module_xyz: pip install 'glassnet[fake]'"
    assert isinstance(err.value, ImportError)  # code that falls back on ImportError keeps working
    with pytest.raises(KeyError, match="unknown extra 'nope'"):
        available("nope")


def require_missing():
    EXTRAS["fake"] = ("no_such_module_xyz",)
    try:
        require("fake", "the test feature")
    finally:
        del EXTRAS["fake"]


def test_a_command_whose_extra_is_missing_says_so_in_one_line(bare, tmp_path):
    (tmp_path / "runs").mkdir()
    run = bare("-m", "glassnet", "serve", "runs")
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip().splitlines() == [
        "glassnet serve: error: glassnet serve needs starlette and uvicorn: pip install 'glassnet[serve]'"
    ]
