"""The HTML report treats a run folder as untrusted input (issue 19): every value escaped and no script allowed, nothing
read from outside the folder, nothing but regular files opened (sizes checked first), and a malformed file becomes a
note in its section while the rest of the report is written."""

from __future__ import annotations

import base64
import html
import importlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from glassnet.lens.report import report

report_module = importlib.import_module("glassnet.lens.report")
ROOT = Path(__file__).resolve().parents[2]
# A 1x1 PNG: a real picture the report embeds when it may.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
SECTIONS = ("curves", "diagnosis", "pictures", "config")


def make_run(path: Path, epochs: int = 6) -> Path:
    """A small, valid run folder: config.json and history.json (History.to_dict's form)."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model": "MLP", "optimizer": "Adam", "parameters": 1234}))
    history = {
        "epoch": list(range(epochs)),
        "history": {"loss": [1.0 / (1 + e) for e in range(epochs)], "val_loss": [1.1 / (1 + e) for e in range(epochs)]},
    }
    (path / "history.json").write_text(json.dumps(history))
    return path


@pytest.fixture
def numbers_only(monkeypatch):
    """Most cases need no picture drawn: keep them fast."""
    monkeypatch.setattr(report_module, "_plots_available", lambda: False)


def section_ids(page: str) -> list[str]:
    return re.findall(r"<section id='([a-z]+)'>", page)


def embedded_pngs(page: str) -> list[bytes]:
    return [base64.b64decode(s) for s in re.findall(r"src='data:image/png;base64,([^']*)'", page)]


# ----- escaping and the content-security policy --------------------------------------------------------------------
def test_a_script_in_a_tour_summary_is_never_live(tmp_path, numbers_only):
    run = make_run(tmp_path / "run")
    script = "<script>alert(1)</script>"
    summary = {
        "chapters": [
            {"number": script, "title": "injected number", "status": "ran", "seconds": 1.0, "results": {}},
            {"number": 2, "title": script, "status": "ran", "seconds": 1.0, "results": {script: script}},
            {"number": 3, "title": "later", "status": "coming", "coming_with": script},
        ]
    }
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "config.json").write_text(json.dumps({"model": script, script: 1}))
    page = report(run).read_text()
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text
    assert "chapter entry 0 is not a chapter" in page  # the entry with a bad number is named and left out


def test_the_page_forbids_scripts_and_fetches(tmp_path, numbers_only):
    page = report(make_run(tmp_path / "run")).read_text()
    (policy,) = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    rules = dict(rule.strip().split(" ", 1) for rule in policy.split(";"))
    assert rules["default-src"] == "'none'" and rules["script-src"] == "'none'" and rules["img-src"] == "data:"
    head = page.split("</head>", 1)[0]
    assert "Content-Security-Policy" in head  # a policy only counts in the head


# ----- nothing outside the run folder ------------------------------------------------------------------------------
def secret_png(tmp_path: Path) -> bytes:
    """A PNG outside the run folder whose bytes must never appear in a report."""
    data = PNG + b"secret-trailer"
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "secret.png").write_bytes(data)
    return data


def test_an_artefact_linked_outside_is_refused(tmp_path, numbers_only):
    secret = secret_png(tmp_path)
    run = make_run(tmp_path / "run")
    (run / "artefacts").mkdir()
    (run / "artefacts" / "inside.png").write_bytes(PNG)
    (run / "artefacts" / "x.png").symlink_to(tmp_path / "elsewhere" / "secret.png")
    page = report(run).read_text()
    assert embedded_pngs(page) == [PNG]  # the picture inside is embedded, the link out is not
    assert secret not in embedded_pngs(page)
    assert "refused: artefacts/x.png resolves to " in page and "glassnet reads nothing outside it" in page


def test_an_artefacts_folder_that_links_outside_is_refused(tmp_path, numbers_only):
    secret_png(tmp_path)
    run = make_run(tmp_path / "run")
    (run / "artefacts").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    page = report(run).read_text()
    assert embedded_pngs(page) == []
    assert "refused: artefacts resolves to " in page


def test_a_config_linked_outside_is_refused(tmp_path, numbers_only):
    (tmp_path / "private.json").write_text(json.dumps({"api_token": "hunter2-secret"}))
    run = make_run(tmp_path / "run")
    (run / "config.json").unlink()
    (run / "config.json").symlink_to(tmp_path / "private.json")
    page = report(run).read_text()
    assert "hunter2-secret" not in page and "api_token" not in page
    assert "refused: config.json resolves to " in page
    assert set(SECTIONS) <= set(section_ids(page))


def test_links_that_stay_inside_are_followed(tmp_path, numbers_only):
    run = make_run(tmp_path / "run")
    (run / "artefacts").mkdir()
    (run / "pictures").mkdir()
    (run / "pictures" / "real.png").write_bytes(PNG)
    (run / "artefacts" / "curve.png").symlink_to(run / "pictures" / "real.png")
    assert embedded_pngs(report(run).read_text()) == [PNG]


# ----- only regular files, sizes checked before reading (each in a fresh process with a time and memory limit) ------
def report_in_a_child(run: Path) -> subprocess.CompletedProcess:
    """`report(run)` in a child process limited to 20 s and 2 GiB of address space (a hang or a huge read fails)."""
    code = textwrap.dedent(f"""
        import importlib, resource
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))
        module = importlib.import_module("glassnet.lens.report")
        module._plots_available = lambda: False
        print(module.report({str(run)!r}).read_text())
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20, env=env)


