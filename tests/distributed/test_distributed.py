"""Data-parallel training over MPI: each test starts `mpiexec -n 2 python _worker.py CASE` and checks what the ranks
report (tests/distributed/_worker.py holds the rank side). Every launch has a timeout, so a hang fails, never blocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from needs import need_module

WORKER = Path(__file__).with_name("_worker.py")
REPO = Path(__file__).resolve().parents[2]


def launch(
    case: str, *args: str, timeout: float = 300, ranks: int = 2, blas_env: bool = True
) -> subprocess.CompletedProcess:
    """Run the worker's CASE as `ranks` MPI ranks, with the command line `glassnet train --ranks` uses; the ranks'
    recorded results are in `.results` ({name: [value, …]}, one value per rank that recorded it), `.ended` is the
    wall-clock time the job ended and `.fault_time` when a fault case's rank failed (None if it did not get there).
    The timeout is generous (a loaded machine starts Python slowly); a job that hangs still fails the test."""
    need_module("mpi4py", "pip install 'glassnet[mpi]'")
    from glassnet.distributed.launch import launch_environment, mpiexec_command

    env = launch_environment(ranks)
    env.pop("GLASSNET_QUIET_RANKS")  # the worker's ranks report themselves
    if not blas_env:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    with tempfile.TemporaryDirectory() as results_dir:
        env["RESULTS_DIR"] = results_dir
        command = mpiexec_command(ranks, [sys.executable, str(WORKER), case, *args])
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
        proc.ended = time.time()
        fault = Path(results_dir) / "fault_time"
        proc.fault_time = float(fault.read_text()) if fault.is_file() else None
        proc.results = {}
        for path in sorted(Path(results_dir).glob("rank*.jsonl")):
            for line in path.read_text().splitlines():
                name, value = json.loads(line)
                proc.results.setdefault(name, []).append(value)
    return proc


def results(proc: subprocess.CompletedProcess) -> dict[str, list]:
    """The results of a launch that must have succeeded."""
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.results


@pytest.fixture(scope="module")
def equivalence() -> dict[str, list]:
    return results(launch("equivalence"))


@pytest.fixture(scope="module")
def features() -> dict[str, list]:
    return results(launch("features"))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-10), ("float32", 1e-5)])
def test_two_ranks_of_half_the_batch_train_as_one_process_with_all_of_it(equivalence, optimizer, dtype, tolerance):
    assert equivalence[f"mlp-{optimizer}-{dtype}"][0] < tolerance
    # the control: a rank training on its half alone ends far from the whole-batch reference
    assert equivalence[f"control-mlp-{optimizer}-{dtype}"][0] > 1e-3


def test_small_buckets_start_during_backward_and_change_nothing(equivalence):
    small = equivalence["mlp-small-buckets"][0]
    assert small["buckets"] == 5  # bucket_cap_mb tiny: the last Linear's bias alone, weight alone, ...
    assert small["diff"] < 1e-10
    assert small["started_before_walk_ended"]
    # every bucket but the last started while backward was computing; what finished by then is a part of that
    # (how much depends on the machine's load: only the bounds are certain)
    assert 0.5 < small["started_fraction"] < 1
    assert 0 <= small["overlapped_fraction"] <= small["started_fraction"]
    assert small["waited"] >= 0


@pytest.fixture(scope="module")
def views() -> dict[str, list]:
    return results(launch("views"))


@pytest.mark.parametrize("as_view", [False, True])
@pytest.mark.parametrize("set_to_none", [True, False])
@pytest.mark.parametrize("layout", ["one-bucket", "small-buckets"])
@pytest.mark.parametrize("optimizer, dtype, tolerance", [("sgd", "float64", 1e-10), ("adam", "float32", 1e-5)])
def test_every_way_of_holding_the_buckets_trains_as_one_process(
    views, as_view, set_to_none, layout, optimizer, dtype, tolerance
):
    # gradient_as_bucket_view or a fresh buffer per step; gradients made fresh or accumulated in place
    # (zero_grad(set_to_none=False)); one bucket, or one per parameter (reduced where the gradient lies)
    assert views[f"view={as_view}-none={set_to_none}-{layout}-{optimizer}-{dtype}"][0] < tolerance
    assert views[f"buckets-{layout}-{dtype}"][0] == (
        1 if layout == "one-bucket" else {"float64": 5, "float32": 4}[dtype]
    )


@pytest.mark.parametrize("as_view", [False, True])
@pytest.mark.parametrize("cap", [25.0, 0.0005])
def test_a_grad_kept_from_an_earlier_step_changes_only_with_gradient_as_bucket_view(views, as_view, cap):
    kept = views[f"kept-view={as_view}-cap={cap}"][0]
    assert kept["changed"] is as_view  # PyTorch's caveat of gradient_as_bucket_view=True, and only of it
    # one-parameter buckets reduce the gradient where it lies unless the buckets hold the gradients
    # (the first small bucket holds two parameters: the last layer's bias and weight)
    assert kept["in_place"] == ([False] if cap == 25.0 else [False] + [not as_view] * 4)


@pytest.mark.parametrize("as_view", [False, True])
def test_an_unused_parameter_keeps_an_accumulated_grad(views, as_view):
    unused = views[f"unused-accumulated-view={as_view}"][0]
    assert unused["extra_kept"] and unused["extra"] == [3.0] * 4
    assert unused["shared"] == [6.0] * 4


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-10), ("float32", 1e-5)])
def test_sync_batchnorm_over_two_ranks_equals_batchnorm_over_the_whole_batch(equivalence, dtype, tolerance):
    assert equivalence[f"syncbn-sgd-{dtype}"][0] < tolerance
    # the control: plain BatchNorm under DDP normalises by each rank's half-batch statistics
    assert equivalence[f"control-bn-sgd-{dtype}"][0] > 1e-4


def test_collectives(features):
    assert features["all_reduce"][0] == {"sum": [3.0, -1.0], "mean": [1.5, -0.5], "max": [2.0, 0.0], "min": [1.0, -1.0]}
    assert features["broadcast"] == [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    assert features["all_gather"][0] == [[0, 0], [1, 10]]


def test_no_sync_accumulates_then_the_next_backward_averages(features):
    assert features["no_sync"][0] < 1e-12


def test_unused_parameters(features):
    unused = features["unused"][0]
    assert unused["shared"] == [3.0] * 4  # rank 0's gradient 2, rank 1's 4: averaged
    assert unused["extra"] == [1.0] * 4  # only rank 0 used it (gradient 2): averaged with rank 1's nothing
    assert unused["never"] is True  # no rank used it: .grad stays None, as in PyTorch
    for message in features["unused-strict"]:  # without find_unused_parameters: a clear error on every rank
        assert "never all reduced" in message and "extra.weight" in message and "find_unused_parameters" in message


def test_a_model_converted_after_wrapping_is_a_clear_error(features):
    for message in features["converted-after-wrapping"]:
        assert "is float32, but its bucket was made for float64" in message and "before wrapping" in message


def test_different_architectures_are_a_clear_error_on_every_rank(features):
    messages = features["architecture"]
    assert len(messages) == 2 and messages[0] == messages[1]
    assert "rank 1 differs from rank 0" in messages[0] and "(17, 8)" in messages[0] and "(16, 8)" in messages[0]


def test_each_rank_takes_its_share_of_the_cores_for_blas():
    per_rank = max(1, len(os.sched_getaffinity(0)) // 2)
    blas = results(launch("blas", blas_env=False))["blas"]
    assert len(blas) == 2
    for rank in blas:
        assert rank["set"] == per_rank and rank["threads"] and set(rank["threads"]) == {per_rank}


def test_an_exception_on_one_rank_ends_every_rank_with_its_message():
    proc = launch("raise")
    assert proc.fault_time is not None, proc.stderr
    assert proc.ended - proc.fault_time < 30  # every rank ended within 30 s of the exception
    assert proc.returncode != 0
    assert "ValueError: rank 1 could not read batch 7" in proc.stderr
    assert "MPI_Abort" in proc.stderr


def test_a_killed_rank_ends_the_job():
    proc = launch("kill")
    assert proc.fault_time is not None, proc.stderr
    assert proc.ended - proc.fault_time < 30  # the job ended within 30 s of the SIGKILL
    assert proc.returncode != 0


def test_a_world_larger_than_the_batches_is_a_clear_error():
    proc = launch("too-few-batches")
    assert proc.returncode != 0
    assert "the training loader has 1 batch(es) but the job has 2 ranks" in proc.stderr


def test_a_custom_step_that_skips_the_wrapper_is_caught_at_the_end_of_the_epoch():
    proc = launch("bypass")
    assert proc.returncode != 0
    assert "no longer training one model" in proc.stderr and "self.forward" in proc.stderr


@pytest.fixture(scope="module")
def trainer_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A 2-epoch Trainer run under 2 ranks, in a folder of its own."""
    root = tmp_path_factory.mktemp("trainer")
    return root, launch("trainer", str(root / "straight"), "2")


