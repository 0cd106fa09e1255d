"""Rich displays in Jupyter: Tensor, History, summary, diagnose's findings, a Recording, inline figures."""

import os
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from needs import need_module

import glassnet as gn
from glassnet import nn
from glassnet.display import curves_svg, history_html, table_html
from glassnet.lens import diagnose
from glassnet.train import History


def test_tensor_html_shows_shape_dtype_grad_fn_and_a_corner_of_values():
    w = gn.tensor(np.arange(12, dtype=np.float32).reshape(3, 4), requires_grad=True)
    y = w * 2
    page = y._repr_html_()
    assert "shape (3, 4)" in page and "dtype float32" in page
    assert "&lt;MulBackward&gt;" in page  # escaped, not a tag
    assert ">22<" in page and "max 22" in page  # the last value, and the range
    assert "requires_grad" in w._repr_html_() and "grad_fn" not in w._repr_html_()
    big = gn.zeros(20, 30)._repr_html_()
    assert big.count("<tr>") == 9 and "…" in big and "⋮" in big  # cut to 8 rows and 8 columns, with marks
    cube = gn.ones(2, 3, 4)._repr_html_()
    assert "showing [0, :, :] of 3 dimensions" in cube
    assert "no values" in gn.zeros(0, 3)._repr_html_()
    assert ">True<" in gn.tensor([True, False])._repr_html_()


def test_history_html_draws_curves_and_names_the_best_epoch():
    h = History()
    for epoch, (loss, val_loss, acc) in enumerate([(1.0, 1.1, 0.5), (0.5, 0.7, 0.8), (0.3, 0.9, 0.9)]):
        h.append_epoch(epoch, {"loss": loss, "val_loss": val_loss, "accuracy": acc, "time": 0.1, "lr": 0.01})
    page = h._repr_html_()
    svgs = re.findall(r"<svg.*?</svg>", page)
    assert len(svgs) == 2  # a loss panel and a metrics panel
    for svg in svgs:
        ET.fromstring(svg)  # well-formed
    assert svgs[0].count("<polyline") == 2 and svgs[1].count("<polyline") == 1
    assert ">3</text>" in svgs[0] and ">1.5<" not in svgs[0]  # integer epoch ticks from 1
    rows = re.findall(r"<tr>(.*?)</tr>", page)
    val_row = next(r for r in rows if ">val_loss<" in r)
    assert re.findall(r">([^<>]+)</td>", val_row) == ["val_loss", "0.9", "0.7", "2"]  # best val_loss at epoch 2
    acc_row = next(r for r in rows if ">accuracy<" in r)
    assert re.findall(r">([^<>]+)</td>", acc_row)[-1] == "3"  # higher is better for accuracy
    assert "no epochs yet" in History()._repr_html_()


def test_every_value_is_escaped():
    evil = "<script>alert(1)</script>"
    page = history_html([0, 1], {evil: [1.0, 2.0]})
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<script>" not in table_html([evil], [[evil]], caption=evil)
    ET.fromstring(curves_svg({evil: [1, 2, 3]}, title=evil))
    findings = diagnose({"loss": [1.0, 0.5, float("nan")]})
    findings[0].message = evil
    assert "<script>" not in findings._repr_html_()


def test_summary_prints_returns_and_displays(capsys):
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    result = nn.summary(model, (4,))
    printed = capsys.readouterr().out
    assert printed.strip() == str(result).strip() and "Total params: 58" in printed
    assert isinstance(result, str) and repr(result) == "<Summary of Sequential: 58 parameters>"
    page = result._repr_html_()
    assert page.count("<tr>") == 4 and "58 parameters" in page and "(None, 8)" in page
    nn.summary(model, (4,), verbose=0)
    assert capsys.readouterr().out == ""


