"""The workload benchmark runs end to end in --quick mode (a smoke test: no timing is asserted)."""

import numpy as np

from bench.run import main
from bench.workloads import WORKLOADS, batch, glassnet_step


def test_quick_run_reports_speed_and_memory_for_both_systems(capsys):
    results = main(["--quick", "--workloads", "W0"])
    figures = results["W0"]
    assert set(figures) == {"glassnet", "pytorch"}
    assert all(f["steps_per_s"] > 0 and f["peak_mib"] > 0 for f in figures.values())
    assert "W0" in capsys.readouterr().out


def test_every_workload_builds_and_steps():
    for workload in WORKLOADS:
        x, _ = batch(workload)
        assert x.dtype == np.float32
        glassnet_step(workload)()
