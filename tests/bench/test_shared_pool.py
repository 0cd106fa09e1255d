"""bench.shared_pool runs its OpenBLAS arrangement end to end (the MKL one needs the `mkl` wheel: not in CI)."""

from tests.needs import need_module


def test_shared_pool_reports_the_openblas_loop_and_says_why_mkl_is_missing(capsys):
    need_module("numba", "pip install 'glassnet[accel]'")
    from bench.shared_pool import main

    results = main(["--rounds", "1", "--loops", "2", "--threads", "1", "--mkl", ""])
    assert list(results) == ["openblas"] and results["openblas"][0]["ms"] > 0
    out = capsys.readouterr().out
    assert "no `shared` row" in out and "openblas" in out