def test_findings_and_recording_html():
    findings = diagnose({"loss": [1.0, 2.0, 40.0, float("nan")]})
    assert findings and isinstance(findings, list)
    page = findings._repr_html_()
    assert "critical" in page and findings[0].kind in page and "what usually helps" in page
    assert findings[0]._repr_html_().count("<tr>") == 2
    assert "no findings" in diagnose({"loss": [1.0, 0.8, 0.6, 0.5, 0.45, 0.42]})._repr_html_()

    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
    opt = gn.optim.SGD(model.parameters(), lr=0.1)
    rec = gn.lens.Recorder(every=1).attach(model, opt)
    x, y = gn.randn(16, 3), gn.randn(16, 1)
    for _ in range(3):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        rec.record_loss(loss)
        opt.step()
    rec.record_epoch(0, loss=loss.item())
    page = rec.recording._repr_html_()
    assert "3 recorded steps" in page and "grad_norm" in page and "0.weight" in page and "<svg" in page


def test_figures_show_themselves_as_png_without_pyplot():
    need_module("matplotlib", "pip install 'glassnet[plots]'")
    from glassnet.lens.plots import plot_history

    fig = plot_history({"loss": [1.0, 0.5, 0.2], "val_loss": [1.1, 0.7, 0.6]})
    png = fig._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


NOTEBOOK_CELLS = [
    "import glassnet as gn\nfrom glassnet import nn\nfrom glassnet.lens.plots import plot_history\n"
    "(gn.ones(2, 2, requires_grad=True) * 3)",
    "plot_history({'loss': [1.0, 0.5, 0.25]})",
    "gn.manual_seed(0)\nmodel = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))\n"
    "trainer = gn.train.Trainer(model, nn.CrossEntropyLoss(), gn.optim.SGD(model.parameters(), lr=0.1))\n"
    "history = trainer.fit([(gn.randn(16, 4), gn.randint(0, 3, (16,)))] * 5, epochs=2)\nhistory",
    "nn.summary(model, (4,))",
]


@pytest.mark.parametrize("ipywidgets", ["hidden", "as installed"])
def test_a_jupyter_kernel_shows_rich_output_bars_and_inline_figures(ipywidgets):
    """In a real kernel, with no %matplotlib inline: HTML for a Tensor, a PNG for a figure, a bar per epoch (a text
    bar on stdout without ipywidgets, a widget with it), the History's curves, and summary's table shown once."""
    nbformat = need_module("nbformat", "pip install 'glassnet[notebooks]'")
    nbclient = need_module("nbclient", "pip install 'glassnet[notebooks]'")
    need_module("ipykernel", "pip install 'glassnet[notebooks]'")
    need_module("matplotlib", "pip install 'glassnet[plots]'")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    hide = "import sys\nsys.modules['ipywidgets'] = None  # as if not installed\n" if ipywidgets == "hidden" else ""
    cells = [hide + NOTEBOOK_CELLS[0], *NOTEBOOK_CELLS[1:]]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": root}}).execute()
    tensor, figure, fit, summary = (cell.outputs for cell in nb.cells)
    assert "MulBackward" in tensor[-1]["data"]["text/html"]
    assert "image/png" in figure[-1]["data"]
    widgets = [o for o in fit if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    if widgets:  # ipywidgets installed: tqdm.auto draws a widget per epoch, updated through the kernel's comms
        state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        models = [m for m in state.values() if m["model_name"] in ("FloatProgressModel", "HTMLModel")]
        progress = [(m["state"]["value"], m["state"]["max"]) for m in models if m["model_name"] == "FloatProgressModel"]
        labels = " ".join(m["state"]["value"] for m in models if m["model_name"] == "HTMLModel").replace("\u2007", " ")
        assert len(widgets) == 2 and progress == [(5, 5), (5, 5)]
        assert "epoch 1/2" in labels and "epoch 2/2" in labels and "loss=" in labels
    else:  # a text bar on stdout (stderr would show as an error), redrawn with carriage returns
        assert {o.get("name") for o in fit if o["output_type"] == "stream"} == {"stdout"}
        bars = "".join(o.get("text", "") for o in fit if o["output_type"] == "stream")
        assert "epoch 1/2" in bars and "epoch 2/2" in bars and "5/5" in bars and "\r" in bars
    assert "<svg" in fit[-1]["data"]["text/html"]  # the History's curves
    assert [o["output_type"] for o in summary] == ["execute_result"]  # not printed as well
    assert "Total params" not in summary[0]["data"]["text/plain"] and "<table" in summary[0]["data"]["text/html"]
