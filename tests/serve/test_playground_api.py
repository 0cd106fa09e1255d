"""The playground's session API: training reaches the issue's target, seeds reproduce, one step is exactly one
optimiser update (checked against the formula with PyTorch), bad configurations are 4xx with a message, sessions are
bounded, the trace of a point equals `.grad`, concurrent sessions do not disturb each other, and the frame stream
ends its session when the page goes away."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from needs import need_module

need_module("starlette", "pip install 'glassnet[serve]'")
need_module("httpx", "pip install httpx")

from playground_app import make_app, serving  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

import glassnet as gn  # noqa: E402
from glassnet.serve.playground.config import ConfigError, parse_config  # noqa: E402
from glassnet.serve.playground.sessions import Session, SessionError, SessionManager  # noqa: E402

SPIRAL = {"dataset": "spiral", "hidden": [8, 8], "activation": "tanh", "learning_rate": 0.03}


@pytest.fixture(scope="module")
def client():
    with TestClient(make_app(max_sessions=4)) as c:
        yield c


def create(client, **config) -> str:
    r = client.post("/api/playground", json=config)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_spiral_reaches_low_test_loss_within_3000_steps(client):
    sid = create(client, **SPIRAL)
    first = client.get(f"/api/playground/{sid}/state").json()
    assert first["step"] == 0 and first["test_loss"] > 0.5  # an untrained network is near chance (log 2 = 0.69)
    r = client.post(f"/api/playground/{sid}/step", json={"steps": 3000}).json()
    assert r["step"] == 3000
    assert r["test_loss"] < 0.1, r
    client.delete(f"/api/playground/{sid}")


def test_same_seed_same_losses_other_seed_other_losses(client):
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        sid = create(client, dataset="xor", hidden=[4], seed=seed, optimizer="adam")
        runs[name] = [client.post(f"/api/playground/{sid}/step", json={"steps": n}).json() for n in (1, 7, 20)]
        client.delete(f"/api/playground/{sid}")
    assert runs["a"] == runs["b"]
    assert [r["step"] for r in runs["a"]] == [1, 8, 28]
    assert runs["a"][-1]["train_loss"] != runs["c"][-1]["train_loss"]


def _torch_gradients(state: dict, activation: str):
    """dL/dW of the mean BCE over all training points, computed by PyTorch from the page's weights and points."""
    torch = need_module("torch", "pip install torch")
    points = np.array(state["train_points"])
    x = torch.tensor(points[:, :2], dtype=torch.float64)
    y = torch.tensor(points[:, 2], dtype=torch.float64)
    weights = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in state["weights"]]
    biases = [torch.tensor(b, dtype=torch.float64, requires_grad=True) for b in state["biases"]]
    h = x
    for i, (w, b) in enumerate(zip(weights, biases)):
        h = h @ w.T + b
        if i < len(weights) - 1:
            h = getattr(torch, activation)(h)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(h.reshape(-1), y)
    loss.backward()
    return [w.grad.numpy() for w in weights], [b.grad.numpy() for b in biases]


@pytest.mark.parametrize("regularization", ["none", "l2", "l1"])
def test_one_step_is_exactly_one_sgd_update(client, regularization):
    lr, rate = 0.1, 0.01
    sid = create(
        client,
        dataset="circle",
        hidden=[3],
        activation="tanh",
        learning_rate=lr,
        batch_size=500,
        regularization=regularization,
        regularization_rate=rate,
    )  # batch ≥ training set: full batch
    before = client.get(f"/api/playground/{sid}/state").json()
    r = client.post(f"/api/playground/{sid}/step", json={"steps": 1}).json()
    assert r["step"] == 1
    after = client.get(f"/api/playground/{sid}/state").json()
    assert after["step"] == 1
    grad_w, grad_b = _torch_gradients(before, "tanh")
    for w0, w1, g in zip(before["weights"], after["weights"], grad_w):
        w0 = np.array(w0)
        penalty = {"none": 0.0, "l2": rate * w0, "l1": rate * np.sign(w0)}[regularization]
        np.testing.assert_allclose(np.array(w1), w0 - lr * (g + penalty), rtol=1e-4, atol=1e-6)
    for b0, b1, g in zip(before["biases"], after["biases"], grad_b):  # biases are not regularised
        np.testing.assert_allclose(np.array(b1), np.array(b0) - lr * g, rtol=1e-4, atol=1e-6)
    assert after["weights"] != before["weights"]
    client.delete(f"/api/playground/{sid}")


