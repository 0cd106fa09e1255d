"""trace(): the step-by-step backward on a 2-2-1 tanh/sigmoid network equals loss.backward() exactly."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.lens import explain, trace


def _net():
    x = gn.Tensor(np.array([0.5, -1.0]))
    w1 = gn.Tensor(np.array([[0.1, -0.2], [0.3, 0.4]]), requires_grad=True)
    b1 = gn.Tensor(np.array([0.01, -0.02]), requires_grad=True)
    w2 = gn.Tensor(np.array([[0.5, -0.6]]), requires_grad=True)
    b2 = gn.Tensor(np.array([0.05]), requires_grad=True)
    h = (w1 @ x + b1).tanh()
    y = (w2 @ h + b2).sigmoid()
    loss = ((y - 1.0) ** 2).sum()
    return loss, {w1: "w1", b1: "b1", w2: "w2", b2: "b2", x: "x"}


def test_trace_matches_backward_exactly():
    loss, names = _net()
    t = trace(loss, names=names)
    assert [s.op for s in t.steps] == ["Sum", "Pow", "Sub", "Sigmoid", "Add", "MatMul", "Tanh", "Add", "MatMul"]
    assert t.steps[3].derivative == "dL/dx = dL/dy · y(1 − y)"
    assert t.steps[6].derivative == "dL/dx = dL/dy · (1 − y²)"
    loss.backward()  # the trace kept the graph and wrote no .grad before this
    for leaf, name in names.items():
        if name == "x":
            continue
        assert np.array_equal(t.grad(leaf), leaf.grad.data)
        assert np.array_equal(t.grads[name], leaf.grad.data)


def test_every_number_is_shown():
    loss, names = _net()
    t = trace(loss, names=names)
    text = t.to_text()
    for s in t.steps:
        assert f"Step {s.number}: {s.op}" in text
    assert "[x] (2,) = [0.5, -1]" in text
    assert "accumulates into leaf w1" in text and "accumulates into Tanh output (step 7)" in text
    loss.backward()
    names_by = {v: k for k, v in names.items()}
    for name in ("w1", "b1", "w2", "b2"):
        g = names_by[name].grad.data
        for v in g.ravel():
            assert f"{v:.6g}" in text
    md, page = t.to_markdown(), t.to_html()
    assert "## Step 9: `MatMul`" in md and "dL/dA = dL/dY @ Bᵀ" in md
    assert page.startswith("<!DOCTYPE html>") and "://" not in page and "Step 4" in page


def test_model_parameter_names_and_source():
    gn.manual_seed(0)
    model = gn.nn.Sequential(gn.nn.Linear(2, 2), gn.nn.Tanh(), gn.nn.Linear(2, 1), gn.nn.Sigmoid())
    x = gn.Tensor(np.array([[0.3, -0.7]], dtype=np.float32))
    loss = ((model(x) - 1) ** 2).mean()
    t = explain(loss, model=model)
    assert {"0.weight", "0.bias", "2.weight", "2.bias"} == set(t.grads)
    assert "def backward" in t.source(1)
    loss.backward()
    for name, p in model.named_parameters():
        assert np.array_equal(t.grads[name], p.grad.data)


def test_bad_input_no_graph():
    with pytest.raises(ValueError, match="no graph"):
        trace(gn.Tensor(np.ones(3)).sum())
    with pytest.raises(TypeError, match="glassnet Tensor"):
        trace(np.ones(3))


def test_freed_graph_is_explained():
    loss, _ = _net()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        trace(loss)


def test_latex_rendering_has_every_step_and_gradient_and_escapes_specials():
    loss, names = _net()
    t = trace(loss, names={**{k: v for k, v in names.items() if v != "w1"}, names_w1(names): "w_1&x"})
    tex = t.to_latex()
    assert tex.count("\\item[Step") == len(t.steps)
    assert "w\\_1\\&x" in tex  # the leaf name's _ and & are escaped
    assert tex.count("\\begin{tabular}") == tex.count("\\end{tabular}") == len(t.steps) + 1
    assert tex.count("{") - tex.count("\\{") == tex.count("}") - tex.count("\\}")
    assert t._repr_latex_() == tex


def names_w1(names):
    return next(k for k, v in names.items() if v == "w1")


def test_html_escapes_names_and_a_notebook_gets_a_fragment():
    w = gn.tensor([0.5, -1.0], requires_grad=True)
    loss = (w * 2.0).tanh().sum()
    t = trace(loss, names={w: "<script>alert(1)</script>"})
    page = t.to_html()
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "script-src 'none'" in page.split("</head>")[0]  # the page's policy forbids scripts
    fragment = t._repr_html_()
    assert "<script" not in fragment and "&lt;script&gt;" in fragment
    assert "<html" not in fragment and "<body" not in fragment  # no page-wide style leaks into the notebook
    assert "Step 1: <code>" in fragment and ".glassnet-trace" in fragment
