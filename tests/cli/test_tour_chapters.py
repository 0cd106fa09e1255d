"""Tour chapters 7 (LSTM), 8 (overfitting), 9 (GAN) and 10 (attention), each run in quick mode through the CLI."""

from __future__ import annotations

import contextlib
import io
import json
import math

import pytest

from glassnet.cli import main


@pytest.fixture(scope="module")
def quick_chapters(tmp_path_factory):
    """Run chapters 7-10 once, quick, through `glassnet tour`; keep the printed output and the summary."""
    out = tmp_path_factory.mktemp("tour_chapters")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["tour", "--quick", "--chapter", "7", "--chapter", "8", "--chapter", "9", "--chapter", "10",
                       "--out", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    return status, {c["number"]: c for c in summary["chapters"]}, printed.getvalue()


def test_chapters_ran(quick_chapters):
    status, chapters, _ = quick_chapters
    assert status == 0
    assert sorted(chapters) == [7, 8, 9, 10]
    for rec in chapters.values():
        assert rec["status"] == "ran"
        assert rec["results"]
        assert rec["seconds"] < 15


def test_lstm_loss_falls_and_it_writes(quick_chapters):
    _, chapters, printed = quick_chapters
    r = chapters[7]["results"]
    assert r["initial_loss"] == pytest.approx(math.log(r["vocab_size"]), abs=0.3)
    assert r["final_loss"] < r["initial_loss"] - 0.5
    assert len(r["sample"]) == 200
    assert "nats/char" in printed


def test_overfitting_shows_a_gap(quick_chapters):
    _, chapters, _ = quick_chapters
    r = chapters[8]["results"]
    assert r["train_examples"] == 500
    for key in ("none", "l2", "dropout", "early_stopping"):
        assert 0.5 < r[f"{key}_best_val_accuracy"] <= 1.0
        assert r[f"{key}_train_accuracy"] >= r[f"{key}_final_val_accuracy"]
    assert r["none_gap"] > 0.05  # 500 images and a big MLP: the gap is real
    assert r["early_stopping_epochs_run"] <= r["epochs"]


def test_gan_reports_mode_coverage(quick_chapters):
    _, chapters, _ = quick_chapters
    r = chapters[9]["results"]
    assert 0 <= r["modes_covered"] <= 8
    assert 0.0 <= r["fraction_within_3std"] <= 1.0
    assert len(r["samples_per_mode"]) == 8
    assert sum(r["samples_per_mode"]) <= 1000


def test_attention_reports_accuracy_and_table(quick_chapters):
    _, chapters, printed = quick_chapters
    r = chapters[10]["results"]
    assert 0.0 <= r["digit_accuracy"] <= 1.0
    assert r["digit_accuracy"] > 0.5
    assert len(r["attention_argmax"]) == 8
    assert "attends most to input pos" in printed
    titles = [t["title"] for t in chapters[10]["tables"]]
    assert any("attends to most" in t for t in titles)
