"""bench.ab: two glassnet trees and PyTorch take turns on a workload; every system and ratio is reported."""

from pathlib import Path

from bench import ab

ROOT = Path(__file__).resolve().parents[2]


def test_ab_reports_both_trees_pytorch_and_the_ratios(capsys):
    ab.main([str(ROOT), str(ROOT), "--workloads", "W0", "--rounds", "2", "--seconds", "0.05"])
    out = capsys.readouterr().out
    for name in ("before", "after", "pytorch"):
        assert f"W0 {name} " in out
    assert "speed-up after/before (CPU): median" in out
    assert out.count("/ PyTorch (above 1: glassnet faster) (CPU): median") == 2


def test_ab_names_a_worker_that_stops(tmp_path):
    broken = tmp_path / "bench"
    broken.mkdir()
    (broken / "__init__.py").write_text("")
    (broken / "workloads.py").write_text("raise SystemExit(3)\n")
    try:
        ab.compare({"after": (tmp_path, "glassnet")}, "W0", 1, 1, 1)
    except RuntimeError as e:
        assert "the after worker on W0 stopped" in str(e)
    else:
        raise AssertionError("a stopped worker went unnoticed")


def test_ab_ratio_lines_read_the_chosen_clock(capsys):
    times = {"before": [(10.0, 6.0)], "after": [(12.0, 5.0)], "pytorch": [(8.0, 4.0)]}
    ab.report("W9", times, threads=2)
    out = capsys.readouterr().out
    assert "speed-up after/before (wall): median 1.200" in out
    ab.report("W9", times, threads=1)
    assert "speed-up after/before (CPU): median 0.833" in capsys.readouterr().out
