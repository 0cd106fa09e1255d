"""The explorers: LeNet-5 trained on first use and cached as safetensors, every layer's maps, saliency and Grad-CAM
for an image, drawn digits placed as MNIST's are, TinyVGG when its files are there, the attention explorer's
reverser; bad input is a 4xx with a message."""

from __future__ import annotations

import base64
import os

import numpy as np
import pytest
from needs import need_module

need_module("starlette", "pip install 'glassnet[serve]'")

from playground_app import make_app  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

import glassnet as gn  # noqa: E402
from glassnet.data.datasets import load_mnist_small  # noqa: E402
from glassnet.models.tinyvgg import default_tinyvgg_dir  # noqa: E402
from glassnet.serve.playground.explorers import (  # noqa: E402
    LENET_FILE,
    AttentionExplorer,
    CNNExplorer,
    cache_dir,
    center_digit,
    train_lenet,
)


def decode(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=np.uint8)


@pytest.fixture(scope="module")
def lenet_cache(tmp_path_factory):
    """A cache folder holding a LeNet-5 trained for one epoch (so the app loads it instead of training)."""
    folder = tmp_path_factory.mktemp("cache")
    model, accuracy = train_lenet(epochs=1)
    assert accuracy > 0.6  # one epoch on 3,000 digits already reads most of them
    gn.save(model.state_dict(), folder / LENET_FILE)
    return folder