def test_a_fifo_named_like_a_picture_does_not_hang(tmp_path):
    run = make_run(tmp_path / "run")
    (run / "artefacts").mkdir()
    os.mkfifo(run / "artefacts" / "x.png")
    proc = report_in_a_child(run)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "refused: artefacts/x.png is a FIFO, not a regular file" in proc.stdout


def test_a_fifo_as_a_series_log_does_not_hang(tmp_path):
    run = make_run(tmp_path / "run")
    (run / "history.json").unlink()  # without a history, the report reads scalars.jsonl (a SummaryWriter's series)
    os.mkfifo(run / "scalars.jsonl")
    proc = report_in_a_child(run)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "refused: scalars.jsonl is a FIFO, not a regular file" in proc.stdout


def test_a_link_to_dev_zero_is_not_read(tmp_path):
    run = make_run(tmp_path / "run")
    (run / "artefacts").mkdir()
    (run / "artefacts" / "zero.png").symlink_to("/dev/zero")
    proc = report_in_a_child(run)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "refused: artefacts/zero.png resolves to /dev/zero, outside" in proc.stdout


def test_a_huge_sparse_file_is_refused_before_it_is_read(tmp_path):
    run = make_run(tmp_path / "run")
    (run / "artefacts").mkdir()
    with open(run / "artefacts" / "big.png", "wb") as f:
        f.write(PNG)
        f.truncate(3 * 1024**3)  # 3 GB that take no disk
    with open(run / "history.json", "ab") as f:
        f.truncate(3 * 1024**3)
    proc = report_in_a_child(run)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "refused: artefacts/big.png is 3,221,225,472 bytes, over the limit of" in proc.stdout
    assert "refused: history.json is 3,221,225,472 bytes" in proc.stdout


# ----- malformed files: a note for that file, the rest of the report written ---------------------------------------
MALFORMED = {
    "history: not JSON": ("history.json", '{"epoch": [0, 1', "history.json is not valid JSON"),
    "history: a string": ("history.json", json.dumps("loss went down"), "history.json: the history is"),
    "history: entries not dicts": ("history.json", json.dumps([1.0, 0.5, 0.2]), "history.json: entry 0 is 1.0"),
    "history: values not lists": (
        "history.json",
        json.dumps({"epoch": [0], "history": {"loss": 5}}),
        "'loss' is not a list of numbers",
    ),
    "history: lists of different lengths": (
        "history.json",
        json.dumps(
            {"epoch": [0, 1, 2, 3, 4, 5], "history": {"loss": [1, 0.9, 0.8, 0.7, 0.6, 0.5], "val_loss": [1, 0.9]}}
        ),
        "'val_loss' has 2 values for 6 epochs",
    ),
    "history: NaN and text as epochs": (
        "history.json",
        '{"epoch": [NaN, "one"], "history": {"loss": [1.0, "x"]}}',
        "the epoch numbers are not distinct whole numbers",
    ),
    "config: a list": ("config.json", json.dumps(["lr", 0.1]), "config.json holds list data"),
    "config: stopped_epoch as text": (
        "config.json",
        json.dumps({"stopped_epoch": "three"}),
        "stopped_epoch is 'three'; expected a whole number",
    ),
    "recording: strides of the wrong length": (
        "recording.json",
        json.dumps({"format": "glassnet.recording", "strides": [1, 1]}),
        "recording.json: strides is [1, 1]; expected a list of 3",
    ),
    "recording: records not dicts": (
        "recording.json",
        json.dumps({"format": "glassnet.recording", "records": [5]}),
        "recording.json: records[0] is 5; expected a dict",
    ),
    "recording: max_records as text": (
        "recording.json",
        json.dumps({"format": "glassnet.recording", "max_records": "many"}),
        "recording.json: max_records is 'many'",
    ),
    "recording: a histogram without edges": (
        "recording.json",
        json.dumps(
            {
                "format": "glassnet.recording",
                "records": [
                    {
                        "step": 0,
                        "activations": {},
                        "params": {"w": {"weight_histogram": {"__tuple__": [{"__array__": [1, 2], "dtype": "int64"}]}}},
                    }
                ],
            }
        ),
        "expected (counts, edges) arrays",
    ),
    "confusion matrix: ragged": (
        "confusion_matrix.json",
        json.dumps({"matrix": [[1, 2], [3]]}),
        "confusion_matrix.json: expected a square matrix",
    ),
    "summary: seconds as text": (
        "summary.json",
        json.dumps({"chapters": [{"number": 1, "title": "t", "status": "ran", "seconds": "fast", "results": {}}]}),
        "chapter entry 0 is not a chapter",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_file_is_a_note_and_the_rest_is_written(tmp_path, numbers_only, case):
    name, content, note = MALFORMED[case]
    run = make_run(tmp_path / "run")
    (run / name).write_text(content)
    page = report(run).read_text()
    assert note in html.unescape(page)
    assert set(SECTIONS) <= set(section_ids(page))
    if name != "config.json":
        assert "1,234" in page  # the configuration is still shown
    if name != "history.json":
        assert "Per-epoch numbers (6 epochs)" in page  # and the history


def test_a_dollar_in_a_metric_name_is_drawn_as_text(tmp_path):
    pytest.importorskip("matplotlib")
    run = make_run(tmp_path / "run")
    history = {
        "epoch": [0, 1, 2],
        "history": {"loss": [1.0, 0.8, 0.6], "cost_$\\frac{$": [3.0, 2.0, 1.0], "val_$^$": [0.5, 0.4, 0.3]},
    }
    (run / "history.json").write_text(json.dumps(history))
    page = report(run).read_text()
    assert "could not be drawn" not in page
    assert len(embedded_pngs(page)) == 1  # the loss and the $-named metrics, drawn in one figure
    assert "cost_$\\frac{$" in page
