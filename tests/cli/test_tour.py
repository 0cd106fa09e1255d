"""The guided tour: `glassnet tour --quick` runs every chapter, writes summary.json, a self-contained tour.html and
a run report (report.html, through glassnet.lens.report)."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import subprocess
import sys

import numpy
import pytest
from needs import need_module

from glassnet.cli import main
from glassnet.tour import CHAPTERS
from glassnet.tour.ch04_backprop import chain_rule_example

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def quick_tour(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour")
    status = main(["tour", "--quick", "--out", str(out)])
    return status, out


def test_quick_tour_exits_cleanly_and_writes_files(quick_tour):
    status, out = quick_tour
    assert status == 0
    assert (out / "summary.json").is_file()
    assert (out / "tour.html").is_file()
    assert (out / "report.html").is_file() and (out / "config.json").is_file()


def test_summary_has_every_chapter(quick_tour):
    _, out = quick_tour
    summary = json.loads((out / "summary.json").read_text())
    assert summary["quick"] is True
    assert [c["number"] for c in summary["chapters"]] == [ch.number for ch in CHAPTERS]
    for rec, ch in zip(summary["chapters"], CHAPTERS):
        assert rec["title"] == ch.title
        if ch.available:
            assert rec["status"] == "ran"
            assert rec["seconds"] >= 0
            assert rec["results"], f"chapter {ch.number} reported no results"
            assert rec["text"]
        else:
            assert rec["status"] == "coming"
            assert rec["coming_with"] == ch.coming_with
    assert summary["total_seconds"] < 60


def test_chapter_results_are_sensible(quick_tour):
    _, out = quick_tour
    by_number = {c["number"]: c.get("results") for c in json.loads((out / "summary.json").read_text())["chapters"]}
    assert by_number[1]["accuracy"] > 0.95                        # one neuron separates separable points
    assert by_number[2]["test_accuracy"] > 0.5
    assert by_number[3]["ce_sure_and_wrong"] > by_number[3]["mse_sure_and_wrong"]
    assert by_number[4]["abs_difference"] < 1e-12
    assert by_number[4]["loss_after_step"] < by_number[4]["loss_before_step"]
    assert by_number[5]["sgd_momentum_final_loss"] < by_number[5]["sgd_final_loss"]
    assert by_number[5]["adam_final_loss"] < by_number[5]["sgd_final_loss"]


def test_html_is_self_contained_and_names_every_chapter(quick_tour):
    _, out = quick_tour
    page = (out / "tour.html").read_text()
    for ch in CHAPTERS:
        assert html.escape(ch.title) in page
    assert not re.search(r"""(src|href)\s*=\s*["']?https?://""", page)
    assert "http://" not in page and "https://" not in page
    assert "<table" in page and "<script" not in page
    assert "Content-Security-Policy" in page.split("</head>")[0]
    assert "font:15px/1.5 system-ui" in page  # the report's style: one stylesheet for both pages


def chapter_sections(page: str) -> dict[int, str]:
    """tour.html's chapter sections by number."""
    return {int(n): body for n, body in re.findall(r"<section id='ch(\d+)'>(.*?)</section>", page, re.S)}


def test_every_chapter_tells_its_story_with_a_picture(quick_tour):
    need_module("matplotlib", "pip install 'glassnet[plots]'")
    _, out = quick_tour
    sections = chapter_sections((out / "tour.html").read_text())
    assert sorted(sections) == [ch.number for ch in CHAPTERS]
    for number, body in sections.items():
        pngs = re.findall(r"src='data:image/png;base64,([^']*)'", body)
        assert pngs, f"chapter {number} has no picture"
        assert all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_numbers_read_one_way_under_human_labels(quick_tour):
    _, out = quick_tour
    summary = json.loads((out / "summary.json").read_text())
    sections = chapter_sections((out / "tour.html").read_text())
    for rec in summary["chapters"]:
        text = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"src='[^']*'", "", sections[rec["number"]])))
        for key in rec["results"]:  # the page speaks words, not the results' snake_case keys
            assert "_" not in key or key not in text, f"chapter {rec['number']} shows the key {key!r}"
        for h in rec["headlines"]:
            assert h["label"] and "_" not in h["label"]
            if h["kind"] == "percent":  # an accuracy is 55.8%, never 0.558
                value = rec["results"][h["key"]]
                assert f"{value:.1%}" in text
                if 0 < value < 1:
                    assert f"{value:.4g}" not in text
    ch6 = next(rec for rec in summary["chapters"] if rec["number"] == 6)
    assert ch6["notes"] and "CNN" in ch6["notes"][0]  # the CNN-against-MLP result is explained, not left bare
    assert ch6["notes"][0] in html.unescape(sections[6])


