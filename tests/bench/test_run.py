"""The workload benchmark runs end to end in --quick mode (a smoke test: no timing is asserted)."""

import numpy as np
import pytest

from bench.run import main
from bench.workloads import SCALING, WORKLOADS, batch, glassnet_step, parse, torch_step


def test_quick_run_reports_speed_and_memory_for_both_systems(capsys):
    results = main(["--quick", "--workloads", "W0"])
    figures = results["W0"]
    assert set(figures) == {"glassnet", "pytorch"}
    assert all(f["steps_per_s"] > 0 and f["peak_mib"] > 0 for f in figures.values())
    # glassnet's worker measured alone (its worker asserts torch was not loaded), then with torch loaded as well
    glassnet = figures["glassnet"]
    assert glassnet["peak_mib_with_torch"] > glassnet["peak_mib"] + 20  # torch's libraries are tens of MiB
    assert "peak_mib_with_torch" not in figures["pytorch"]
    assert "W0" in capsys.readouterr().out


def test_every_workload_builds_and_steps():
    for workload in ("W0", "W1-b8", "W2-b4", "W3-t8", "W4-t8"):  # small sizes of each: the test stays fast
        x, y = batch(workload)
        assert x.dtype == np.float32 or x.dtype.kind == "i"
        assert len(x) == len(y)
        glassnet_step(workload)()


def test_sizes_of_the_scaling_table():
    assert parse("W1") == parse("W1-b128") == ("W1", 128, None)
    assert parse("W3") == parse("W3-t64") == ("W3", 32, 64)
    assert parse("W4-t16") == ("W4", 16, 16)
    assert batch("W1-b32")[0].shape == (32, 784)
    assert batch("W3-t128")[0].shape == (128, 32)
    assert {parse(w)[0] for w in SCALING} == {"W1", "W3"} and set(WORKLOADS) == {"W0", "W1", "W2", "W3", "W4"}
    for bad in ("W9", "W1-t64", "W3-x5", "W2-b"):
        with pytest.raises(KeyError):
            parse(bad)


@pytest.mark.parametrize("workload", ["W3-t8", "W4-t8"])
def test_both_systems_start_from_the_same_loss(workload):
    """The model is written once for both libraries: same data, same architecture, losses near log(65) in both."""
    import torch

    import glassnet as gn
    import glassnet.nn.functional as F
    from bench.workloads import build
    from glassnet import nn

    x, y = batch(workload)
    for lib, nn_, F_ in ((gn, nn, F), (torch, torch.nn, torch.nn.functional)):
        model, loss_fn = build(nn_, F_, workload)
        loss = float(loss_fn(model(lib.tensor(x)), lib.tensor(y)).item())
        assert abs(loss - np.log(65)) < 0.5, (lib.__name__, loss)
    torch_step(workload)()


def test_scaling_shows_each_systems_speed_up_over_one_thread(monkeypatch, capsys):
    import bench.run as run

    def fake(system, workload, min_time, repeats, threads, device="cpu"):  # steps/s proportional to threads
        return {"steps_per_s": 10.0 * threads * (2 if system == "pytorch" else 1), "peak_mib": 100.0}

    monkeypatch.setattr(run, "_spawn", fake)
    monkeypatch.setattr(run.os, "cpu_count", lambda: 4)
    main(["--quick", "--workloads", "W0,W2", "--scaling", "--threads", "2"])
    out = capsys.readouterr().out
    table = out[out.index("speed-up over 1 thread"):].splitlines()
    assert table[1].split() == ["workload", "system", "1", "thr", "2", "thr", "4", "thr"]
    assert table[2].split() == ["W0", "glassnet", "1.00x", "2.00x", "4.00x"]
    assert table[5].split() == ["W2", "pytorch", "1.00x", "2.00x", "4.00x"]


def test_kernels_option_reaches_the_workers(monkeypatch):
    import json

    import bench.run as run

    seen = []

    def fake_run(cmd, env, **kwargs):
        seen.append(env.get("GLASSNET_KERNELS"))
        return type("Done", (), {"stdout": json.dumps({"steps_per_s": 1.0, "peak_mib": 1.0})})()

    monkeypatch.setattr(run.subprocess, "run", fake_run)
    monkeypatch.setenv("GLASSNET_KERNELS", "numpy")
    main(["--quick", "--workloads", "W0", "--kernels", "numba"])
    assert seen == ["numba", "numba"]
    main(["--quick", "--workloads", "W0"])
    assert seen[2:] == ["numpy", "numpy"]  # as the environment says
