"""The overhead benchmark runs end to end in --quick mode (a smoke test: no timing is asserted)."""

from bench.overhead import main


def test_overhead_benchmark_quick_mode_reports_every_system(capsys):
    results = main(["--quick"])
    ratios = results.pop("ratios")
    assert set(results) == set(ratios) == {"2x2 a + b", "2x2 tanh", "W0 step"}
    assert all(len(r) == 1 and r[0] > 0 for r in ratios.values())
    for figures in results.values():
        assert set(figures) == {"numpy", "glassnet", "pytorch"}
        assert all(v > 0 for v in figures.values())
    assert "glassnet/PyTorch" in capsys.readouterr().out
