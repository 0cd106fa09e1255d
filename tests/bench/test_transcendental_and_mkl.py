"""bench.transcendental and bench.small_gemm run, check every candidate against NumPy before timing it, and say in
a line which optional libraries (numexpr, MKL) they left out. No timing is asserted."""

import pytest

from bench import mkl, small_gemm, transcendental


def test_transcendental_times_numpy_and_pytorch_on_both_sizes(capsys):
    results = transcendental.main(["--rounds", "1", "--seconds", "0.001", "--mkl", ""])
    assert set(results) == set(transcendental.SIZES)
    for figures in results.values():
        for name in ("exp  NumPy", "exp  PyTorch", "tanh NumPy", "tanh PyTorch"):
            cpu, wall = figures[name]
            assert cpu > 0 and wall > 0
    out = capsys.readouterr().out
    assert "no MKL VML rows" in out and "ns/element" in out


def test_a_candidate_that_computes_the_wrong_thing_is_refused(monkeypatch):
    import numpy as np

    monkeypatch.setattr(np, "tanh", lambda x, out=None: np.exp(x, out=out))  # "tanh" now answers exp
    with pytest.raises(AssertionError, match="tanh"):
        transcendental.candidates((4, 8), threads=1)


def test_mkl_is_found_only_where_it_is(tmp_path, monkeypatch):
    monkeypatch.setattr(mkl.sys, "prefix", str(tmp_path))
    assert mkl.find() is None and mkl.load() is None  # no wheel here: the benchmarks leave the MKL rows out
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "libmkl_rt.so.3").write_bytes(b"")
    assert mkl.find() == str(tmp_path / "lib" / "libmkl_rt.so.3")
    assert mkl.find("/somewhere/libmkl_rt.so.2") == "/somewhere/libmkl_rt.so.2"
    assert mkl.find("") is None and mkl.load("") is None  # --mkl "": leave MKL out even where the wheel is


def test_small_gemm_candidates_without_mkl_are_the_numpy_scipy_and_pytorch_ones():
    names = list(small_gemm.candidates(batch=4, hidden=8, steps=2))
    assert not any("MKL" in n for n in names)
    assert {n.split()[1] for n in names} == {"NumPy", "SciPy", "PyTorch"}
