"""The README's data-parallel examples run as written under `mpiexec -n 2`: the ```python mpiexec blocks, and the
Trainer example (a plain ```python block, which tests/test_readme.py also runs in one process)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from needs import need_module

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
MPI_BLOCKS = re.findall(r"```python mpiexec\n(.*?)```", README, flags=re.S)
TRAINER_BLOCKS = [b for b in re.findall(r"```python\n(.*?)```", README, flags=re.S) if "# 64 per rank" in b]


def test_the_readme_has_both_kinds_of_example():
    assert len(MPI_BLOCKS) >= 1 and len(TRAINER_BLOCKS) == 1


@pytest.mark.parametrize("code", MPI_BLOCKS + TRAINER_BLOCKS, ids=lambda code: code.splitlines()[-1][:40])
def test_readme_example_runs_under_mpiexec(code, tmp_path):
    need_module("mpi4py", "pip install 'glassnet[mpi]'")
    from glassnet.distributed.launch import launch_environment, mpiexec_command

    script = tmp_path / "example.py"
    script.write_text(code)
    env = launch_environment(2)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        mpiexec_command(2, [sys.executable, str(script)]),
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    if "digits.safetensors" in code:
        assert (tmp_path / "digits.safetensors").is_file()
