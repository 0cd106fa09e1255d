"""The JSON API of `glassnet serve`, over HTTP against a real server on a free port (httpx)."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import quote

import pytest
from needs import need_module

need_module("starlette", "pip install 'glassnet[serve]'")
need_module("uvicorn", "pip install 'glassnet[serve]'")
httpx = need_module("httpx", "pip install httpx")

from serve_helpers import XSS_NAME, make_runs, running_server  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs = make_runs(tmp_path_factory.mktemp("runs"))
    with running_server(runs) as handle, httpx.Client(base_url=handle.url, timeout=10) as client:
        yield client, runs


def by_name(rows):
    return {r["name"]: r for r in rows}


def test_runs_list(server):
    client, _ = server
    response = client.get("/api/runs")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    rows = by_name(response.json())
    assert set(rows) == {"trainer", "writer", XSS_NAME, "crashed", "broken", "recipe"}
    trainer = rows["trainer"]
    assert trainer["status"] == "finished" and trainer["epochs"] == 3 and trainer["epochs_planned"] == 3
    assert trainer["kind"] == "toy · Sequential" and trainer["best"]["tag"] == "val_loss"
    assert trainer["started"] <= trainer["updated"] and trainer["duration"] >= 0
    assert rows["crashed"]["status"] == "crashed"  # "running", but its process is gone
    assert rows["writer"]["status"] == "finished" and rows["writer"]["kind"] == "SummaryWriter"
    assert rows["recipe"]["epochs"] == 4 and rows["recipe"]["status"] == "unknown"


def test_one_run(server):
    client, _ = server
    body = client.get("/api/runs/trainer").json()
    assert body["config"]["recipe"] == "toy" and body["config"]["epochs"] == 3
    assert body["series"]["batch_loss"] == 12 and body["series"]["val_loss"] == 3
    assert body["layers"] is True and body["histograms"] is True
    assert isinstance(body["findings"], list)
    for finding in body["findings"]:
        assert {"kind", "severity", "message", "remedy", "evidence"} <= set(finding)


def test_scalars_every_series_in_full(server):
    client, runs = server
    series = client.get("/api/runs/trainer/scalars").json()["series"]
    points = [json.loads(line) for line in (runs / "trainer" / "scalars.jsonl").read_text().splitlines()]
    for tag in ("batch_loss", "loss", "val_loss", "accuracy", "lr"):
        mine = [p for p in points if p["tag"] == tag]
        assert series[tag]["step"] == [p["step"] for p in mine]
        assert series[tag]["value"] == pytest.approx([p["value"] for p in mine])
    assert series["val_loss"]["epoch"] == [1, 2, 3]


def test_scalars_selection_range_and_downsampling(server):
    client, _ = server
    body = client.get("/api/runs/writer/scalars", params={"tag": "loss", "xmin": 5, "xmax": 9}).json()
    # the points inside the range plus one either side, so lines reach the edges of the view
    assert body["series"]["loss"]["step"] == [4, 5, 6, 7, 8, 9, 10]
    small = client.get("/api/runs/writer/scalars", params={"tag": "loss", "max_points": 6}).json()
    steps = small["series"]["loss"]["step"]
    assert small["downsampled"] and len(steps) <= 8 and steps[0] == 0 and steps[-1] == 19
    assert small["total"]["loss"] == 20


def test_legacy_history_from_a_checkpoint(server):
    client, _ = server
    series = client.get("/api/runs/recipe/scalars").json()["series"]
    assert series["loss"]["value"] == pytest.approx([1.0, 0.5, 1 / 3, 0.25])
    assert series["test_accuracy"]["epoch"] == [1, 2, 3, 4]


def test_layers_and_histograms(server):
    client, _ = server
    layers = client.get("/api/runs/trainer/layers").json()
    assert layers["steps"] == [0, 2, 4, 6, 8, 10]
    assert layers["kinds"] == {"0": "Linear", "1": "Tanh", "2": "Linear"}
    assert len(layers["activations"]["1"]["saturated_fraction"]) == 6
    assert all(v > 0 for v in layers["params"]["0.weight"]["grad_norm"])
    hist = client.get("/api/runs/trainer/histograms").json()
    assert len(hist["0.weight weight"]) == 6
    first = hist["0.weight weight"][0]
    assert sum(first["counts"]) == 32 and len(first["edges"]) == len(first["counts"]) + 1


def test_errors_are_json_404s(server):
    client, _ = server
    for url in (
        "/api/runs/nope",
        "/api/runs/nope/scalars",
        "/api/runs/writer/scalars?tag=nope",
        "/runs/writer/artefacts/nope.png",
        "/api/nothing",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]
    assert client.get("/api/runs/writer/scalars?x=banana").status_code == 400
    assert client.get("/api/runs/writer/scalars?xmin=nan").status_code == 400
    assert client.get("/api/runs/writer/scalars?max_points=1").status_code == 400


def test_a_malformed_run_is_an_error_of_that_run_only(server):
    client, _ = server
    broken = by_name(client.get("/api/runs").json())["broken"]
    assert any("config.json is not valid JSON" in e for e in broken["errors"])
    body = client.get("/api/runs/broken").json()
    assert body["config"] is None
    assert any("1 malformed line" in e for e in body["errors"])
    series = client.get("/api/runs/broken/scalars").json()["series"]
    assert series["loss"]["step"] == [0, 1]  # the garbage line and the half-written last line are skipped
    assert client.get("/api/runs/writer").status_code == 200


def test_pages_escape_names_and_carry_a_csp(server):
    client, _ = server
    response = client.get("/run/" + quote(XSS_NAME, safe=""))
    assert response.status_code == 200
    assert "<img src=x" not in response.text and "&lt;img src=x onerror=alert(1)&gt;" in response.text
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in response.text.replace('<script src="/static/', "")
    assert client.get("/").status_code == 200 and client.get("/run/nope").status_code == 404
    assert client.get("/compare", params=[("run", "writer"), ("run", "trainer")]).status_code == 200
    assert client.get("/static/vendor/uplot/uPlot.iife.min.js").status_code == 200


def read_events(url: str, until, timeout: float = 8.0) -> list[tuple[str, dict]]:
    """The events of a Server-Sent Events stream until `until(events)` holds (or the timeout)."""
    events: list[tuple[str, dict]] = []
    deadline = time.monotonic() + timeout
    with httpx.stream("GET", url, timeout=timeout) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
                if until(events):
                    break
            if time.monotonic() > deadline:
                break
    return events


def test_events_stream_new_points_as_they_are_written(tmp_path):
    runs = tmp_path / "runs"
    (runs / "live").mkdir(parents=True)
    scalars = runs / "live" / "scalars.jsonl"
    scalars.write_text('{"tag": "loss", "step": 1, "value": 1.0}\n')
    with running_server(runs) as handle:
        start = httpx.get(handle.url + "api/runs/live/scalars").json()
        assert start["cursor"] == 1

        def write():
            time.sleep(0.6)
            with open(scalars, "a") as f:
                f.write('{"tag": "loss", "step": 2, "value": 0.5}\n{"tag": "loss", "st')  # a line half written
                f.flush()
                time.sleep(0.8)
                f.write('ep": 3, "value": 0.25}\n')

        writer = threading.Thread(target=write)
        writer.start()
        url = handle.url + f"api/runs/live/events?cursor={start['cursor']}&resets={start['resets']}"
        events = read_events(
            url, lambda ev: sum(len(d["series"]["loss"]["step"]) for n, d in ev if n == "scalars") >= 2
        )
        writer.join()
    steps = [s for name, d in events if name == "scalars" for s in d["series"]["loss"]["step"]]
    assert steps == [2, 3]
    assert [d["status"] for name, d in events if name == "status"][:1] == ["unknown"]


def test_the_runs_list_stream(server):
    client, _ = server
    url = str(client.base_url) + "api/events"
    events = read_events(url, lambda ev: bool(ev))
    assert events[0][0] == "runs" and {r["name"] for r in events[0][1]} >= {"trainer", "writer"}


def test_a_recipe_checkpoint_rewritten_each_epoch_is_followed(tmp_path):
    import glassnet as gn
    from glassnet.serve.runs import RunsFolder

    (tmp_path / "recipe").mkdir()

    def save(epochs):
        history = [{"epoch": e + 1, "loss": 1.0 / (e + 1)} for e in range(epochs)]
        gn.save(
            {"model": {"w": gn.zeros(2)}, "epoch": epochs, "history": history},
            tmp_path / "recipe" / "checkpoint.safetensors",
        )

    save(2)
    run = RunsFolder(tmp_path).run("recipe")
    run.refresh()
    resets = run.resets
    assert run.series["loss"].epoch == [1.0, 2.0]
    save(3)
    run.refresh()
    assert run.series["loss"].epoch == [1.0, 2.0, 3.0] and run.resets == resets + 1  # open pages reload it


def test_a_silent_running_run_is_stalled(tmp_path):
    import os

    from serve_helpers import writer_run

    from glassnet.serve.runs import STALE_SECONDS, RunsFolder

    path = writer_run(tmp_path, "quiet")
    status = json.loads((path / "status.json").read_text())
    status.update(status="running", pid=os.getpid(), ended=None, heartbeat=time.time() - STALE_SECONDS - 1)
    (path / "status.json").write_text(json.dumps(status))
    assert RunsFolder(tmp_path).run("quiet").status()["status"] == "stalled"
    status["heartbeat"] = time.time()
    (path / "status.json").write_text(json.dumps(status))
    assert RunsFolder(tmp_path).run("quiet").status()["status"] == "running"
