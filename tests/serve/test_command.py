"""`glassnet serve` as a command: prints its URL, serves, stops cleanly on Ctrl-C; names the extra when missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from needs import need_module

need_module("starlette", "pip install 'glassnet[serve]'")
need_module("uvicorn", "pip install 'glassnet[serve]'")
httpx = need_module("httpx", "pip install httpx")

from serve_helpers import writer_run  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def test_serve_prints_its_url_serves_and_stops_on_ctrl_c(tmp_path):
    writer_run(tmp_path, "run")
    proc = subprocess.Popen(
        [sys.executable, "-m", "glassnet", "serve", str(tmp_path), "--port", "0"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("glassnet serve: ") and " at http://127.0.0.1:" in line
        url = line.split(" at ", 1)[1].strip()
        assert [r["name"] for r in httpx.get(url + "api/runs", timeout=10).json()] == ["run"]
        with httpx.stream("GET", url + "api/events", timeout=10) as events:  # an open stream must not hold it up
            next(events.iter_lines())
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_a_missing_folder_or_extra_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "glassnet", "serve", str(tmp_path / "nope")],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "no such directory" in result.stderr
    without = (
        "import sys; sys.modules['starlette'] = None; from glassnet.cli import main; "
        f"sys.exit(main(['serve', {str(tmp_path)!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", without], env=ENV, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "pip install 'glassnet[serve]'" in result.stderr
    in_python = (
        "import sys; sys.modules['uvicorn'] = None; import glassnet as gn\n"
        f"try:\n    gn.serve({str(tmp_path)!r})\nexcept ImportError as e:\n    print(e)"
    )
    result = subprocess.run([sys.executable, "-c", in_python], env=ENV, capture_output=True, text=True, timeout=60)
    assert "glassnet[serve]" in result.stdout and "uvicorn" in result.stdout


def test_importing_glassnet_does_not_load_the_server():
    code = "import sys, glassnet; print('starlette' in sys.modules, 'uvicorn' in sys.modules, callable(glassnet.serve))"
    result = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["False", "False", "True"]


def test_serve_checks_data_and_lenet_before_starting(tmp_path, capsys):
    from glassnet.cli import main

    assert main(["serve", str(tmp_path), "--data", str(tmp_path / "missing")]) == 2
    assert main(["serve", str(tmp_path), "--lenet", str(tmp_path / "none.safetensors")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"glassnet serve: error: --data {tmp_path / 'missing'}: no such directory",
        f"glassnet serve: error: --lenet {tmp_path / 'none.safetensors'}: no such file",
    ]


def test_the_data_folder_reaches_the_cnn_explorer(tmp_path):
    from starlette.testclient import TestClient

    from glassnet.models.tinyvgg import default_tinyvgg_dir
    from glassnet.serve.app import create_app

    def models(data_dir):
        app = create_app(tmp_path, playground={"data_dir": data_dir})
        with TestClient(app, base_url="http://127.0.0.1") as client:
            return str(client.get("/api/explorer/cnn/models").json())

    assert "tinyvgg" not in models(tmp_path / "none") and "lenet" in models(tmp_path / "none")
    if os.path.isdir(default_tinyvgg_dir()):  # CNN Explainer's files, where the data folder is beside the repo
        assert "tinyvgg" in models(os.path.dirname(default_tinyvgg_dir()))