@pytest.mark.parametrize(
    "config, words",
    [
        ({"hidden": [2] * 9}, "9 hidden layers; at most 6"),
        ({"learning_rate": -0.1}, "learning_rate: -0.1 is out of range"),
        ({"dataset": "swiss_roll"}, "dataset: unknown value 'swiss_roll'"),
        ({"hidden": [9]}, "hidden[0]: 9 is out of range"),
        ({"features": []}, "features: expected a non-empty list"),
        ({"batch_size": 0}, "batch_size: 0 is out of range"),
        ({"learning_rate": "fast"}, "learning_rate: expected a number"),
        ({"momentum": 0.9}, "unknown field(s) momentum"),
    ],
)
def test_bad_configuration_is_400_with_a_message(client, config, words):
    r = client.post("/api/playground", json=config)
    assert r.status_code == 400
    assert words in r.json()["error"]


def test_bad_requests_are_4xx_with_a_message(client):
    r = client.post("/api/playground", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = client.post("/api/playground", content=b"{}", headers={"Content-Type": "text/plain"})  # a cross-site form
    assert r.status_code == 415 and "Content-Type: application/json" in r.json()["error"]
    r = client.post("/api/playground", json={}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "cross-site" in r.json()["error"]
    assert client.get("/api/playground/nope/state").status_code == 404
    sid = create(client)
    for body, words in (({"steps": 0}, "steps: expected an integer from 1"), ({"steps": "3"}, "steps: expected")):
        r = client.post(f"/api/playground/{sid}/step", json=body)
        assert r.status_code == 400 and words in r.json()["error"]
    r = client.post(f"/api/playground/{sid}/trace", json={"point": 10_000})
    assert r.status_code == 400 and "trace: point must be" in r.json()["error"]
    r = client.post(f"/api/playground/{sid}/play", json={"playing": "yes"})
    assert r.status_code == 400
    assert client.get(f"/api/playground/{sid}/state").json()["step"] == 0  # nothing changed
    assert client.delete(f"/api/playground/{sid}").json() == {"deleted": True}
    assert client.delete(f"/api/playground/{sid}").json() == {"deleted": False}


def test_session_limit_is_429(client):
    ids = [create(client) for _ in range(4)]
    r = client.post("/api/playground", json={})
    assert r.status_code == 429 and "limit" in r.json()["error"]
    assert client.get("/api/playground").json()["sessions"] == 4
    for sid in ids:
        client.delete(f"/api/playground/{sid}")
    assert client.get("/api/playground").json()["sessions"] == 0


def test_idle_sessions_are_dropped():
    now = [0.0]
    manager = SessionManager(max_sessions=2, idle_timeout=60, clock=lambda: now[0])
    a = manager.create(parse_config({}))
    now[0] = 30
    b = manager.create(parse_config({}))
    now[0] = 70  # a idle for 70 s, b for 40 s
    assert manager.reap() == [a.id]
    assert b.id in manager and a.id not in manager
    with pytest.raises(SessionError, match="idle for more than 60 s"):
        manager.get(a.id)


def test_trace_of_a_point_equals_backward_grad():
    session = Session(parse_config({"hidden": [3, 2], "features": ["x1", "x2", "x1_x2"], "seed": 5}))
    session.advance(25)
    traced = session.trace_point(7)
    assert traced["steps"][0]["number"] == 1 and traced["steps"][0]["layer"] == 2  # the loss, after the last layer
    assert {s["layer"] for s in traced["steps"]} == {0, 1, 2}
    model = session.model
    x = gn.Tensor(session._train_x.data[7:8])
    y = gn.Tensor(session._train_y.data[7:8])
    model.zero_grad()
    gn.nn.functional.binary_cross_entropy_with_logits(model(x), y).backward()
    for name, p in model.named_parameters():
        np.testing.assert_allclose(np.array(traced["gradients"][name]), p.grad.numpy(), rtol=1e-5, atol=1e-8)
    assert abs(traced["loss"] - session.trace_point(7)["loss"]) == 0  # tracing changes nothing


def _grad_mode_is_per_thread() -> bool:
    """Whether a no_grad() block in one thread leaves another thread's grad mode alone (as in PyTorch)."""
    inside, seen = threading.Event(), []

    def hold():
        with gn.no_grad():
            inside.set()
            time.sleep(0.2)

    t = threading.Thread(target=hold)
    t.start()
    inside.wait(5)
    seen.append(gn.is_grad_enabled())
    t.join()
    return seen == [True]


def test_concurrent_sessions_step_as_they_do_alone():
    if not _grad_mode_is_per_thread():
        pytest.xfail(
            "glassnet's grad mode is process-wide here: a session's no_grad() evaluation switches off the "
            "graph of another session's step (per-thread grad mode comes with the devices branch)"
        )
    configs = [dict(SPIRAL, seed=1, optimizer="adam"), dict(SPIRAL, activation="relu", seed=2, batch_size=5)]

    def run(config):
        session = Session(parse_config(config))
        return [session.advance(20)["train_loss"] for _ in range(15)]

    alone = [run(c) for c in configs]
    together: list = [None, None]
    start = threading.Barrier(2)

    def worker(i):
        start.wait()
        together[i] = run(configs[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert together == alone


def test_health_strip_finds_vanishing_gradients_with_deep_sigmoid():
    session = Session(parse_config({"hidden": [8] * 6, "activation": "sigmoid", "dataset": "xor"}))
    session.advance(40)
    kinds = {f["kind"] for f in session.frame()["findings"]}
    assert "vanishing_gradients" in kinds
    healthy = Session(parse_config({"hidden": [4], "activation": "tanh", "dataset": "xor"}))
    healthy.advance(40)
    assert "vanishing_gradients" not in {f["kind"] for f in healthy.frame()["findings"]}


def test_diverged_network_still_gives_valid_json(client):
    sid = create(
        client,
        dataset="spiral",
        hidden=[8, 8],
        activation="relu",
        learning_rate=10.0,
        features=["x1", "x2", "x1_squared", "x2_squared"],
        optimizer="momentum",
    )
    r = client.post(f"/api/playground/{sid}/step", json={"steps": 200})
    assert r.status_code == 200
    state = json.loads(client.get(f"/api/playground/{sid}/state").text)  # strict JSON: no NaN tokens
    assert state["train_loss"] is None or state["train_loss"] > 0.69
    client.delete(f"/api/playground/{sid}")


def test_config_refuses_what_the_page_cannot_send():
    with pytest.raises(ConfigError, match="features: unknown value 'x3'"):
        parse_config({"features": ["x3"]})
    with pytest.raises(ConfigError, match="seed: expected an integer"):
        parse_config({"seed": 1.5})
    assert parse_config({"features": ["x2", "x1"]}).features == ("x1", "x2")  # the diagram's fixed order


def test_frame_stream_plays_and_ends_the_session_when_closed():
    httpx = need_module("httpx", "pip install httpx")
    with serving(make_app()) as url:
        sid = httpx.post(f"{url}/api/playground", json={"hidden": [6] * 6}).json()["id"]
        frames = []
        with httpx.stream("GET", f"{url}/api/playground/{sid}/frames", timeout=10) as stream:
            httpx.post(f"{url}/api/playground/{sid}/play", json={"playing": True, "steps_per_frame": 2})
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    frames.append(json.loads(line[6:]))
                if len(frames) == 5:
                    break
        steps = [f["step"] for f in frames]
        assert steps == sorted(steps) and steps[-1] > steps[0]
        neurons = frames[-1]["maps"]["neurons"]
        assert [len(column) for column in neurons] == [2, 6, 6, 6, 6, 6, 6, 1]
        deadline = time.monotonic() + 5
        while httpx.get(f"{url}/api/playground").json()["sessions"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert httpx.get(f"{url}/api/playground").json()["sessions"] == 0
