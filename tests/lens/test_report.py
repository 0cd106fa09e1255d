"""report: one self-contained, well-formed HTML page per run folder; recordings saved as JSON; clear errors."""

from __future__ import annotations

import base64
import html
import importlib
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy
import pytest
from needs import need_module

import glassnet as gn
import glassnet.nn as nn
from glassnet.data import DataLoader, TensorDataset
from glassnet.data.datasets import load_digits
from glassnet.lens import Recorder, diagnose
from glassnet.lens.report import ReportError, load_recording, report, save_recording
from glassnet.train import History, RunDir, Trainer

# the module itself: `glassnet.lens.report` is also the name of the function the package exports
report_module = importlib.import_module("glassnet.lens.report")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SECTIONS = ("curves", "diagnosis", "pictures", "config")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


# ----- helpers shared with test_report_browser.py ------------------------------------------------------------------
def make_run(root: Path, epochs: int = 4) -> tuple[Path, Recorder]:
    """Train a small digits MLP into root/digits with a Recorder; add a confusion matrix and an artefact PNG."""
    gn.manual_seed(0)
    x_train, y_train, x_test, y_test = load_digits()
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    recorder = Recorder(every=4)
    run = RunDir(root, "digits")
    trainer = Trainer(model, nn.CrossEntropyLoss(), gn.optim.Adam(model.parameters(), lr=1e-2), metrics=["accuracy"],
                      callbacks=[recorder], run_dir=run)
    trainer.fit(DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True), epochs=epochs,
                val_loader=DataLoader(TensorDataset(x_test, y_test), batch_size=512))
    save_recording(recorder, run.path)
    with gn.no_grad():
        predicted = model(x_test).argmax(1).numpy()
    truth = y_test.numpy()
    matrix = [[int(((truth == t) & (predicted == p)).sum()) for p in range(10)] for t in range(10)]
    (run.artefacts / "confusion_matrix.json").write_text(json.dumps({"matrix": matrix}))
    from matplotlib.figure import Figure

    from glassnet.lens.plots import figure_to_png_bytes

    fig = Figure(figsize=(2, 1.5))
    fig.add_subplot().plot([0, 1, 2], [1, 0, 1])
    (run.artefacts / "sample_curve.png").write_bytes(figure_to_png_bytes(fig))
    return run.path, recorder


