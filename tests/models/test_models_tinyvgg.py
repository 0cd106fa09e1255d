"""TinyVGG from CNN Explainer: the TF.js weights load in the right layout and classify the sample images.

The files live in ../shared/data/cnn-explainer-tinyvgg beside the clone (present in CI); the tests that need them
skip only when that directory is missing.
"""

import glob
import os
import shutil

import numpy as np
import pytest
from needs import need_module

import glassnet as gn
from glassnet.models.tinyvgg import (
    TINYVGG_CLASSES,
    TinyVGG,
    default_tinyvgg_dir,
    keras_to_state_dict,
    load_tinyvgg,
    preprocess_image,
    read_tfjs_weights,
)

MODEL_DIR = default_tinyvgg_dir()
NAME_TO_CLASS = {"boat": "lifeboat", "bug": "ladybug", "pizza": "pizza", "pepper": "bell pepper",
                 "bus": "school bus", "koala": "koala", "espresso": "espresso", "panda": "red panda",
                 "orange": "orange", "car": "sport car"}


@pytest.fixture(scope="module")
def model_dir():
    if not os.path.isdir(MODEL_DIR):
        pytest.skip(f"CNN Explainer's TinyVGG files are not at {MODEL_DIR} (set GLASSNET_DATA, or keep ../shared/data "
                    "beside the clone)")
    return MODEL_DIR


@pytest.fixture(scope="module")
def samples(model_dir):
    need_module("PIL", "pip install 'glassnet[images]'")
    paths = sorted(glob.glob(os.path.join(model_dir, "img", "*.jpeg")))
    return paths, np.stack([preprocess_image(p) for p in paths])


# ----- a channels-last reference written directly from the Keras layout --------------------------------------
def _conv_valid_hwc(x, kernel, bias):
    """Keras Conv2D (valid, stride 1): x (N, H, W, C), kernel (kh, kw, in, out)."""
    kh, kw = kernel.shape[:2]
    h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    out = np.zeros((x.shape[0], h, w, kernel.shape[3]))
    for i in range(kh):
        for j in range(kw):
            out += x[:, i:i + h, j:j + w, :] @ kernel[i, j]
    return out + bias


def _pool_hwc(x):
    n, h, w, c = x.shape
    return x[:, :h // 2 * 2, :w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _keras_logits(weights, x_hwc):
    a = x_hwc.astype(np.float64)
    for block in (("conv_1_1", "conv_1_2"), ("conv_2_1", "conv_2_2")):
        for name in block:
            a = np.maximum(_conv_valid_hwc(a, weights[f"{name}/kernel"], weights[f"{name}/bias"]), 0)
        a = _pool_hwc(a)
    return a.reshape(len(a), -1) @ weights["output/kernel"] + weights["output/bias"]  # channels-last flatten


def test_weights_load_with_manifest_shapes(model_dir):
    weights = read_tfjs_weights(model_dir)
    assert list(weights) == ["conv_1_1/kernel", "conv_1_1/bias", "conv_1_2/kernel", "conv_1_2/bias",
                             "conv_2_1/kernel", "conv_2_1/bias", "conv_2_2/kernel", "conv_2_2/bias",
                             "output/kernel", "output/bias"]
    model = load_tinyvgg(model_dir)
    assert not model.training
    assert model.conv_1_1.weight.shape == (10, 3, 3, 3)
    assert model.output.weight.shape == (10, 1690)
    assert sum(p.numel() for p in model.parameters()) == sum(w.size for w in weights.values()) == 19920


def test_matches_channels_last_reference(model_dir, samples):
    weights = read_tfjs_weights(model_dir)
    rng = np.random.default_rng(0)
    x = np.concatenate([samples[1][:4], rng.random((2, 3, 64, 64), dtype=np.float32)])
    expected = _keras_logits(weights, x.transpose(0, 2, 3, 1))
    with gn.no_grad():
        got = load_tinyvgg(model_dir)(gn.Tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_flatten_order_matters(model_dir, samples):
    """Loading the Dense rows without the (h, w, c) → (c, h, w) permutation gives different logits, so the
    reference comparison above really checks the permutation."""
    weights = read_tfjs_weights(model_dir)
    state = keras_to_state_dict(weights)
    state["output.weight"] = gn.Tensor(np.ascontiguousarray(weights["output/kernel"].T))
    naive = TinyVGG()
    naive.load_state_dict(state)
    x = gn.Tensor(samples[1][:4])
    with gn.no_grad():
        assert np.abs(naive(x).numpy() - load_tinyvgg(model_dir)(x).numpy()).max() > 1.0


def test_sample_images_classified(model_dir, samples):
    paths, images = samples
    assert len(paths) == 21
    with gn.no_grad():
        probabilities = load_tinyvgg(model_dir)(gn.Tensor(images)).softmax(dim=1).numpy()
    np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-5)
    named = [(NAME_TO_CLASS.get(os.path.basename(path).split("_")[0]), p) for path, p in zip(paths, probabilities)]
    scored = [(expected, TINYVGG_CLASSES[int(p.argmax())]) for expected, p in named if expected is not None]
    assert len(scored) == 20  # white.jpeg names no class
    correct = sum(expected == predicted for expected, predicted in scored)
    assert correct >= 14, f"TinyVGG classified {correct}/20 sample images correctly; measured 14/20 before"


def test_missing_files_error_names_them(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"model\.json.*group1-shard1of1\.bin.*nothing is downloaded"):
        load_tinyvgg(tmp_path)


def test_truncated_shard_is_refused(model_dir, tmp_path):
    shutil.copy(os.path.join(model_dir, "model.json"), tmp_path)
    with open(os.path.join(model_dir, "group1-shard1of1.bin"), "rb") as f:
        data = f.read()
    (tmp_path / "group1-shard1of1.bin").write_bytes(data[:-40])
    with pytest.raises(ValueError, match="too few for weight output/bias"):
        load_tinyvgg(tmp_path)


def test_wrong_input_shape_names_the_model():
    with pytest.raises(ValueError, match=r"TinyVGG got input of shape \(1, 3, 32, 32\)"):
        TinyVGG()(gn.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match=r"TinyVGG got input of shape \(1, 64, 64, 3\)"):
        TinyVGG()(gn.zeros(1, 64, 64, 3))


def test_preprocess_centre_crops_and_scales():
    image_module = need_module("PIL.Image", "pip install 'glassnet[images]'")
    pixels = np.zeros((80, 120, 3), dtype=np.uint8)
    pixels[:, 20:100] = 255  # the centred 80x80 square is white, the side bands black
    x = preprocess_image(image_module.fromarray(pixels))
    assert x.shape == (3, 64, 64) and x.dtype == np.float32
    assert x.min() == pytest.approx(1.0)  # the black bands were cropped away
    gray = preprocess_image(image_module.fromarray(np.full((64, 64), 51, dtype=np.uint8)))
    np.testing.assert_allclose(gray, 0.2, rtol=1e-6)
    with pytest.raises(TypeError, match="preprocess_image: expected a file path or a PIL image, got ndarray"):
        preprocess_image(pixels)
