"""`glassnet serve` only reads, only inside RUNS_DIR, never opens FIFOs, and wants a token beyond localhost."""

from __future__ import annotations

import os
import socket
import sys
import time

import pytest
from needs import need_module

need_module("starlette", "pip install 'glassnet[serve]'")
need_module("uvicorn", "pip install 'glassnet[serve]'")
httpx = need_module("httpx", "pip install httpx")

from serve_helpers import fifo, running_server, writer_run  # noqa: E402

from glassnet.serve import create_app, serve  # noqa: E402
from glassnet.serve.runs import MAX_JSON_BYTES  # noqa: E402


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("sec")
    runs = base / "runs"
    runs.mkdir()
    outside = writer_run(base, "outside")  # a run folder next to RUNS_DIR, not in it
    (outside / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\nsecret")
    run = writer_run(runs, "run")
    (run / "artefacts").mkdir(exist_ok=True)
    (run / "artefacts" / "ok.png").write_bytes(b"\x89PNG\r\n\x1a\nfine")
    (run / "artefacts" / "leak.png").symlink_to(outside / "secret.png")
    (run / "artefacts" / "page.svg").write_text("<svg onload='alert(1)'/>")
    (runs / "linked").symlink_to(outside, target_is_directory=True)
    piped = writer_run(runs, "piped")
    os.remove(piped / "scalars.jsonl")
    fifo(piped / "scalars.jsonl")  # opening it for reading would block forever
    os.remove(piped / "config.json")
    fifo(piped / "config.json")
    huge = writer_run(runs, "huge")
    with open(huge / "config.json", "wb") as f:
        f.truncate(MAX_JSON_BYTES + 1)  # sparse: big, but cheap to make
    (base / "runs" / "config.json").write_text("{}")  # RUNS_DIR itself is not one of its runs
    with running_server(runs) as handle, httpx.Client(base_url=handle.url, timeout=10) as client:
        yield client, runs


@pytest.mark.parametrize(
    "path",
    [
        "/api/runs/..",
        "/api/runs/%2e%2e",
        "/api/runs/..%2Foutside",
        "/api/runs/%2E%2E%2Foutside/scalars",
        "/api/runs/linked",
        "/api/runs/linked/scalars",
        "/run/linked",
        "/api/runs/%2Ftmp",
        "/runs/run/artefacts/leak.png",
        "/runs/run/artefacts/..%2Fconfig.json",
        "/runs/run/artefacts/%2e%2e%2fstatus.json",
        "/runs/run/artefacts/page.svg",
        "/runs/..%2Foutside/artefacts/secret.png",
        "/static/..%2F..%2Fapp.py",
        "/static/../app.py",
        "/runs/run/artefacts/%2Fetc%2Fpasswd",
    ],
)
def test_nothing_outside_the_runs_folder(setup, path):
    client, _ = setup
    response = client.get(path)
    assert response.status_code == 404, path
    assert b"\x89PNG" not in response.content and b"glassnet.serve" not in response.content


def test_symlinked_runs_leading_out_are_not_listed(setup):
    client, _ = setup
    names = {r["name"] for r in client.get("/api/runs").json()}
    assert names == {"run", "piped", "huge"}
    assert client.get("/runs/run/artefacts/ok.png").content == b"\x89PNG\r\n\x1a\nfine"


def test_fifos_are_never_opened_and_huge_files_never_read(setup):
    client, _ = setup
    started = time.monotonic()
    rows = {r["name"]: r for r in client.get("/api/runs").json()}
    body = client.get("/api/runs/piped").json()
    assert time.monotonic() - started < 5  # a blocking open would hang here
    assert body["config"] is None and body["series"] == {}
    huge = client.get("/api/runs/huge").json()
    assert any("config.json is" in e and "at most" in e for e in huge["errors"])
    assert rows["huge"]["status"] == "finished"


def test_only_reading_methods(setup):
    client, _ = setup
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = client.request(method, "/api/runs/run")
        assert response.status_code == 405 and "only reads" in response.json()["error"]
    assert (setup[1] / "run").is_dir()


def test_a_foreign_host_header_is_refused(setup):
    client, _ = setup
    response = client.get("/api/runs", headers={"host": "evil.example:6006"})
    assert response.status_code == 403


def test_a_token_is_needed_on_every_request(tmp_path):
    writer_run(tmp_path, "run")
    with running_server(tmp_path, token="s3cret-token") as handle:
        assert handle.url.endswith("/?token=s3cret-token")
        base = handle.url.split("?")[0]
        assert httpx.get(base + "api/runs").status_code == 401
        assert httpx.get(base + "api/runs", params={"token": "wrong"}).status_code == 401
        assert httpx.get(base + "static/glassnet.css").status_code == 401
        bearer = httpx.get(base + "api/runs", headers={"authorization": "Bearer s3cret-token"})
        assert bearer.status_code == 200 and bearer.json()[0]["name"] == "run"
        with httpx.Client() as browser:
            first = browser.get(handle.url)  # the printed URL sets a cookie for the requests that follow
            assert first.status_code == 200 and "glassnet_token" in first.headers["set-cookie"]
            assert "HttpOnly" in first.headers["set-cookie"]
            assert browser.get(base + "api/runs/run/scalars").status_code == 200


def test_another_address_than_localhost_gets_a_token(tmp_path, capsys):
    # 127.0.0.2 is still the loopback interface (nothing outside can reach it) but not "localhost" to the server
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.2", 0))
    except OSError:
        pytest.skip("this system has no 127.0.0.2")
    finally:
        probe.close()
    handle = serve(tmp_path, host="127.0.0.2", port=0, block=False)
    try:
        assert "?token=" in handle.url and handle.url in capsys.readouterr().out
        assert httpx.get(handle.url.split("?")[0] + "api/runs").status_code == 401
        assert httpx.get(handle.url).status_code == 200
    finally:
        handle.stop()


def test_create_app_is_a_starlette_app(tmp_path):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    app = create_app(tmp_path)
    assert isinstance(app, Starlette)
    with TestClient(app, base_url="http://localhost") as client:
        assert client.get("/api/runs").json() == []


def test_the_playground_routes_join_the_app_and_only_they_take_posts(tmp_path, monkeypatch):
    """With glassnet.serve.playground present (another package part; a stand-in here), its pages are linked from
    the nav and its API takes POST; everything else stays read-only."""
    import types

    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    async def create(request):
        return JSONResponse({"created": True}, status_code=201)

    stand_in = types.ModuleType("glassnet.serve.playground")
    stand_in.routes = lambda: [Route("/api/playground", create, methods=["POST"])]
    monkeypatch.setitem(sys.modules, "glassnet.serve.playground", stand_in)
    writer_run(tmp_path, "run")
    with TestClient(create_app(tmp_path), base_url="http://127.0.0.1") as client:
        assert client.post("/api/playground").status_code == 201
        assert client.post("/api/runs/run").status_code == 405
        assert client.delete("/api/runs/run").status_code == 405
        page = client.get("/").text
        assert 'href="/playground"' in page and 'href="/explorer/cnn"' in page and 'href="/explorer/attention"' in page


def test_undecodable_names_and_lone_surrogates_do_not_break_the_lists(tmp_path):
    writer_run(tmp_path, "fine")
    os.mkdir(os.fsencode(tmp_path) + b"/bad-\xff-name")
    with open(os.fsencode(tmp_path) + b"/bad-\xff-name/config.json", "w") as f:
        f.write("{}")
    odd = writer_run(tmp_path, "odd")
    with open(odd / "scalars.jsonl", "a") as f:
        f.write('{"tag": "half \\udc80 surrogate", "step": 0, "value": NaN}\n')
    with running_server(tmp_path) as handle:
        assert [r["name"] for r in httpx.get(handle.url + "api/runs").json()] == ["fine", "odd"]
        series = httpx.get(handle.url + "api/runs/odd/scalars").json()["series"]
        assert series["half \udc80 surrogate"]["value"] == [None]
