"""bench.threads and bench.dataloader run end to end in --quick mode (smoke tests: no timing is asserted)."""

import glassnet as gn
from bench import dataloader, threads


def test_threads_bench_quick(capsys):
    before = gn.get_num_threads()
    assert threads.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "| quiet | W0 steps/s |" in out and "| busy | W1-b16 steps/s |" in out
    assert threads.last_hog is not None and threads.last_hog.poll() is not None  # the busy process was stopped
    gn.set_num_threads(before)


def test_dataloader_bench_quick(capsys):
    assert dataloader.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "| decoded + augmented |" in out and "| in memory (TensorDataset) |" in out