class TagBalance(HTMLParser):
    """Checks that every opened element is closed in order (void elements excepted); collects ids and tags."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            return
        self.stack.pop()


def parse(page: str) -> TagBalance:
    """Parse `page`, returning the checker (errors, ids, tags)."""
    checker = TagBalance()
    checker.feed(page)
    checker.close()
    return checker


def external_references(checker: TagBalance) -> list[str]:
    """src/href values that would fetch something from outside the file, and any <link> or <script src>."""
    found = []
    for tag, attrs in checker.tags:
        for key in ("src", "href"):
            value = (attrs.get(key) or "").strip()
            if re.match(r"^(https?:)?//", value) or (value and key == "src" and not value.startswith("data:")):
                found.append(f"<{tag} {key}={value[:60]}>")
        if tag == "link" or (tag == "script" and attrs.get("src")):
            found.append(f"<{tag}>")
    return found


# ----- a real run --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    need_module("matplotlib", "pip install 'glassnet[plots]'")
    run_path, recorder = make_run(tmp_path_factory.mktemp("runs"))
    page_path = report(run_path)
    return run_path, recorder, page_path, page_path.read_text(encoding="utf-8")


def test_report_is_written_into_the_run_folder(digits_run):
    run_path, _, page_path, _ = digits_run
    assert page_path == run_path / "report.html"
    assert not [p for p in run_path.iterdir() if ".tmp" in p.name]


def test_report_is_well_formed_and_has_the_sections(digits_run):
    _, _, _, page = digits_run
    assert page.startswith("<!DOCTYPE html>")
    checker = parse(page)
    assert checker.errors == [] and checker.stack == []
    for section in SECTIONS:
        assert section in checker.ids
    assert len(checker.ids) == len(set(checker.ids))
    assert [t for t, _ in checker.tags if t == "section"]
    for tag, attrs in checker.tags:  # every in-page link points at a section that exists
        if tag == "a" and attrs.get("href", "").startswith("#"):
            assert attrs["href"][1:] in checker.ids


def test_report_references_nothing_outside_itself(digits_run):
    _, _, _, page = digits_run
    checker = parse(page)
    assert external_references(checker) == []
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)


def test_images_are_embedded_pngs(digits_run):
    _, _, _, page = digits_run
    sources = [attrs["src"] for tag, attrs in parse(page).tags if tag == "img"]
    # curves (loss + accuracy in one figure), gradient flow, confusion matrix, the artefact PNG
    assert len(sources) == 4
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG_MAGIC
    artefact = base64.b64encode((digits_run[0] / "artefacts" / "sample_curve.png").read_bytes()).decode()
    assert artefact in sources[-1]


def test_report_shows_config_history_and_layers(digits_run):
    run_path, recorder, _, page = digits_run
    config = json.loads((run_path / "config.json").read_text())
    assert f"{config['parameters']:,}" in page and html.escape(config["optimizer"]) in page
    history = json.loads((run_path / "history.json").read_text())["history"]
    assert f"{history['val_loss'][-1]:.4g}" in page  # the last validation loss, in the table
    for name in recorder.recording.param_order:  # the per-parameter table behind the diagnosis
        assert f"<td>{name}</td>" in page
    expected = diagnose(recorder.recording)
    if expected:
        assert html.escape(expected[0].message) in page
    else:  # 4 epochs: no problem seen, but too few epochs to call the run healthy
        assert "too early to tell" in page and "healthy" not in page


# ----- diagnosis from the history alone ----------------------------------------------------------------------------
def _history_run(root: Path, train: list[float], val: list[float]) -> Path:
    history = History()
    for epoch, (t, v) in enumerate(zip(train, val)):
        history.append_epoch(epoch, {"loss": t, "val_loss": v})
    root.mkdir()
    history.to_json(root / "history.json")
    return root


def test_overfitting_history_is_diagnosed_in_the_report(tmp_path, monkeypatch):
    monkeypatch.setattr(report_module, "_plots_available", lambda: False)  # keep this test fast: numbers only
    train = [1.0 / (1 + e) for e in range(12)]
    val = [1.0 - 0.1 * e for e in range(5)] + [0.6 + 0.08 * e for e in range(7)]
    run = _history_run(tmp_path / "overfit", train, val)
    page = report(run).read_text()
    (finding,) = [f for f in diagnose({"loss": train, "val_loss": val}) if f.kind == "overfitting"]
    assert html.escape(finding.message) in page and "overfitting" in page
    assert parse(page).errors == []
    assert "No config.json" in page
    assert "Layer-level checks" in page  # says what a recording would add


def test_without_matplotlib_the_report_still_renders_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an install without glassnet[plots] looks like
    run = _history_run(tmp_path / "plain", [1.0, 0.8, 0.7], [1.1, 0.9, 0.85])
    page = report(run, out=tmp_path / "elsewhere" / "page.html").read_text()
    assert "glassnet[plots]" in page and "training curves" in page
    assert "<img" not in page
    checker = parse(page)
    assert checker.errors == [] and set(SECTIONS) <= set(checker.ids)


# ----- recordings as JSON ------------------------------------------------------------------------------------------
def test_recording_round_trips_through_json(tmp_path):
    gn.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    opt = gn.optim.SGD(model.parameters(), lr=0.1)
    recorder = Recorder(histograms=True, max_records=4).attach(model, opt)
    x, y = gn.randn(8, 3), gn.randn(8, 1)
    for _ in range(9):
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        recorder.record_loss(loss)
        opt.step()
    recorder.record_epoch(0, loss=loss.item())
    path = save_recording(recorder, tmp_path)
    assert path == tmp_path / "recording.json"
    loaded = load_recording(path)
    original = recorder.recording
    assert loaded.param_order == original.param_order and loaded.layer_kinds == original.layer_kinds
    assert list(loaded.losses) == list(original.losses) and list(loaded.epochs) == list(original.epochs)
    assert loaded.records.stride == original.records.stride and len(loaded) == len(original)
    for name in original.param_order:
        assert loaded.series("params", name, "grad_norm") == original.series("params", name, "grad_norm")
    counts, edges = loaded.records[-1]["params"]["0.weight"]["weight_histogram"]
    want_counts, want_edges = original.records[-1]["params"]["0.weight"]["weight_histogram"]
    numpy.testing.assert_array_equal(counts, want_counts)
    numpy.testing.assert_array_equal(edges, want_edges)
    assert [f.kind for f in diagnose(loaded)] == [f.kind for f in diagnose(original)]


def test_load_recording_rejects_other_json(tmp_path):
    (tmp_path / "recording.json").write_text(json.dumps({"loss": [1, 2]}))
    with pytest.raises(ReportError, match="not a glassnet recording"):
        load_recording(tmp_path)
    with pytest.raises(TypeError, match="save_recording: expected a Recording or Recorder, got dict"):
        save_recording({}, tmp_path)


# ----- bad input ---------------------------------------------------------------------------------------------------
def test_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ReportError, match=r"is not a run folder: expected config.json or history.json") as info:
        report(tmp_path)
    assert str(tmp_path) in str(info.value)
    with pytest.raises(ReportError, match="is not a directory"):
        report(tmp_path / "missing")
    assert not (tmp_path / "report.html").exists()


def test_broken_json_and_a_directory_as_out_are_clear_errors(tmp_path):
    (tmp_path / "history.json").write_text("{not json")
    page = report(tmp_path).read_text()  # the file is named in its section; the rest of the page is written
    assert "history.json is not valid JSON" in page and "id='config'" in page
    (tmp_path / "history.json").write_text(json.dumps({"epoch": [0], "history": {"loss": [1.0]}}))
    with pytest.raises(ReportError, match="is a directory; expected the path of the HTML file"):
        report(tmp_path, out=tmp_path)


def test_tour_summary_adds_a_results_section(tmp_path, monkeypatch):
    monkeypatch.setattr(report_module, "_plots_available", lambda: False)
    (tmp_path / "config.json").write_text(json.dumps({"run": "glassnet tour", "quick": True}))
    summary = {"chapters": [
        {"number": 1, "title": "A neuron", "status": "ran", "seconds": 0.5, "results": {"accuracy": 0.97}},
        {"number": 2, "title": "Later", "status": "coming", "coming_with": 8}]}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    page = report(tmp_path).read_text()
    checker = parse(page)
    assert "results" in checker.ids and checker.errors == []
    assert "A neuron" in page and "97.0%" in page and "coming with issue 8" in page  # an accuracy reads as one
    assert "Curves appear here when the run folder holds a per-epoch history" in page


# ----- what the report says, and when -------------------------------------------------------------------------------
def test_healthy_is_said_only_with_enough_epochs(tmp_path, monkeypatch):
    monkeypatch.setattr(report_module, "_plots_available", lambda: False)
    early = _history_run(tmp_path / "two", [1.2, 0.9], [1.1, 0.95])  # 2 epochs: too early to call
    page = report(early).read_text()
    assert "too early to tell" in page and "A verdict needs at least 5 epochs" in page
    assert "<div class='badge'>healthy" not in page and "No problems found" not in page
    long = _history_run(tmp_path / "eight", [1.0 / (1 + e) for e in range(8)], [1.1 / (1 + e) for e in range(8)])
    page = report(long).read_text()
    assert "<div class='badge'>healthy</div>" in page and "over 8 epochs" in page
    assert "still falling at the end" in page  # 1/8 vs 1/7: the loss fell 12.5% in the last epoch


def test_an_empty_section_says_what_would_fill_it(tmp_path, monkeypatch):
    monkeypatch.setattr(report_module, "_plots_available", lambda: False)
    (tmp_path / "config.json").write_text(json.dumps({"model": "MLP"}))
    page = report(tmp_path).read_text()
    assert "Curves appear here when the run folder holds a per-epoch history" in page
    assert "A diagnosis appears here when the run has a loss history" in page
    assert "Pictures appear here when the run has a recording" in page
    for failure_like in ("Nothing to diagnose", "no per-epoch history", "No pictures"):
        assert failure_like not in page


def test_tour_results_show_headlines_under_their_labels(tmp_path, monkeypatch):
    monkeypatch.setattr(report_module, "_plots_available", lambda: False)
    (tmp_path / "config.json").write_text(json.dumps({"run": "glassnet tour"}))
    results = {"none_gap": 0.182, "early_stopping_val_loss_turns_up_after_epoch": 5, "none_test_accuracy": 0.837}
    summary = {"chapters": [{"number": 8, "title": "Overfitting", "status": "ran", "seconds": 11.2,
                             "results": results,
                             "headlines": [{"key": "none_gap", "label": "overfitting gap", "kind": "percent"}]}]}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    page = report(tmp_path).read_text()
    assert "<td>overfitting gap</td><td>18.2%</td>" in page
    assert "early_stopping_val_loss_turns_up_after_epoch" not in page and "11.2 s" in page
