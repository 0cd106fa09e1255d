"""The serve scale benchmark runs end to end in --quick mode (a smoke test: no timing is asserted)."""

from needs import need_module, need_program

from bench.serve_scale import main


def test_serve_scale_quick_mode_measures_everything(capsys):
    need_module("starlette", "pip install 'glassnet[serve]'")
    need_module("playwright.sync_api", "pip install playwright")
    need_program("chromium", "apt-get install chromium")
    figures = main(["--quick"])
    assert figures["runs_listed"] == 10 and figures["page_errors"] == []
    # 2 epochs of 990 batch points: under the 2,000-point overview, so every point is drawn
    assert figures["overview_points"]["batch_loss"] == 1980 and figures["overview_points"]["loss"] == 2
    assert 0 < figures["zoomed_points"]["batch_loss"] < 1980  # the zoomed range only
    assert all(figures[k] > 0 for k in ("serve_start_s", "runs_list_median_ms", "page_median_ms", "zoom_ms"))
    assert "runs_list_median_ms" in capsys.readouterr().out