@pytest.fixture(scope="module")
def client(lenet_cache):
    saved = os.environ.get("GLASSNET_CACHE")
    os.environ["GLASSNET_CACHE"] = str(lenet_cache)
    try:
        with TestClient(make_app()) as c:
            yield c
    finally:
        if saved is None:
            del os.environ["GLASSNET_CACHE"]
        else:
            os.environ["GLASSNET_CACHE"] = saved


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("GLASSNET_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "glassnet"
    monkeypatch.setenv("GLASSNET_CACHE", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"


def test_lenet_is_trained_once_then_loaded_from_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("GLASSNET_CACHE", str(tmp_path))
    first = CNNExplorer(lenet_epochs=1)
    info = first.info("lenet")
    assert "trained at first launch" in info["note"] and (tmp_path / LENET_FILE).is_file()
    with open(tmp_path / LENET_FILE, "rb") as f:  # safetensors: an 8-byte header length, then a JSON header
        assert int.from_bytes(f.read(8), "little") > 0 and f.read(1) == b"{"
    second = CNNExplorer()
    assert second.info("lenet")["note"] == f"loaded from {tmp_path / LENET_FILE}"
    a, b = first._model("lenet"), second._model("lenet")
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)


def test_a_named_checkpoint_that_is_missing_is_a_404(tmp_path):
    explorer = CNNExplorer(lenet_checkpoint=tmp_path / "nope.safetensors")
    with pytest.raises(Exception, match="nope.safetensors does not exist"):
        explorer.info("lenet")


def test_analyze_a_test_digit_shows_every_layer(client):
    info = client.get("/api/explorer/cnn/lenet").json()
    assert info["classes"] == [str(d) for d in range(10)] and len(info["samples"]) == 10
    assert info["filters"]["features.0"]["shape"] == [6, 1, 5, 5]
    assert info["filters"]["features.3"]["shape"] == [16, 6, 5, 5]
    _, _, x_test, y_test = (t.numpy() for t in load_mnist_small())
    correct = 0
    for sample, digit in zip(info["samples"], range(10)):
        r = client.post("/api/explorer/cnn/lenet/analyze", json={"pixels": sample["pixels"]})
        assert r.status_code == 200, r.text
        result = r.json()
        correct += result["prediction"] == digit
    assert correct >= 6
    assert abs(sum(result["probabilities"]) - 1) < 1e-4
    shapes = {layer["name"]: layer["shape"] for layer in result["layers"]}
    assert shapes["features.0"] == [6, 28, 28] and shapes["features.5"] == [16, 5, 5]
    assert shapes["classifier.1"] == [120] and shapes["classifier.5"] == [10]
    conv = next(layer for layer in result["layers"] if layer["name"] == "features.0")
    assert len(conv["maps"]) == 6 and all(decode(m).size == 28 * 28 for m in conv["maps"])
    assert decode(result["saliency"]).size == 784 and decode(result["grad_cam"]).max() == 255


def test_analysis_matches_the_model(client, lenet_cache):
    _, _, x_test, _ = (t.numpy() for t in load_mnist_small())
    pixels = np.rint(x_test[3, 0] * 255).astype(int)
    result = client.post("/api/explorer/cnn/lenet/analyze", json={"pixels": pixels.ravel().tolist()}).json()
    model = gn.models.lenet.LeNet5()
    model.load_state_dict(gn.load(lenet_cache / LENET_FILE))
    model.eval()
    with gn.no_grad():
        logits = model(gn.Tensor((pixels / 255.0).astype(np.float32)[None, None])).numpy()[0]
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(result["probabilities"], expected, atol=1e-5)


def test_center_digit_places_a_stroke_like_mnist():
    image = np.zeros((28, 28), dtype=np.float32)
    image[2:8, 20:22] = 1.0  # a short stroke in a corner
    out = center_digit(image)
    rows, cols = np.nonzero(out > 0.05)
    assert rows.max() - rows.min() + 1 in (19, 20, 21)  # scaled to a 20-pixel box
    mass = out / out.sum()
    r, c = np.indices(out.shape)
    assert abs((r * mass).sum() - 13.5) <= 1 and abs((c * mass).sum() - 13.5) <= 1
    assert center_digit(np.zeros((28, 28))).sum() == 0


@pytest.mark.parametrize(
    "body, words",
    [
        ({"pixels": [0] * 10}, "must be 784 numbers"),
        ({"pixels": [300] * 784}, "must be 784 numbers 0..255"),
        ({"pixels": "abc"}, "got str"),
        ({"pixels": [0] * 784, "center": "yes"}, "'center' must be true or false"),
    ],
)
def test_bad_images_are_400(client, body, words):
    r = client.post("/api/explorer/cnn/lenet/analyze", json=body)
    assert r.status_code == 400 and words in r.json()["error"]


def test_unknown_model_and_image_are_404(client, tmp_path):
    assert client.get("/api/explorer/cnn/resnet").status_code == 404
    assert "unknown or unavailable model 'resnet'" in client.get("/api/explorer/cnn/resnet").json()["error"]
    assert client.get("/api/explorer/cnn/images/..%2F..%2Fmodel.json").status_code == 404


def test_tinyvgg_when_its_files_are_there():
    root = os.path.dirname(default_tinyvgg_dir())
    explorer = CNNExplorer(data_dir=root)
    if "tinyvgg" not in explorer.available():
        pytest.skip(f"CNN Explainer's TinyVGG files are not in {root}")
    info = explorer.info("tinyvgg")
    assert "koala" in info["classes"] and any(s["name"] == "koala_1.jpeg" for s in info["samples"])
    assert explorer.image_path("koala_1.jpeg").is_file()
    rng = np.random.default_rng(0)
    result = explorer.analyze("tinyvgg", rng.integers(0, 256, 3 * 64 * 64).tolist())
    names = [layer["name"] for layer in result["layers"]]
    assert names[:3] == ["input", "conv_1_1", "relu_1_1"] and result["layers"][1]["shape"] == [10, 62, 62]
    assert len(result["probabilities"]) == 10
    assert CNNExplorer(data_dir="/nonexistent").available() == ["lenet"]


def test_attention_explorer_learns_to_reverse(client):
    assert client.post("/api/explorer/attention/run", json={"digits": [1] * 8}).status_code == 409
    summary = client.post("/api/explorer/attention/train", json={"steps": 250}).json()
    assert summary["digit_accuracy"] > 0.9
    r = client.post("/api/explorer/attention/run", json={"digits": [3, 1, 4, 1, 5, 9, 2, 6]}).json()
    assert r["output"] == [6, 2, 9, 5, 1, 4, 1, 3]
    heads = np.array(r["layers"][0]["heads"])  # (heads, L, S)
    assert heads.shape == (1, 8, 8)
    np.testing.assert_allclose(heads.sum(-1), 1, atol=1e-3)
    assert (heads[0].argmax(1) == np.arange(8)[::-1]).mean() >= 0.75  # it looks at the mirrored position
    bad = client.post("/api/explorer/attention/run", json={"digits": [1, 2]})
    assert bad.status_code == 400 and "8 integers 0..9" in bad.json()["error"]


def test_attention_run_needs_training_first():
    explorer = AttentionExplorer()
    with pytest.raises(Exception, match="not trained yet"):
        explorer.run([0] * 8)
