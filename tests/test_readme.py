"""Every Python example in the README runs as written, each alone in a fresh process (as a reader would paste it)."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def _line(index: int) -> int:
    """The README line where block `index` starts (for the failure message)."""
    text = README.read_text(encoding="utf-8")
    starts = [m.start() for m in re.finditer(r"^```python\n", text, flags=re.M)]
    return text.count("\n", 0, starts[index]) + 1


def test_readme_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs_alone_in_a_fresh_process(index, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), MPLBACKEND="Agg")
    run = subprocess.run(
        [sys.executable, "-c", BLOCKS[index]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, (
        f"README.md line {_line(index)}: the example failed when run alone:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}"
    )
