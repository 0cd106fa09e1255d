"""bench.cnn_kernels runs (a smoke test: no timing is asserted)."""

from tests.needs import need_module


def test_quick_run_compares_a_kernel_with_its_reference(capsys):
    need_module("numba", "pip install 'glassnet[accel]'")
    from bench.cnn_kernels import main
    from glassnet import kernels

    before = kernels.use(None)
    kernels.use(before)
    results = main(["--quick", "--threads", "1", "--only", "max pool2"])
    (figures,) = results.values()
    assert figures["numpy"][0] > 0 and figures["kernel"][0] > 0 and figures["ratio"][1] > 0
    assert "max pool2" in capsys.readouterr().out
    assert kernels.use(before) is before  # the selection is given back
