"""gradcheck_view: backprop vs central differences per parameter."""

import numpy as np

import glassnet as gn
from glassnet.lens import gradcheck_view


def test_gradcheck_view_passes_on_small_mlp():
    gn.manual_seed(0)
    model = gn.nn.Sequential(gn.nn.Linear(4, 5), gn.nn.Tanh(), gn.nn.Linear(5, 3))
    x = gn.Tensor(np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32))
    y = gn.Tensor(np.arange(8) % 3)
    before = model[0].weight.data.copy()
    report = gradcheck_view(model, gn.nn.CrossEntropyLoss(), x, y)
    assert report.passed and [r.name for r in report.rows] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for r in report.rows:
        assert r.max_rel_error < 1e-5 and abs(r.analytic_norm - r.numeric_norm) < 1e-8 * max(1, r.analytic_norm)
    assert model[0].weight.dtype == np.float32 and np.array_equal(model[0].weight.data, before)
    assert "pass" in report.to_text() and "| 0.weight |" in report.to_markdown() and "<table" in report.to_html()


def test_gradcheck_view_sampling():
    gn.manual_seed(1)
    model = gn.nn.Sequential(gn.nn.Linear(6, 20), gn.nn.Sigmoid(), gn.nn.Linear(20, 1))
    x = gn.Tensor(np.random.default_rng(1).normal(size=(5, 6)))
    y = gn.Tensor(np.random.default_rng(2).normal(size=(5, 1)))
    report = gradcheck_view(model, gn.nn.MSELoss(), x, y, max_elements=7)
    assert report.passed and report.rows[0].checked == 7
