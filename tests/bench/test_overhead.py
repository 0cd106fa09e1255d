"""The overhead benchmark runs end to end in --quick mode (a smoke test: no timing is asserted)."""

from bench.overhead import main


def test_overhead_benchmark_quick_mode_reports_every_system(capsys):
    results = main(["--quick"])
    ratios = results.pop("ratios")
    assert set(results) == {"2x2 a + b", "2x2 tanh", "W0 step"}
    assert set(ratios) == set(results) | {"W0 compiled"}
    assert all(len(r) == 1 and r[0] > 0 for r in ratios.values())
    for name, figures in results.items():
        assert set(figures) == {"numpy", "glassnet", "pytorch"} | ({"compiled"} if name == "W0 step" else set())
        assert all(v > 0 for v in figures.values())
    out = capsys.readouterr().out
    assert "glassnet/PyTorch" in out and "compiled/PyTorch" in out
