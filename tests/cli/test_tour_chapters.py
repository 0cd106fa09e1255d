"""Tour chapters 7 (LSTM), 8 (overfitting), 9 (GAN) and 10 (attention), each run in quick mode through the CLI."""

from __future__ import annotations

import contextlib
import io
import json
import math
from unittest import mock

import pytest

from glassnet.cli import main


@pytest.fixture(scope="module")
def quick_chapters(tmp_path_factory):
    """Run chapters 7-10 once, quick, through `glassnet tour`, as if a person watched a terminal (progress bars
    on); keep the printed output, what went to stderr and the summary."""
    out = tmp_path_factory.mktemp("tour_chapters")
    printed, bars = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(bars), \
            mock.patch("glassnet.tour.interactive", lambda: True):
        status = main(["tour", "--quick", "--chapter", "7", "--chapter", "8", "--chapter", "9", "--chapter", "10",
                       "--out", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    return status, {c["number"]: c for c in summary["chapters"]}, printed.getvalue(), bars.getvalue()


def test_chapters_ran(quick_chapters):
    status, chapters, _, _ = quick_chapters
    assert status == 0
    assert sorted(chapters) == [7, 8, 9, 10]
    for rec in chapters.values():
        assert rec["status"] == "ran"
        assert rec["results"]
        assert rec["seconds"] < 60  # a bound against a runaway loop; speed is measured outside the tests


def test_lstm_loss_falls_and_it_writes(quick_chapters):
    _, chapters, printed, _ = quick_chapters
    r = chapters[7]["results"]
    assert r["initial_loss"] == pytest.approx(math.log(r["vocab_size"]), abs=0.3)
    assert r["final_loss"] < r["initial_loss"] - 0.5
    assert len(r["sample"]) == 200
    assert "nats/char" in printed


def test_overfitting_shows_a_gap(quick_chapters):
    _, chapters, _, _ = quick_chapters
    r = chapters[8]["results"]
    assert r["train_examples"] == 500
    for key in ("none", "l2", "dropout", "early_stopping"):
        assert 0.5 < r[f"{key}_best_val_accuracy"] <= 1.0
        assert r[f"{key}_train_accuracy"] >= r[f"{key}_final_val_accuracy"]
    assert r["none_gap"] > 0.05  # 500 images and a big MLP: the gap is real
    assert r["early_stopping_epochs_run"] <= r["epochs"]


def test_gan_reports_mode_coverage(quick_chapters):
    _, chapters, _, _ = quick_chapters
    r = chapters[9]["results"]
    assert 0 <= r["modes_covered"] <= 8
    assert 0.0 <= r["fraction_within_3std"] <= 1.0
    assert len(r["samples_per_mode"]) == 8
    assert sum(r["samples_per_mode"]) <= 1000


def test_attention_reports_accuracy_and_table(quick_chapters):
    _, chapters, printed, _ = quick_chapters
    r = chapters[10]["results"]
    assert 0.0 <= r["digit_accuracy"] <= 1.0
    assert r["digit_accuracy"] > 0.5
    assert len(r["attention_argmax"]) == 8
    assert "attends most to input pos" in printed
    titles = [t["title"] for t in chapters[10]["tables"]]
    assert any("attends to most" in t for t in titles)


def test_long_chapters_show_progress_bars_not_lines(quick_chapters):
    _, _, printed, bars = quick_chapters
    for desc in ("chapter 7: LSTM", "chapter 8: four ways", "chapter 9: GAN", "chapter 10: attention"):
        assert f"{desc}:" in bars and "%|" in bars.split(f"{desc}:", 1)[1][:200], f"no progress bar for {desc}"
    assert "modes covered" in bars  # the bar carries the live numbers
    assert not [line for line in printed.splitlines() if line.lstrip().startswith("step ") and ":" in line]


def test_each_result_is_printed_once(quick_chapters):
    _, chapters, printed, _ = quick_chapters
    gan_output = printed.split("Chapter 9:", 1)[1].split("Chapter 10:", 1)[0]
    final = chapters[9]["results"]["fraction_within_3std"]
    assert gan_output.count(f"{final:.1%}") == 1  # the final coverage: in the table, not again in a closing line


def test_progress_is_silent_when_nobody_watches(capsys):
    from glassnet.tour import progress

    assert list(progress(range(3), desc="quiet")) == [0, 1, 2]
    assert capsys.readouterr().err == ""  # pytest captures stderr: not a terminal
