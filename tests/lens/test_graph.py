"""draw_graph: real graphs (an MLP loss, a CNN loss) rendered by Graphviz to SVG and PNG, and its errors."""

from __future__ import annotations

import html
import re
import sys

import numpy
import pytest
from needs import need_module, need_program

import glassnet as gn
import glassnet.nn as nn
import glassnet.nn.functional as F
from glassnet.lens import graph as graph_module
from glassnet.lens.graph import draw_graph

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _graphviz_installed():
    need_module("graphviz", "pip install 'glassnet[graph]'")
    need_program("dot", "apt-get install graphviz")


def _mlp_loss():
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    x = gn.randn(5, 4)
    loss = F.cross_entropy(model(x), gn.tensor([0, 1, 0, 1, 1]))
    return model, x, loss


def _cnn_loss():
    gn.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(2 * 4 * 4, 3))
    x = gn.randn(2, 1, 8, 8)
    loss = F.cross_entropy(model(x), gn.tensor([0, 2]))
    return model, x, loss


def _unescape(text: str) -> str:
    return html.unescape(text).replace("\xa0", " ")


def _svg_titles(svg: str) -> list[str]:
    """The bold first line of every node label, in the SVG that dot wrote."""
    return [_unescape(t) for t in re.findall(r'<text[^>]*font-weight="bold"[^>]*>([^<]*)</text>', svg)]


def _svg_text(svg: str) -> str:
    return " ".join(_unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg))


def test_mlp_graph_svg_has_every_op_and_named_leaf(tmp_path):
    model, x, loss = _mlp_loss()
    path = tmp_path / "mlp.svg"
    graph = draw_graph(loss, path, model=model, names={x: "x"})
    svg = path.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    titles = _svg_titles(svg)
    params = [name for name, _ in model.named_parameters()]
    # 4 ops (Linear, ReLU, Linear, cross-entropy) + 4 parameters + the input: one SVG node each
    assert svg.count('class="node"') == 4 + len(params) + 1
    assert sorted(t for t in titles if t in params) == sorted(params)
    assert titles.count("Linear") == 2 and "x" in titles
    assert any("relu" in t.lower() for t in titles) and any("entropy" in t.lower() for t in titles)
    # the loss node shows its value; a small parameter shows its values in full
    text = _svg_text(svg)
    assert f"{loss.item():.4g}" in text
    bias = model[2].bias.data
    assert ", ".join(f"{v:.4g}" for v in bias) in text
    assert "grad" not in text  # no backward yet
    assert graph.source.count("->") == svg.count('class="edge"')


def test_gradient_statistics_appear_after_backward_on_parameters_only(tmp_path):
    model, x, loss = _mlp_loss()
    loss.backward()  # frees the graph's saved values: the drawing must not need them
    svg = draw_graph(loss, tmp_path / "after.svg", model=model, names={x: "x"}).pipe(format="svg").decode()
    text = _svg_text(svg)
    assert text.count("grad") == len(list(model.parameters()))
    grad_b = model[2].bias.grad.data
    assert "grad [" + ", ".join(f"{v:.4g}" for v in grad_b) + "]" in text
    # statistics of a large gradient: its mean as computed here
    grad_w = model[0].weight.grad.data.astype(numpy.float64)
    assert f"grad mean {grad_w.mean():.3g}" in text


def test_cnn_graph_png_and_svg(tmp_path):
    model, x, loss = _cnn_loss()
    loss.backward()
    png = tmp_path / "cnn.png"
    draw_graph(loss, png, model=model, names={x: "images"})
    data = png.read_bytes()
    assert data[:8] == PNG_MAGIC
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 100 and height > 200  # five ops stacked bottom to top
    svg = draw_graph(loss, tmp_path / "cnn.svg", model=model, names={x: "images"})
    titles = _svg_titles((tmp_path / "cnn.svg").read_text())
    assert any("conv" in t.lower() for t in titles) and any("pool" in t.lower() for t in titles)
    assert {"0.weight", "0.bias", "4.weight", "4.bias", "images"} <= set(titles)
    assert svg.format == "svg"
    assert [p.name for p in tmp_path.iterdir()] and not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_format_comes_from_the_suffix_or_the_argument(tmp_path):
    _, _, loss = _mlp_loss()
    assert draw_graph(loss, tmp_path / "a.png").format == "png"
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG_MAGIC
    draw_graph(loss, tmp_path / "b.out", format="png")
    assert (tmp_path / "b.out").read_bytes()[:8] == PNG_MAGIC
    assert draw_graph(loss).format == "svg"
    with pytest.raises(ValueError, match="format should be 'svg' or 'png'"):
        draw_graph(loss, format="pdf")


def test_hide_values_and_names_given_name_first():
    model, x, loss = _mlp_loss()
    source = draw_graph(loss, names={"inputs": x}, show_values=False).source
    assert "inputs" in source and "mean" not in source
    assert "leaf 1" in source  # unnamed parameters still get a label


def test_tensor_without_graph_is_a_clear_error():
    leaf = gn.randn(3, requires_grad=True)
    with pytest.raises(ValueError, match=r"draw_graph: this tensor \(shape \(3,\)\) has no graph"):
        draw_graph(leaf)
    with gn.no_grad():
        y = leaf * 2
    with pytest.raises(ValueError, match="no_grad"):
        draw_graph(y)
    with pytest.raises(TypeError, match="expected a glassnet Tensor or a gn.compile schedule, got ndarray"):
        draw_graph(numpy.ones(3))
    with pytest.raises(TypeError, match="names should map tensors"):
        draw_graph(leaf * 2, names={"w": 3.0})


def test_too_big_a_graph_is_refused():
    x = gn.randn(2, requires_grad=True)
    y = x
    for _ in range(20):
        y = y * 1.5
    with pytest.raises(ValueError, match="max_nodes=10"):
        draw_graph(y, max_nodes=10)


def test_missing_graphviz_package_names_the_extra(monkeypatch):
    _, _, loss = _mlp_loss()
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(ImportError, match=r"pip install 'glassnet\[graph\]'"):
        draw_graph(loss)


def test_missing_dot_names_the_debian_package(monkeypatch, tmp_path):
    _, _, loss = _mlp_loss()
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="package graphviz"):
        draw_graph(loss, tmp_path / "g.svg")
    assert not list(tmp_path.iterdir())
