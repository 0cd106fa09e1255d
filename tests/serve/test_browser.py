"""The dashboard in a real browser: Debian's Chromium driven by Playwright (never a downloaded browser).

The runs list, a run's charts with the right number of points, two runs compared, a run named like an XSS attack
shown as text, and a real `glassnet train` in a subprocess whose loss series grows on the open page without a
reload (and turns "crashed" when the process is killed). No console errors, no failed requests anywhere.
Set GLASSNET_SCREENSHOT=docs/serve-run.png to refresh the README's screenshot.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from needs import need_module, need_program

need_module("starlette", "pip install 'glassnet[serve]'")
need_module("uvicorn", "pip install 'glassnet[serve]'")
sync_api = need_module(
    "playwright.sync_api", "pip install playwright (never `playwright install`: the tests use the system Chromium)"
)

from serve_helpers import XSS_NAME, running_server, tour_like_run, trainer_run, writer_run  # noqa: E402

from glassnet.train import SummaryWriter  # noqa: E402

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    chromium = need_program("chromium", "apt-get install chromium")
    runs = tmp_path_factory.mktemp("browser-runs")
    trainer_run(runs, "trainer", epochs=3)
    trainer_run(runs, "trainer-b", epochs=4, seed=1)
    trainer_run(runs, "one-epoch", epochs=1, seed=2)
    with SummaryWriter(runs / "small-values") as writer:  # a decaying learning rate: ticks 0.0005 apart
        for step, lr in enumerate([0.002, 0.0015, 0.001, 0.0005, 0.0003]):
            writer.add_scalar("lr", lr, step)
    writer_run(runs, XSS_NAME, points=7, hostile=True)
    writer_run(runs, "long", points=5000)
    tour_like_run(runs)
    problems: list[str] = []
    dialogs: list[str] = []
    with running_server(runs) as handle, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on(
            "requestfailed",
            lambda r: (
                problems.append(f"failed: {r.url}")
                if not r.url.endswith("/events") and "/events?" not in r.url
                else None
            ),
        )
        page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        try:
            yield {
                "browser": browser,
                "page": page,
                "url": handle.url,
                "runs": runs,
                "problems": problems,
                "dialogs": dialogs,
            }
        finally:
            browser.close()


def open_page(site, path: str):
    page = site["page"]
    page.goto(site["url"] + path.lstrip("/"))
    page.wait_for_selector("body[data-ready]", timeout=10_000)
    return page


def points(page, chart: str) -> dict[str, int]:
    text = page.get_attribute(f'.chart[data-chart="{chart}"]', "data-points")
    return json.loads(text) if text else {}


def test_the_runs_list_shows_the_runs(site):
    page = open_page(site, "/")
    page.wait_for_selector('tr[data-run="trainer"]')
    names = page.locator("#runs tbody td.name").all_inner_texts()
    expected = ["trainer", "trainer-b", "one-epoch", "small-values", XSS_NAME, "long", "tour-quick"]
    assert sorted(names) == sorted(expected)
    row = page.locator('tr[data-run="trainer"]')
    assert "finished" in row.inner_text() and "3 / 3" in row.inner_text()
    page.fill("#filter", "b")
    assert page.locator("#runs tbody tr").count() == 1


def test_a_run_draws_its_charts_with_every_point(site):
    page = open_page(site, "/run/trainer")
    page.wait_for_selector('.chart[data-chart="loss"] canvas')
    # 3 epochs x 4 batches logged every step; the batch loss is drawn raw and smoothed
    assert points(page, "loss") == {"batch_loss (raw)": 12, "batch_loss": 12, "loss": 3, "val_loss": 3}
    assert points(page, "accuracy") == {"accuracy": 3, "val_accuracy": 3}
    page.wait_for_selector('.chart[data-chart="activation mean"] canvas')
    assert points(page, "activation mean") == {"0": 6, "1": 6, "2": 6}
    assert page.locator(".heatmap canvas").count() >= 6
    assert page.locator("#config").inner_text().count("toy") >= 1
    page.select_option("#xaxis", "epoch")
    page.check("#logscale")
    page.wait_for_timeout(200)
    assert points(page, "loss")["val_loss"] == 3


COLOURED_PIXELS = """(box) => {
  const canvas = box.querySelector("canvas");
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let coloured = 0;  // the series' colours; the axes, grid and labels are grey or black
  for (let i = 0; i < pixels.length; i += 4) {
    const [r, g, b, a] = [pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]];
    if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured += 1;
  }
  return coloured;
}"""


def test_a_series_with_one_point_is_drawn_as_a_dot(site):
    page = open_page(site, "/run/one-epoch")
    page.wait_for_selector('.chart[data-chart="accuracy"] canvas')
    assert points(page, "accuracy") == {"accuracy": 1, "val_accuracy": 1}  # one epoch: no line to draw
    assert json.loads(page.get_attribute('.chart[data-chart="accuracy"]', "data-dots")) == ["accuracy", "val_accuracy"]
    assert page.eval_on_selector('.chart[data-chart="accuracy"]', COLOURED_PIXELS) > 20
    long = open_page(site, "/run/long")
    long.wait_for_selector('.chart[data-chart="loss"] canvas')
    assert json.loads(long.get_attribute('.chart[data-chart="loss"]', "data-dots")) == []  # dense: lines only


def test_small_values_keep_their_digits_on_the_axis_and_in_the_legend(site):
    page = open_page(site, "/run/small-values")
    page.wait_for_selector('.chart[data-chart="lr"] canvas')
    ticks = page.eval_on_selector('.chart[data-chart="lr"]', "(box) => box.lineChart.plot.axes[1]._values")
    # three decimals (uPlot's default) made 0.0015 and 0.0005 "0.002" and "0.001", next to the real ones
    assert len(ticks) >= 3 and len(set(ticks)) == len(ticks), ticks
    assert all(float(t) == round(float(t), 6) for t in ticks) and "0.0005" in ticks, ticks
    box = page.locator('.chart[data-chart="lr"] .u-over').bounding_box()
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)  # hover the last point, lr = 0.0003
    page.wait_for_function(
        """() => [...document.querySelectorAll('.chart[data-chart="lr"] .u-legend .u-value')]
                 .some((v) => v.textContent === "3.000e-4")"""
    )


def test_two_runs_compared(site):
    page = open_page(site, "/")
    page.wait_for_selector('tr[data-run="trainer-b"]')
    page.check('tr[data-run="trainer"] input[type=checkbox]')
    page.check('tr[data-run="trainer-b"] input[type=checkbox]')
    page.click("#compare")
    page.wait_for_selector("body[data-ready]")
    page.wait_for_selector('.chart[data-chart="loss"] canvas')
    drawn = points(page, "loss")
    assert drawn["trainer: val_loss"] == 3 and drawn["trainer-b: val_loss"] == 4
    assert drawn["trainer-b: batch_loss"] == 16


def test_zooming_fetches_full_resolution(site):
    page = open_page(site, "/run/long")
    page.wait_for_selector('.chart[data-chart="loss"] canvas')
    overview = points(page, "loss")["loss"]
    assert 1000 < overview <= 2000  # 5,000 points downsampled on the server for the overview
    box = page.locator('.chart[data-chart="loss"] .u-over').bounding_box()
    y = box["y"] + box["height"] / 2
    with page.expect_response(lambda r: "xmin=" in r.url) as answer:
        page.mouse.move(box["x"] + box["width"] * 0.2, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.3, y, steps=4)
        page.mouse.up()
    zoomed = answer.value.json()["series"]["loss"]["step"]
    assert zoomed == list(range(zoomed[0], zoomed[-1] + 1)) and 200 < len(zoomed) < 1000  # every point: no gaps
    for _ in range(50):
        if points(page, "loss")["loss"] == len(zoomed):
            break
        page.wait_for_timeout(50)
    assert points(page, "loss")["loss"] == len(zoomed)
    page.dblclick('.chart[data-chart="loss"] .u-over')
    page.wait_for_timeout(200)
    assert points(page, "loss")["loss"] == overview


def test_a_tour_folder_shows_its_chapters_and_pictures(site):
    page = open_page(site, "/run/tour-quick")
    page.wait_for_selector("#pictures img")
    assert "1. A neuron" in page.locator("#tour").inner_text()
    page.wait_for_function("() => document.querySelector('#pictures img').complete")
    size = page.evaluate(
        "() => [document.querySelector('#pictures img').naturalWidth, "
        "document.querySelector('#pictures img').naturalHeight]"
    )
    assert size == [30, 20]


def test_a_hostile_run_name_is_shown_as_text(site):
    page = open_page(site, "/")
    page.wait_for_selector("#runs tbody tr")
    assert XSS_NAME in page.locator("#runs tbody").inner_text()
    page = open_page(site, "/run/" + quote(XSS_NAME, safe=""))
    page.wait_for_selector('.chart[data-chart="loss"] canvas')
    assert page.locator("h1#title").inner_text() == XSS_NAME
    assert page.locator("pre.text").inner_text() == "<script>alert(1)</script>"
    assert XSS_NAME in page.locator(".chart h3").all_inner_texts()  # a series named so
    assert XSS_NAME in page.locator("#config").inner_text()  # a configuration value
    assert page.evaluate("document.querySelectorAll('img[src=x], main script').length") == 0
    assert site["dialogs"] == []


def test_a_running_glassnet_train_grows_on_the_open_page(site, tmp_path):
    runs = site["runs"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "OPENBLAS_NUM_THREADS": "1",
    }
    command = [sys.executable, "-m", "glassnet", "train", "gan-ring", "--epochs", "20", "--out", str(runs / "live")]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (runs / "live" / "scalars.jsonl").exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the run wrote nothing in 60 s"
            time.sleep(0.1)
        page = open_page(site, "/run/live")
        page.evaluate("window.notReloaded = true")
        page.wait_for_selector('.chart[data-chart="loss"] canvas')
        seen = [points(page, "loss").get("batch_loss", 0)]
        assert "running" in page.locator("#facts").inner_text()
        deadline = time.monotonic() + 30
        while len(set(seen)) < 3 and time.monotonic() < deadline:  # two updates of the open page
            page.wait_for_timeout(250)
            seen.append(points(page, "loss").get("batch_loss", 0))
        assert len(set(seen)) >= 3 and seen == sorted(seen), seen
        assert page.evaluate("window.notReloaded") is True
        if os.environ.get("GLASSNET_SCREENSHOT"):
            shutil.copy(screenshot_of(site, tmp_path), REPO / os.environ["GLASSNET_SCREENSHOT"])
    finally:
        proc.terminate()  # cut the run short: its status must turn to "crashed"
        proc.wait(10)
    deadline = time.monotonic() + 10  # (wait_for_function would evaluate a string: the page's CSP forbids it)
    while "crashed" not in page.locator("#facts").inner_text() and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert "crashed" in page.locator("#facts").inner_text()
    assert page.evaluate("window.notReloaded") is True


def screenshot_of(site, tmp_path) -> Path:
    """The README's picture: the trainer run's page (curves, diagnosis, layers), in a second tab."""
    page = site["browser"].new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(site["url"] + "run/trainer")
        page.wait_for_selector('.chart[data-chart="activation mean"] canvas')
        page.wait_for_timeout(300)
        path = tmp_path / "serve-run.png"
        page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": 1400, "height": 1500}, full_page=True)
    finally:
        page.close()
    return path


def test_no_console_errors_or_failed_requests(site):
    assert site["problems"] == []