def test_trainer_shards_averages_writes_one_run_folder_and_resumes_bit_exactly(trainer_run, tmp_path):
    root, proc = trainer_run
    straight = results(proc)
    ranks = [straight["trainer-rank0"][0], straight["trainer-rank1"][0]]
    assert ranks[0]["weights"] == ranks[1]["weights"]  # the replicas are identical (buffers too, after the epoch)
    for r in ranks:  # validation logs averaged over the shards == the whole validation set in one process
        assert r["logged"]["val_loss"] == pytest.approx(r["whole"]["loss"], abs=1e-12)
        assert r["logged"]["val_accuracy"] == pytest.approx(r["whole"]["accuracy"], abs=1e-12)
    assert sorted(p.name for p in root.iterdir()) == ["straight"]  # one run folder
    assert (root / "straight" / "checkpoints" / "last.safetensors").is_file()
    history = json.loads((root / "straight" / "history.json").read_text())
    assert history["epoch"] == [0, 1]

    first = launch("trainer", str(tmp_path / "resumed"), "1")
    assert first.returncode == 0, first.stderr
    resumed = results(launch("trainer", str(tmp_path / "resumed"), "2", str(tmp_path / "resumed")))
    assert resumed["trainer-rank0"][0]["weights"] == ranks[0]["weights"]  # bit-exact


def test_only_rank_zero_prints_and_runs_output_callbacks(trainer_run):
    _, proc = trainer_run
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("stdout of rank") == 2  # before the fit both ranks print
    assert "STDOUT-IN-FIT rank 0" in proc.stdout and "STDOUT-IN-FIT rank 1" not in proc.stdout
    assert "OUTPUT-CALLBACK rank 0" in proc.stderr and "OUTPUT-CALLBACK rank 1" not in proc.stderr
    assert "ALL-RANKS-CALLBACK rank 0" in proc.stderr and "ALL-RANKS-CALLBACK rank 1" in proc.stderr
