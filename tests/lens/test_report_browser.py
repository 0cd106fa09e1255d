"""The report in a real browser: headless Chromium (system /usr/bin/chromium driven by playwright) renders it
without console errors, every section is visible and every image decodes."""

from __future__ import annotations

import pytest
from needs import need_module, need_program
from test_report import SECTIONS, make_run

from glassnet.lens.report import report


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    need_module("matplotlib", "pip install 'glassnet[plots]'")
    sync_api = need_module("playwright.sync_api", "pip install playwright (never `playwright install`: it uses the "
                                                  "system Chromium)")
    chromium = need_program("chromium", "apt-get install chromium")
    run_path, _ = make_run(tmp_path_factory.mktemp("browser-runs"), epochs=3)
    page_path = report(run_path)
    messages: list[tuple[str, str]] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: messages.append((m.type, m.text)))
            page.on("pageerror", lambda err: messages.append(("pageerror", str(err))))
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            visible = {s: page.locator(f"section#{s}").is_visible() for s in SECTIONS}
            images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
            heading = page.locator("h1").inner_text()
            page.screenshot(path=str(tmp_path_factory.getbasetemp() / "report.png"), full_page=True)
        finally:
            browser.close()
    return {"messages": messages, "visible": visible, "images": images, "heading": heading,
            "run": run_path}


def test_no_console_errors(browser_page):
    errors = [m for m in browser_page["messages"] if m[0] in ("error", "pageerror")]
    assert errors == []


def test_every_section_is_visible(browser_page):
    assert browser_page["visible"] == {s: True for s in SECTIONS}
    assert browser_page["heading"] == browser_page["run"].name


def test_every_image_decodes(browser_page):
    images = browser_page["images"]
    assert len(images) >= 3  # curves, gradient flow, confusion matrix (+ artefacts)
    for complete, width, alt in images:
        assert complete and width > 0, f"image {alt!r} did not decode"


def test_a_tour_chapter_card_holds_its_table(tmp_path):
    """Chapter 8's many results (long keys, no headlines: an older summary.json) stay inside their card."""
    sync_api = need_module("playwright.sync_api", "pip install playwright")
    chromium = need_program("chromium", "apt-get install chromium")
    results = {"train_examples": 500, "val_examples": 1000, "epochs": 50}
    for key in ("none", "l2", "dropout", "early_stopping"):
        results.update({f"{key}_best_val_accuracy": 0.8431, f"{key}_final_val_accuracy": 0.8312,
                        f"{key}_train_accuracy": 1.0, f"{key}_gap": 0.1688,
                        f"{key}_val_loss_turns_up_after_epoch": 7, f"{key}_test_accuracy": 0.8375,
                        f"{key}_epochs_run": 50})
    chapters = [{"number": n, "title": f"Chapter {n}", "status": "ran", "seconds": 1.5, "results": results}
                for n in (7, 8, 9)]
    (tmp_path / "config.json").write_text('{"run": "glassnet tour"}')
    (tmp_path / "summary.json").write_text(__import__("json").dumps({"chapters": chapters}))
    page_path = report(tmp_path)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            cards = page.evaluate("Array.from(document.querySelectorAll('.chapter'))"
                                  ".map(c => [c.scrollWidth, c.clientWidth])")
        finally:
            browser.close()
    assert len(cards) == 3
    assert all(scroll <= client for scroll, client in cards), cards
