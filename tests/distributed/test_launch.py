"""`glassnet train RECIPE --ranks N [--hostfile FILE]`: the command line re-run as N ranks under mpiexec."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from needs import need_module

from glassnet.cli import main
from glassnet.distributed.launch import launch_environment, mpiexec_command, without_launch_options

REPO = Path(__file__).resolve().parents[2]


def test_the_launch_options_are_removed_in_both_spellings():
    argv = ["train", "mlp-digits", "--ranks", "4", "--epochs", "2", "--hostfile=hosts", "--out", "r"]
    assert without_launch_options(argv) == ["train", "mlp-digits", "--epochs", "2", "--out", "r"]
    assert without_launch_options(["train", "x", "--ranks=2", "--hostfile", "h"]) == ["train", "x"]


def test_each_rank_gets_its_share_of_the_cores_unless_the_user_chose(monkeypatch):
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    cores = len(os.sched_getaffinity(0))
    env = launch_environment(2)
    assert env["OPENBLAS_NUM_THREADS"] == env["OMP_NUM_THREADS"] == str(max(1, cores // 2))
    assert env["GLASSNET_QUIET_RANKS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert "OPENBLAS_NUM_THREADS" not in launch_environment(2)
    assert "OPENBLAS_NUM_THREADS" not in launch_environment(2, hostfile="hosts", base={})  # each machine decides


def test_mistakes_are_one_line_before_anything_starts(tmp_path, capsys):
    assert main(["train", "mlp-digits", "--hostfile", str(tmp_path / "none")]) == 2
    assert "--hostfile needs --ranks N" in capsys.readouterr().err
    assert main(["train", "mlp-digits", "--ranks", "2", "--hostfile", str(tmp_path / "none")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["train", "no-such-recipe", "--ranks", "2"]) == 2
    assert "no-such-recipe" in capsys.readouterr().err


def test_mpiexec_of_the_wheel_is_used_with_its_host_file_option():
    need_module("mpi4py", "pip install 'glassnet[mpi]'")
    command = mpiexec_command(3, ["python", "x.py"], hostfile="hosts")
    assert command[0] == os.path.join(os.path.dirname(sys.executable), "mpiexec")
    assert command[1:3] == ["-n", "3"] and command[-2:] == ["python", "x.py"]
    assert "-f" in command or "--hostfile" in command


def test_train_with_ranks_runs_under_mpiexec_and_only_rank_zero_prints(tmp_path):
    need_module("mpi4py", "pip install 'glassnet[mpi]'")
    hosts = tmp_path / "hosts"
    hosts.write_text("localhost:2\n")  # a host file naming this machine: the multi-machine path, on one machine
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    argv = ["train", "mlp-digits", "--epochs", "1", "--out", str(out), "--ranks", "2", "--hostfile", str(hosts)]
    proc = subprocess.run(
        [sys.executable, "-m", "glassnet", *argv], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("mlp-digits: using the bundled") == 1  # two ranks ran, one printed
    assert (out / "model.safetensors").is_file()


def test_a_failing_rank_fails_the_launch(tmp_path):
    need_module("mpi4py", "pip install 'glassnet[mpi]'")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "digits.npz").write_bytes(b"not an npz")
    argv = ["train", "mlp-digits", "--epochs", "1", "--data", str(bad), "--out", str(tmp_path / "r"), "--ranks", "2"]
    proc = subprocess.run(
        [sys.executable, "-m", "glassnet", *argv], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path
    )
    assert proc.returncode == 2
    assert "is not a plain-array digits.npz" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_lenet_mnist_with_two_ranks_trains_and_writes_one_run_folder(tmp_path):
    need_module("mpi4py", "pip install 'glassnet[mpi]'")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    argv = ["train", "lenet-mnist", "--epochs", "1", "--set", "limit=512", "--ranks", "2"]  # 2 steps per rank
    proc = subprocess.run(
        [sys.executable, "-m", "glassnet", *argv], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("lenet-mnist: test accuracy") == 1
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["lenet-mnist"]  # the default run folder, only one
    run = tmp_path / "runs" / "lenet-mnist"
    assert (run / "model.safetensors").is_file() and (run / "checkpoints" / "last.safetensors").is_file()
    assert json.loads((run / "history.json").read_text())["epoch"] == [0]
    assert json.loads((run / "status.json").read_text())["world_size"] == 2