def test_tour_writes_a_self_contained_run_report(quick_tour):
    _, out = quick_tour
    page = (out / "report.html").read_text(encoding="utf-8")
    ids = re.findall(r"<section id='([a-z]+)'>", page)
    assert {"pictures", "results", "curves", "diagnosis", "config"} <= set(ids)
    for ch in CHAPTERS:  # every chapter has its card in the results section
        assert f"{ch.number}. {html.escape(ch.title)}" in page
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    sources = re.findall(r"<img [^>]*src='([^']*)'", page)
    figures = sorted((out / "artefacts").glob("*.png"))
    assert len(sources) == len(figures)  # every chapter figure, embedded
    assert all(src.startswith("data:image/png;base64,") for src in sources)


def test_chain_rule_product_equals_autograd():
    ex = chain_rule_example()
    product = 1.0
    for _, _, value in ex["local"]:
        product *= value
    assert product == pytest.approx(ex["autograd"], rel=1e-12, abs=1e-15)
    assert ex["product"] == pytest.approx(ex["autograd"], rel=1e-12, abs=1e-15)
    assert [name for name, _, _ in ex["local"]] == ["dL/dy", "dy/dz2", "dz2/dh0", "dh0/dz1_0", "dz1_0/dW1[0,0]"]


def test_python_m_glassnet_runs_chapter_4(tmp_path):
    out = tmp_path / "ch4"
    proc = subprocess.run(
        [sys.executable, "-m", "glassnet", "tour", "--quick", "--chapter", "4", "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "autograd" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    (rec,) = summary["chapters"]
    assert rec["number"] == 4
    assert rec["results"]["chain_rule_product"] == pytest.approx(rec["results"]["autograd_grad"], rel=1e-12)


def test_every_chapter_of_the_table_of_contents_runs():
    from glassnet.tour import CHAPTERS

    assert [c.number for c in CHAPTERS] == list(range(1, 13))
    assert all(c.available for c in CHAPTERS)


def test_unknown_chapter_is_one_line_error(tmp_path, capsys):
    assert main(["tour", "--chapter", "99", "--out", str(tmp_path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown chapter 99" in err[0]
    assert "Traceback" not in err[0]


def test_chapter_6_explains_a_cnn_that_does_not_win():
    from glassnet.tour.ch06_cnn import _explain, shifted

    behind = {"epochs": 15, "cnn_test_accuracy": 0.964, "mlp_test_accuracy": 0.969,
              "cnn_shifted_accuracy": 0.53, "mlp_shifted_accuracy": 0.45}
    text = _explain(behind)
    assert "within 0.5 percentage points" in text and "little for sliding filters" in text
    assert "53.0% against the MLP's 45.0% (8.0 points better)" in text
    text = _explain({**behind, "cnn_shifted_accuracy": 0.40})
    assert "not ahead here (40.0% against 45.0%)" in text
    assert "too few to compare" in _explain({**behind, "epochs": 2}, quick=True)
    image = numpy.arange(16.0).reshape(1, 4, 4)
    assert shifted(image, 1, 0)[0, 0].tolist() == [0, 0, 1, 2]  # moved right, the border filled with 0
    assert shifted(image, 0, -1)[0, -1].tolist() == [0, 0, 0, 0]


def test_without_matplotlib_the_tour_tells_the_same_story_without_pictures(tmp_path, monkeypatch):
    from glassnet.tour import run_tour

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # an install without glassnet[plots]
    lines: list[str] = []
    summary = run_tour(chapters=[1, 4], quick=True, out=tmp_path, say=lines.append)
    page = (tmp_path / "tour.html").read_text()
    assert [rec["figures"] for rec in summary["chapters"]] == [[], []]
    assert "<img" not in page and "accuracy of the trained neuron" in page and "XOR solved" in page
    assert (tmp_path / "report.html").is_file()
