"""`glassnet serve` at scale: a runs folder of 200 runs, one of them with 100,000 logged points.

    python -m bench.serve_scale                 # build the folder in a temporary directory, measure, print
    python -m bench.serve_scale --keep DIR      # build (or reuse) the runs folder in DIR
    python -m bench.serve_scale --quick         # smoke test: 10 runs, 2,000 points in the big one

Measures (targets from the issue in brackets):
  - `glassnet serve` start: from launching the command to the first answered request          [< 2 s]
  - GET /api/runs with 200 runs: the first request (nothing cached) and the median of 20 more   [< 200 ms]
  - GET the big run's overview (/scalars?max_points=2000): first and median, and its size
  - the big run's page in Chromium: navigation start to the charts drawn (`body[data-ready]`),
    first visit and median of 5 reloads                                                          [< 1 s]
  - zoom: a drag across the loss chart until the full-resolution points of that range are drawn
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
RUNS, SMALL_EPOCHS = 200, 20


def build(root: Path, runs: int = RUNS, big_epochs: int = 100) -> None:
    """runs - 1 small finished runs (20 epochs, batch losses every 10 steps) and a big one with 1,000 points an
    epoch (990 batch points, 10 epoch points): 100,000 points with the default 100 epochs."""
    from glassnet.train.runlog import RunLog

    rng = random.Random(0)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(runs - 1):
        path = root / f"run-{i:03d}"
        (path).mkdir(exist_ok=True)
        (path / "config.json").write_text(json.dumps({"recipe": "mlp-digits", "model": "Sequential", "lr": 1e-3}))
        log = RunLog.open(path)
        step = 0
        for epoch in range(SMALL_EPOCHS):
            for _ in range(10):
                step += 10
                log.scalar("batch_loss", 2.0 / (1 + step / 100) + rng.random() * 0.05, step, epoch=epoch + 0.1)
            log.scalar("loss", 2.0 / (1 + step / 100), step, epoch=epoch + 1)
            log.scalar("val_loss", 2.1 / (1 + step / 100), step, epoch=epoch + 1)
            log.write_status(epochs=epoch + 1)
        log.finish()
        log.close()
    big = root / "big"
    big.mkdir(exist_ok=True)
    (big / "config.json").write_text(json.dumps({"recipe": "big", "model": "GPT"}))
    log = RunLog.open(big)
    epochs, per_epoch = big_epochs, 990
    step = 0
    for epoch in range(epochs):
        for b in range(per_epoch):
            step += 1
            value = 3.0 / (1 + step / 5000) + rng.gauss(0, 0.05) + (1.0 if rng.random() < 1e-4 else 0.0)
            log.scalar("batch_loss", value, step, epoch=epoch + (b + 1) / per_epoch)
        for tag in (
            "loss",
            "val_loss",
            "accuracy",
            "val_accuracy",
            "lr",
            "time",
            "grad_norm",
            "val_perplexity",
            "epoch_seconds",
            "tokens_per_second",
        ):
            log.scalar(tag, rng.random(), step, epoch=epoch + 1)
        log.write_status(epochs=epoch + 1)
    log.finish()
    log.close()


def start_server(root: Path) -> tuple[subprocess.Popen, str, float]:
    """Launch `glassnet serve ROOT --port 0`; (process, URL, seconds until the first request was answered)."""
    import httpx

    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "glassnet", "serve", str(root), "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()
        url = line.split(" at ", 1)[1].strip()
        httpx.get(url + "static/glassnet.css", timeout=30).raise_for_status()
    except BaseException:
        proc.terminate()
        raise
    return proc, url, time.perf_counter() - t0


def timed_get(client, url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    response = client.get(url)
    response.raise_for_status()
    return (time.perf_counter() - t0) * 1000, len(response.content)


def browser_figures(url: str, visits: int = 6) -> dict:
    from playwright.sync_api import sync_playwright

    out: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        times = []
        for _ in range(visits):
            page.goto(url + "run/big")
            page.wait_for_selector('body[data-ready] .chart[data-chart="loss"] canvas', timeout=30_000)
            times.append(page.evaluate("performance.now()"))  # ms since this navigation started
        out["page_first_ms"] = times[0]
        out["page_median_ms"] = statistics.median(times[1:])
        overview = json.loads(page.get_attribute('.chart[data-chart="loss"]', "data-points"))
        out["overview_points"] = overview
        box = page.locator('.chart[data-chart="loss"] .u-over').bounding_box()
        y = box["y"] + box["height"] / 2
        t0 = time.perf_counter()
        with page.expect_response(lambda r: "xmin=" in r.url):
            page.mouse.move(box["x"] + box["width"] * 0.40, y)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.42, y, steps=5)
            page.mouse.up()
        for _ in range(100):
            zoomed = json.loads(page.get_attribute('.chart[data-chart="loss"]', "data-points"))
            if zoomed != overview:
                break
            page.wait_for_timeout(20)
        out["zoom_ms"] = (time.perf_counter() - t0) * 1000
        out["zoomed_points"] = zoomed
        out["page_errors"] = errors
        browser.close()
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", metavar="DIR", help="build the runs folder here (reused when it exists)")
    parser.add_argument("--quick", action="store_true", help="10 runs, 2,000 points in the big one")
    args = parser.parse_args(argv)
    runs, big_epochs = (10, 2) if args.quick else (RUNS, 100)
    repeats = 3 if args.quick else 20
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or os.path.join(tmp, "runs"))
        if not (root / "big" / "status.json").exists():
            t0 = time.perf_counter()
            build(root, runs, big_epochs)
            print(f"built {runs} runs in {time.perf_counter() - t0:.1f} s at {root}")
        size = sum(f.stat().st_size for f in (root / "big").iterdir() if f.is_file())
        print(f"big run: {big_epochs * 1000:,} points, {size / 1e6:.1f} MB on disk")
        proc, url, start_s = start_server(root)
        try:
            with httpx.Client(timeout=60) as client:
                first_list, list_bytes = timed_get(client, url + "api/runs")
                lists = [timed_get(client, url + "api/runs")[0] for _ in range(repeats)]
                overview_url = url + "api/runs/big/scalars?max_points=2000"
                first_overview, overview_bytes = timed_get(client, overview_url)
                overviews = [timed_get(client, overview_url)[0] for _ in range(repeats // 2 or 1)]
                rows = client.get(url + "api/runs").json()
            figures = {
                "serve_start_s": start_s,
                "runs_listed": len(rows),
                "runs_list_first_ms": first_list,
                "runs_list_median_ms": statistics.median(lists),
                "runs_list_bytes": list_bytes,
                "overview_first_ms": first_overview,
                "overview_median_ms": statistics.median(overviews),
                "overview_bytes": overview_bytes,
                **browser_figures(url, visits=2 if args.quick else 6),
            }
        finally:
            proc.terminate()
            proc.wait(10)
    for key, value in figures.items():
        print(f"{key:22s} {value:.1f}" if isinstance(value, float) else f"{key:22s} {value}")
    return figures


if __name__ == "__main__":
    main()
    sys.exit(0)
