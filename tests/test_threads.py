"""The thread policy: one BLAS thread by default, `gn.set_num_threads`/`gn.get_num_threads`, the user's choice kept."""

import os
import subprocess
import sys

import pytest

import glassnet as gn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _threads_in_fresh_process(**env: str) -> int:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GLASSNET_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    }
    clean["PYTHONPATH"] = ROOT + os.pathsep + clean.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", "import glassnet as gn; print(gn.get_num_threads())"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(out.stdout.strip())


def test_default_is_one_thread_and_the_users_choice_wins():
    assert _threads_in_fresh_process() == gn.threads.DEFAULT_NUM_THREADS == 1
    assert _threads_in_fresh_process(GLASSNET_NUM_THREADS="2") == 2
    assert _threads_in_fresh_process(OPENBLAS_NUM_THREADS="2") == 2  # left as the library read it


def test_set_and_get_num_threads():
    before = gn.get_num_threads()
    try:
        gn.set_num_threads(2)
        assert gn.get_num_threads() == 2
        gn.set_num_threads(1)
        assert gn.get_num_threads() == 1
    finally:
        gn.set_num_threads(before)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="set_num_threads: expected a positive int"):
            gn.set_num_threads(bad)
    assert gn.get_num_threads() == before  # a refused value changes nothing
