"""Tour chapters 11 (transfer learning) and 12 (saliency), each run once in quick mode."""

from __future__ import annotations

import pytest
from needs import need_module

import glassnet as gn
from glassnet.tour import ch11_transfer, ch12_saliency


def _run(chapter):
    lines: list[str] = []
    gn.manual_seed(0)
    return chapter.run(quick=True, say=lines.append), "\n".join(lines)


@pytest.fixture(scope="module")
def transfer():
    return _run(ch11_transfer)


@pytest.fixture(scope="module")
def saliency_chapter():
    return _run(ch12_saliency)


@pytest.mark.parametrize("chapter", [ch11_transfer, ch12_saliency])
def test_chapter_contract(chapter):
    assert chapter.TITLE and len(chapter.TEXT.split()) > 40
    assert callable(chapter.run)


def test_transfer_pretrains_then_learns_new_digits(transfer):
    outcome, printed = transfer
    r = outcome["results"]
    assert r["pretrain_accuracy"] > 0.6                      # 5 classes: chance is 0.2
    (shots,) = r["shots"]
    for method in ("frozen", "scratch", "random_features"):
        assert 0.3 < r[f"{method}_accuracy_{shots}"] <= 1.0  # well above chance on digits never seen in pretraining
    assert r["trainable_params_frozen"] < r["params_scratch"] / 2
    (table,) = outcome["tables"]
    assert len(table["rows"]) == 1 and len(table["rows"][0]) == len(table["columns"])
    assert "pretrained frozen + new head" in printed and "from scratch" in printed


def test_saliency_points_at_the_digit(saliency_chapter):
    outcome, printed = saliency_chapter
    r = outcome["results"]
    assert r["test_accuracy"] > 0.5
    assert 0.0 < r["ink_fraction"] < 1.0
    assert r["saliency_on_ink"] > r["ink_fraction"]          # saliency concentrates on the strokes
    assert r["prob_without_top10_salient"] < r["prob_without_random10"] <= r["prob_intact"] + 0.05
    assert "most salient" in printed


def test_saliency_returns_figures(saliency_chapter):
    need_module("matplotlib", "pip install 'glassnet[plots]'")
    outcome, _ = saliency_chapter
    titles = [f["title"] for f in outcome["figures"]]
    assert len(titles) == 2 and titles[0].startswith("saliency") and titles[1].startswith("Grad-CAM")
    from glassnet.lens.plots import figure_to_png_bytes

    for fig in outcome["figures"]:  # matplotlib figures (a notebook shows them as they are), drawn as PNG here
        assert figure_to_png_bytes(fig["figure"])[:8] == b"\x89PNG\r\n\x1a\n"
