"""The playground and the explorers in headless Chromium (the system's, driven by playwright): play makes the loss
fall, + adds a neuron to the diagram, step advances the counter by one, the trace panel's gradients equal `.grad`
(computed here by PyTorch), the health strip names vanishing gradients, bad values show a message, two tabs train
independently, a closed tab's session ends, a drawn "1" is read as a 1, and no page logs an error.

With GLASSNET_SCREENSHOTS=<folder> the tests save the README's screenshots there (docs/screenshots).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from needs import need_module, need_program

need_module("starlette", "pip install 'glassnet[serve]'")
sync_api = need_module(
    "playwright.sync_api", "pip install playwright (never `playwright install`: it uses the system Chromium)"
)

from playground_app import make_app, serving  # noqa: E402

import glassnet as gn  # noqa: E402
from glassnet.serve.playground.explorers import LENET_FILE, train_lenet  # noqa: E402

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = os.environ.get("GLASSNET_SCREENSHOTS")
console: list[tuple[str, str, str]] = []  # (page, type, text) from every page but the one sent bad values


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    model, _ = train_lenet(epochs=3)  # what the explorer would train at first launch, a little shorter
    gn.save(model.state_dict(), cache / LENET_FILE)
    saved = os.environ.get("GLASSNET_CACHE")
    os.environ["GLASSNET_CACHE"] = str(cache)
    try:
        with serving(make_app(max_sessions=8)) as url:
            yield url
    finally:
        if saved is None:
            del os.environ["GLASSNET_CACHE"]
        else:
            os.environ["GLASSNET_CACHE"] = saved


@pytest.fixture(scope="module")
def browser(server):
    chromium = need_program("chromium", "apt-get install chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def open_page(browser, url: str, name: str, watch: bool = True):
    page = browser.new_page(viewport={"width": 1300, "height": 950})
    if watch:
        page.on("console", lambda m: console.append((name, m.type, m.text)))
        page.on("pageerror", lambda e: console.append((name, "pageerror", str(e))))
    page.goto(url)
    return page


def open_playground(browser, server, name: str, watch: bool = True):
    page = open_page(browser, f"{server}/playground", name, watch)
    page.wait_for_function("document.getElementById('network').dataset.session")
    return page


def session_of(page) -> str:
    return page.get_attribute("#network", "data-session")


def api(page, server, method: str, path: str, body=None) -> dict:
    response = page.request.fetch(
        f"{server}{path}",
        method=method,
        data=None if body is None else json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert response.ok, response.text()
    return response.json()


def wait_for_new_session(page, old: str) -> str:
    page.wait_for_function(f"(s => s && s !== '{old}')(document.getElementById('network').dataset.session)")
    return session_of(page)


@pytest.fixture(scope="module")
def playground(browser, server):
    page = open_playground(browser, server, "playground")
    yield page
    page.close()


def test_play_makes_the_loss_fall(playground):
    page = playground
    old = session_of(page)
    page.check("#features input[value=x1_squared]")  # the circle becomes easy: the loss falls within seconds
    old = wait_for_new_session(page, old)
    page.check("#features input[value=x2_squared]")
    wait_for_new_session(page, old)
    page.select_option("#speed", "20")
    start = float(page.inner_text("#train-loss"))
    page.click("#play")
    page.wait_for_function(f"Number(document.getElementById('train-loss').textContent) < {0.7 * start}", timeout=20_000)
    page.click("#play")  # pause
    assert page.inner_text("#play") == "Play"
    assert int(page.inner_text("#step-count")) > 0


def test_adding_a_neuron_grows_the_diagram(playground, server):
    page = playground
    neurons = page.locator("#network .neuron").count()
    edges = page.locator("#edges .edge").count()
    old = session_of(page)
    page.click('.add-neuron[data-layer="0"]')  # the first hidden layer: 4 → 5 neurons
    sid = wait_for_new_session(page, old)
    page.wait_for_function(f"document.querySelectorAll('#network .neuron').length === {neurons + 1}")
    assert page.locator('#network .neuron[data-layer="1"]').count() == 5
    assert page.locator("#edges .edge").count() == edges + 4 + 2  # 4 inputs in, 2 neurons of the next layer out
    assert api(page, server, "GET", f"/api/playground/{sid}/state")["config"]["hidden"] == [5, 2]


def test_step_advances_the_counter_by_one(playground, server):
    page = playground
    before = int(page.inner_text("#step-count"))
    page.click("#step")
    page.wait_for_function(f"document.getElementById('step-count').textContent === '{before + 1}'")
    time.sleep(0.3)  # a frame arriving now must not move it further
    assert page.inner_text("#step-count") == str(before + 1)
    assert api(page, server, "GET", f"/api/playground/{session_of(page)}/state")["step"] == before + 1


def test_trace_panel_gradients_equal_grad(playground, server):
    torch = need_module("torch", "pip install torch")
    page = playground
    sid = session_of(page)
    before = int(page.inner_text("#step-count"))
    api(page, server, "POST", f"/api/playground/{sid}/step", {"steps": 300})  # a network with something learnt
    page.wait_for_function(f"document.getElementById('step-count').textContent === '{before + 300}'")
    state = api(page, server, "GET", f"/api/playground/{sid}/state")
    index = 11
    position = page.evaluate(f"playgroundPointOnSurface({index})")
    page.click("#surface", position=position)
    page.wait_for_selector("#trace-panel:not([hidden])")
    assert page.get_attribute("#trace-panel", "data-point") == str(index)
    shown = {
        row.get_attribute("data-name"): np.array(json.loads(row.get_attribute("data-values")))
        for row in page.locator("#trace-grads tr[data-name]").all()
    }
    # the same loss in PyTorch, from the page's own weights and point: .grad after backward()
    features = state["config"]["features"]
    x1, x2, label = state["train_points"][index]
    table = {"x1": x1, "x2": x2, "x1_squared": x1 * x1 / 6, "x2_squared": x2 * x2 / 6}
    h = torch.tensor([[table[f] for f in features]], dtype=torch.float64)
    params = {}
    n_layers = len(state["weights"])
    for i in range(n_layers):
        w = params[f"layers.{i}.weight"] = torch.tensor(state["weights"][i], dtype=torch.float64, requires_grad=True)
        b = params[f"layers.{i}.bias"] = torch.tensor(state["biases"][i], dtype=torch.float64, requires_grad=True)
        h = h @ w.T + b
        if i < n_layers - 1:
            h = torch.tanh(h)
    torch.nn.functional.binary_cross_entropy_with_logits(
        h.reshape(-1), torch.tensor([label], dtype=torch.float64)
    ).backward()
    assert set(shown) == set(params)
    for name, p in params.items():
        np.testing.assert_allclose(shown[name], p.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)
    # walking the steps highlights the layer each belongs to
    total = int(page.inner_text("#trace-total"))
    assert total == len(page.locator("#trace-steps li").all()) >= 6
    page.click("#trace-next")
    assert page.inner_text("#trace-step") == "2"
    for _ in range(total):
        page.click("#trace-next")
    assert page.inner_text("#trace-step") == str(total)
    assert page.locator("#edges .edge.hot").count() == len(state["weights"][0]) * len(features)  # the first layer
    if SCREENSHOTS:
        page.click("#trace-prev")
        page.click("#trace-prev")
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / "playground-trace.png"), full_page=True)
    page.click("#trace-close")


def test_health_strip_names_vanishing_gradients(playground):
    page = playground
    old = session_of(page)
    page.select_option("#activation", "sigmoid")
    wait_for_new_session(page, old)  # else a later wait may take this session for the next click's
    for layers in range(3, 7):  # 2 hidden layers → 6
        old = session_of(page)
        page.click("#add-layer")
        wait_for_new_session(page, old)
        assert page.locator("#layer-buttons .layer-button").count() == layers
    page.click("#play")
    page.wait_for_selector('#health .finding[data-kind="vanishing_gradients"]', timeout=20_000)
    page.click("#play")
    assert "Vanishing gradients" in page.inner_text("#health")


def test_fast_clicks_end_on_the_last_network_without_a_message(playground, server):
    page = playground
    for _ in range(4):  # no waiting: each click ends the session the one before is still creating
        page.click("#remove-layer")
    page.wait_for_function("document.querySelectorAll('#layer-buttons .layer-button').length === 2")
    sid = session_of(page)
    assert api(page, server, "GET", f"/api/playground/{sid}/state")["config"]["hidden"] == [5, 2]
    assert page.locator("#error").is_hidden()
    assert page.inner_text("#layer-count") == "2 hidden layers"


def test_bad_value_shows_a_message_in_the_page(browser, server):
    page = open_playground(browser, server, "bad values", watch=False)  # a 400 is logged by Chromium itself
    page.fill("#learning_rate", "-1")
    page.dispatch_event("#learning_rate", "change")
    page.wait_for_selector("#error:not([hidden])")
    assert "learning_rate: -1 is out of range" in page.inner_text("#error")
    page.fill("#learning_rate", "0.03")
    page.dispatch_event("#learning_rate", "change")
    page.wait_for_selector("#error[hidden]", state="attached")
    page.close()


def test_two_tabs_train_independently_and_closed_tabs_end_their_sessions(browser, server, playground):
    playground.close()  # the module's tab ends first: its session must go
    a = open_playground(browser, server, "tab a")
    b = open_playground(browser, server, "tab b")
    assert session_of(a) != session_of(b)
    a.click("#play")
    a.wait_for_function("Number(document.getElementById('step-count').textContent) >= 30", timeout=20_000)
    a.click("#play")
    assert b.inner_text("#step-count") == "0"
    assert api(b, server, "GET", f"/api/playground/{session_of(b)}/state")["step"] == 0
    b.click("#step")
    b.wait_for_function("document.getElementById('step-count').textContent === '1'")
    assert int(a.inner_text("#step-count")) >= 30
    deadline = time.monotonic() + 10  # the module's closed tab may still be ending its session
    while api(a, server, "GET", "/api/playground")["sessions"] != 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert api(a, server, "GET", "/api/playground")["sessions"] == 2
    a.close()
    b.close()
    probe = browser.new_page()  # only for its request API
    deadline = time.monotonic() + 10
    while api(probe, server, "GET", "/api/playground")["sessions"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert api(probe, server, "GET", "/api/playground")["sessions"] == 0
    probe.close()


def test_drawing_a_one_gives_a_prediction(browser, server):
    page = open_page(browser, f"{server}/explorer/cnn", "cnn explorer")
    page.wait_for_selector("#status[data-ready]")
    box = page.locator("#draw").bounding_box()
    page.mouse.move(box["x"] + 142, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 145, box["y"] + 150, steps=8)
    page.mouse.move(box["x"] + 140, box["y"] + 245, steps=8)
    page.mouse.up()
    page.wait_for_selector("#prediction[data-class]")
    assert page.inner_text("#prediction") == "1"
    assert page.locator("#probabilities .bar").count() == 10
    assert page.locator('#layers .layer-row[data-layer="features.0"] canvas').count() == 6
    page.locator('#layers .layer-row[data-layer="features.3"] canvas').nth(2).click()
    assert "Filter 2 of features.3: 6 input channel(s)" in page.inner_text("#filter")
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "cnn-explorer.png"), full_page=True)
    page.locator("#samples button").nth(7).click()  # a test image of a 7
    page.wait_for_function("document.getElementById('prediction').dataset.class === '7'")
    page.close()


def test_attention_explorer_trains_and_shows_heads(browser, server):
    page = open_page(browser, f"{server}/explorer/attention", "attention explorer")
    page.fill("#steps", "200")
    page.click("#train")
    page.wait_for_selector("#train-status[data-trained]", timeout=30_000)
    page.wait_for_selector("#output[data-output]")
    assert page.get_attribute("#output", "data-output") == "62951413"  # 31415926 reversed
    assert page.locator("#heatmaps canvas").count() == 1
    page.hover("#output-tokens .token >> nth=0")
    weights = page.evaluate("[...document.querySelectorAll('#input-tokens .token')].map(t => t.style.background)")
    assert weights[7] and "rgba" in weights[7]
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "attention-explorer.png"), full_page=True)
    page.close()


def test_no_console_errors():
    errors = [m for m in console if m[1] in ("error", "pageerror")]
    assert errors == []
