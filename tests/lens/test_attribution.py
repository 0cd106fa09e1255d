"""Attribution methods against PyTorch (same weights), completeness of integrated gradients, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import glassnet as gn
from glassnet import nn
from glassnet.data import load_digits
from glassnet.lens.attribution import (
    grad_cam,
    gradient_x_input,
    integrated_gradients,
    occlusion,
    resize_bilinear,
    saliency,
    smoothgrad,
)
from glassnet.nn import functional as F


# ----- models: glassnet twins of small torch models, and briefly trained ones ---------------------------------
def _mlp_pair():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.Tanh(), torch.nn.Linear(32, 16), torch.nn.ReLU(),
                                 torch.nn.Linear(16, 10))
    ours = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 10))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _cnn(torch_module):
    """A small CNN for 1×8×8 digits: conv-relu-conv-relu-flatten-linear (index 2 is the last conv)."""
    if torch_module:
        t = torch.nn
        return t.Sequential(t.Conv2d(1, 4, 3, padding=1), t.ReLU(), t.Conv2d(4, 6, 3), t.ReLU(), t.Flatten(),
                            t.Linear(6 * 6 * 6, 10))
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(6 * 6 * 6, 10))


def _cnn_pair():
    torch.manual_seed(1)
    theirs = _cnn(True)
    ours = _cnn(False)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _train(model, x, y, epochs: int = 60):
    """A few full-batch Adam steps: enough to make the model a real, confident classifier."""
    opt = gn.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return loss.item()


@pytest.fixture(scope="module")
def digits():
    x_train, y_train, x_test, _ = load_digits()
    return x_train[:400], y_train[:400], x_test.numpy()[:6]


@pytest.fixture(scope="module")
def trained_mlp(digits):
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    loss = _train(model, digits[0], digits[1])
    assert loss < 0.5
    return model


@pytest.fixture(scope="module")
def trained_cnn(digits):
    gn.manual_seed(0)
    model = _cnn(False)
    loss = _train(model, digits[0][:200].reshape(-1, 1, 8, 8), digits[1][:200], epochs=30)
    assert loss < 1.0
    return model


def _torch_input_grad(model, x, target):
    xt = torch.tensor(x, requires_grad=True)
    out = model(xt)
    (g,) = torch.autograd.grad(out[torch.arange(len(x)), torch.as_tensor(target)].sum(), xt)
    return g.numpy(), out.detach().numpy()


# ----- saliency and gradient × input against torch -----------------------------------------------------------
@pytest.mark.parametrize("pair, shape", [(_mlp_pair, (5, 64)), (_cnn_pair, (5, 1, 8, 8))])
def test_saliency_and_gradient_x_input_match_torch(pair, shape):
    ours, theirs = pair()
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    target = [0, 3, 9, 1, 2]
    g, _ = _torch_input_grad(theirs, x, target)
    np.testing.assert_allclose(saliency(ours, x, target, absolute=False), g, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(saliency(ours, gn.tensor(x), target), np.abs(g), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(gradient_x_input(ours, x, target), g * x, atol=1e-5, rtol=1e-5)


def test_default_target_is_the_predicted_class():
    ours, theirs = _mlp_pair()
    x = np.random.default_rng(1).random((4, 64), dtype=np.float32)
    predicted = theirs(torch.tensor(x)).argmax(1).numpy()
    g, _ = _torch_input_grad(theirs, x, predicted)
    np.testing.assert_allclose(saliency(ours, x, absolute=False), g, atol=1e-5, rtol=1e-5)


# ----- Grad-CAM -----------------------------------------------------------------------------------------------
def _torch_grad_cam(model, layer, x, target, size):
    """Grad-CAM by hand in torch: channel weights = mean gradient over H, W; ReLU of the weighted sum; upsample."""
    kept = {}
    handle = layer.register_forward_hook(lambda m, a, out: kept.setdefault("a", out))
    out = model(torch.tensor(x))
    handle.remove()
    (g,) = torch.autograd.grad(out[torch.arange(len(x)), torch.as_tensor(target)].sum(), kept["a"])
    cam = torch.relu((g.mean(dim=(2, 3), keepdim=True) * kept["a"]).sum(1, keepdim=True))
    cam = torch.nn.functional.interpolate(cam, size=size, mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).max(1).values.clamp_min(1e-30)[:, None, None]
    return (cam / peak).detach().numpy()


def test_grad_cam_matches_a_hand_computed_torch_grad_cam():
    ours, theirs = _cnn_pair()
    x = np.random.default_rng(2).random((4, 1, 8, 8), dtype=np.float32)
    target = [1, 4, 7, 0]
    expected = _torch_grad_cam(theirs, theirs[2], x, target, (8, 8))
    cam = grad_cam(ours, ours[2], x, target)
    assert cam.shape == (4, 8, 8)
    assert cam.min() >= 0 and cam.max() <= 1 + 1e-6
    np.testing.assert_allclose(cam, expected, atol=1e-5)
    by_name = grad_cam(ours, "2", x, target, size=(12, 10))
    np.testing.assert_allclose(by_name, _torch_grad_cam(theirs, theirs[2], x, target, (12, 10)), atol=1e-5)


def test_resize_bilinear_matches_torch_interpolate():
    maps = np.random.default_rng(3).random((2, 5, 7))
    for size in [(11, 3), (5, 14), (2, 2)]:
        expected = torch.nn.functional.interpolate(torch.tensor(maps)[:, None], size=size, mode="bilinear",
                                                   align_corners=False)[:, 0].numpy()
        np.testing.assert_allclose(resize_bilinear(maps, size), expected, atol=1e-12)


def test_grad_cam_refuses_a_layer_that_is_not_convolutional():
    ours, _ = _cnn_pair()
    x = np.zeros((2, 1, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match=r"grad_cam: layer '5' \(Linear\) gives output \(2, 10\); expected .*4-D"):
        grad_cam(ours, ours[5], x)
    with pytest.raises(ValueError, match="grad_cam: .*not a submodule"):
        grad_cam(ours, nn.Conv2d(1, 1, 3), x)
    with pytest.raises(ValueError, match="grad_cam: model Sequential has no layer named 'features.9'"):
        grad_cam(ours, "features.9", x)


# ----- integrated gradients: completeness on trained models ----------------------------------------------------
@pytest.mark.parametrize("which", ["mlp", "cnn"])
def test_integrated_gradients_completeness_within_one_percent(which, digits, trained_mlp, trained_cnn):
    model, x = (trained_mlp, digits[2]) if which == "mlp" else (trained_cnn, digits[2].reshape(-1, 1, 8, 8))
    attribution, gap = integrated_gradients(model, x, steps=64, return_delta=True)
    assert attribution.shape == x.shape
    with gn.no_grad():
        out = model(gn.tensor(x)).numpy()
        base = model(gn.tensor(np.zeros_like(x))).numpy()
    target = out.argmax(1)
    change = out[np.arange(len(x)), target] - base[np.arange(len(x)), target]
    np.testing.assert_allclose(attribution.reshape(len(x), -1).sum(1) - change, gap, atol=1e-4)
    assert np.all(np.abs(gap) < 0.01 * np.abs(change)), (gap, change)


@pytest.mark.parametrize("method", ["riemann_left", "riemann_right", "riemann_middle", "gausslegendre"])
def test_integrated_gradients_methods_converge(method, digits, trained_mlp):
    x = digits[2][:2]
    reference = integrated_gradients(trained_mlp, x, steps=256, batch_size=256)
    attribution = integrated_gradients(trained_mlp, x, steps=128, method=method, batch_size=256)
    assert np.abs(attribution - reference).max() < 0.02 * np.abs(reference).max()


def test_integrated_gradients_of_a_linear_model_is_weight_times_difference():
    model = nn.Linear(6, 3)
    x = np.random.default_rng(4).random((3, 6), dtype=np.float32)
    baseline = np.full(6, 0.5, dtype=np.float32)
    attribution = integrated_gradients(model, x, target=2, baseline=baseline, steps=2)
    expected = model.weight.detach().numpy()[2] * (x - baseline)
    np.testing.assert_allclose(attribution, expected, atol=1e-6)


# ----- SmoothGrad ---------------------------------------------------------------------------------------------
def test_smoothgrad_without_noise_equals_saliency(trained_cnn, digits):
    x = digits[2].reshape(-1, 1, 8, 8)
    for absolute in (True, False):
        np.testing.assert_allclose(smoothgrad(trained_cnn, x, samples=1, noise=0.0, absolute=absolute),
                                   saliency(trained_cnn, x, absolute=absolute), atol=1e-7)


def test_smoothgrad_averages_noisy_gradients_reproducibly(trained_mlp, digits):
    x = digits[2][:3]
    a = smoothgrad(trained_mlp, x, samples=8, noise=0.2, seed=5, batch_size=5)
    assert a.shape == x.shape and np.all(a >= 0)
    np.testing.assert_array_equal(a, smoothgrad(trained_mlp, x, samples=8, noise=0.2, seed=5, batch_size=5))
    # Another batch size gives the same noise draws; only BLAS's summation order (which depends on the CPU's kernel
    # and the matrix sizes) may differ, by float32 rounding.
    np.testing.assert_allclose(a, smoothgrad(trained_mlp, x, samples=8, noise=0.2, seed=5), rtol=1e-5, atol=1e-6)
    assert not np.allclose(a, saliency(trained_mlp, x))


# ----- occlusion ----------------------------------------------------------------------------------------------
class _LooksAtOneRegion(nn.Module):
    """Scores depend only on x[:, :, 3:5, 6:8] (rows 3-4, columns 6-7)."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(2 * 2 * 2, 3)

    def forward(self, x):
        return self.head(x[:, :, 3:5, 6:8].reshape(x.shape[0], -1).tanh())


def test_occlusion_lights_up_only_where_the_model_looks():
    gn.manual_seed(0)
    model = _LooksAtOneRegion()
    x = np.random.default_rng(5).random((3, 2, 10, 12), dtype=np.float32) + 0.5
    region = np.zeros((10, 12), dtype=bool)
    region[3:5, 6:8] = True
    exact = occlusion(model, x, target=1, window=1, stride=1)
    assert exact.shape == (3, 10, 12)
    assert np.all(exact[:, ~region] == 0) and np.all(exact[:, region] != 0)
    wide = occlusion(model, x, target=1, window=3, stride=2, batch_size=7)
    near = np.zeros_like(region)
    near[1:7, 4:10] = True  # any 3-wide window touching the region lies within 2 of it
    assert np.all(wide[:, ~near] == 0) and np.all(np.abs(wide[:, region]) > 0)


def test_occlusion_of_flat_features_matches_score_drop():
    model = nn.Linear(5, 2)
    x = np.random.default_rng(6).random((2, 5), dtype=np.float32)
    drop = occlusion(model, x, target=0, window=1, stride=1)
    np.testing.assert_allclose(drop, model.weight.detach().numpy()[0] * x, atol=1e-6)


# ----- token sequences ----------------------------------------------------------------------------------------
class _TokenClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 6)
        self.mix = nn.Linear(6, 6)
        self.head = nn.Linear(6, 4)

    def forward(self, ids):
        return self.head(self.mix(self.embed(ids)).tanh().mean(dim=1))


def _torch_token_grads(model, ids, target):
    state = {k: torch.tensor(v.detach().numpy()) for k, v in model.state_dict().items()}
    e = torch.nn.functional.embedding(torch.tensor(ids), state["embed.weight"]).requires_grad_(True)
    h = torch.tanh(torch.nn.functional.linear(e, state["mix.weight"], state["mix.bias"])).mean(1)
    out = torch.nn.functional.linear(h, state["head.weight"], state["head.bias"])
    (g,) = torch.autograd.grad(out[torch.arange(len(ids)), torch.as_tensor(target)].sum(), e)
    return g.numpy(), e.detach().numpy()


def test_token_attributions_at_the_embedding():
    gn.manual_seed(3)
    model = _TokenClassifier()
    ids = np.random.default_rng(7).integers(0, 20, size=(3, 7))
    target = [0, 2, 3]
    g, e = _torch_token_grads(model, ids, target)
    sal = saliency(model, ids, target, embedding=model.embed)
    assert sal.shape == (3, 7)
    np.testing.assert_allclose(sal, np.linalg.norm(g, axis=-1), atol=1e-5)
    np.testing.assert_allclose(gradient_x_input(model, ids, target, embedding="embed"), (g * e).sum(-1), atol=1e-5)
    attribution, gap = integrated_gradients(model, ids, target, embedding=model.embed, return_delta=True)
    assert attribution.shape == (3, 7)
    with gn.no_grad():
        f_x = model(gn.tensor(ids)).numpy()[np.arange(3), target]
        f_0 = model.head(model.mix(gn.zeros(3, 7, 6)).tanh().mean(dim=1)).numpy()[np.arange(3), target]
    assert np.all(np.abs(attribution.sum(1) - (f_x - f_0)) < 0.01 * np.abs(f_x - f_0))
    np.testing.assert_allclose(gap, attribution.sum(1) - (f_x - f_0), atol=1e-5)
    smooth = smoothgrad(model, ids, target, samples=1, noise=0.0, embedding=model.embed)
    np.testing.assert_allclose(smooth, sal, atol=1e-6)


def test_token_integrated_gradients_on_gpt():
    gpt = gn.models.GPT(vocab_size=11, block_size=8, n_layer=1, n_head=2, d_model=16)
    ids = np.random.default_rng(8).integers(0, 11, size=(2, 6))
    attribution, gap = integrated_gradients(gpt, ids, target=3, embedding=gpt.wte, steps=64, return_delta=True)
    assert attribution.shape == (2, 6)
    with gn.no_grad():
        f_x = gpt(gn.tensor(ids))[0].numpy()[:, -1, 3]
        with gpt.wte.register_forward_hook(lambda m, args, out: gn.zeros(*out.shape)):  # the zero baseline
            f_0 = gpt(gn.tensor(ids))[0].numpy()[:, -1, 3]
    np.testing.assert_allclose(gap, attribution.sum(1) - (f_x - f_0), atol=1e-5)
    assert np.all(np.abs(gap) < 0.01 * np.abs(f_x - f_0))


# ----- the model is left as it was -----------------------------------------------------------------------------
def test_model_grads_and_training_mode_are_untouched():
    ours, _ = _cnn_pair()
    ours.train()
    ours[1].eval()  # a mixed state must come back exactly
    marks = {}
    for name, p in ours.named_parameters():
        if name.startswith("0."):
            p.grad = gn.tensor(np.full(p.shape, 7.0, dtype=np.float32))
        marks[name] = p.grad
    x = np.random.default_rng(9).random((2, 1, 8, 8), dtype=np.float32)
    saliency(ours, x)
    gradient_x_input(ours, x)
    integrated_gradients(ours, x, steps=4)
    smoothgrad(ours, x, samples=2)
    grad_cam(ours, ours[0], x)
    occlusion(ours, x, window=4, stride=4)
    with pytest.raises(ValueError):
        grad_cam(ours, ours[5], x)  # an error part-way must restore too
    assert [m.training for m in ours] == [True, False, True, True, True, True] and ours.training
    for name, p in ours.named_parameters():
        assert p.grad is marks[name]


def test_dropout_is_off_while_explaining():
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3)).train()
    x = np.random.default_rng(10).random((4, 8), dtype=np.float32)
    np.testing.assert_array_equal(saliency(model, x, target=1), saliency(model, x, target=1))
    assert model.training


# ----- bad input ----------------------------------------------------------------------------------------------
def test_bad_input_is_refused_with_clear_errors():
    ours, _ = _mlp_pair()
    x = np.zeros((2, 64), dtype=np.float32)
    with pytest.raises(TypeError, match="saliency: x must be a glassnet Tensor or a NumPy array, got list"):
        saliency(ours, [[0.0] * 64])
    with pytest.raises(ValueError, match=r"gradient_x_input: x of shape \(64,\); expected a non-empty batch"):
        gradient_x_input(ours, np.zeros(64, dtype=np.float32))
    with pytest.raises(ValueError, match="saliency: target 10 is out of range for a model with 10 classes"):
        saliency(ours, x, target=10)
    with pytest.raises(ValueError, match="smoothgrad: target -1 is out of range"):
        smoothgrad(ours, x, target=[1, -1])
    with pytest.raises(ValueError, match=r"saliency: target of shape \(3,\); expected one int or 2 ints"):
        saliency(ours, x, target=[1, 2, 3])
    with pytest.raises(TypeError, match="saliency: target must be an int"):
        saliency(ours, x, target=1.5)
    with pytest.raises(ValueError, match="integrated_gradients: steps must be an int ≥ 1, got 0"):
        integrated_gradients(ours, x, steps=0)
    with pytest.raises(ValueError, match="integrated_gradients: unknown method 'simpson'"):
        integrated_gradients(ours, x, method="simpson")
    with pytest.raises(ValueError, match="integrated_gradients: baseline of shape"):
        integrated_gradients(ours, x, baseline=np.zeros(3))
    with pytest.raises(TypeError, match="saliency: x has dtype int64; expected floating inputs"):
        saliency(ours, np.zeros((2, 64), dtype=np.int64))
    with pytest.raises(ValueError, match="saliency: the embedding Embedding is not a submodule"):
        saliency(ours, np.zeros((2, 3), dtype=np.int64), embedding=nn.Embedding(4, 2))
    with pytest.raises(TypeError, match="occlusion: model must be a glassnet nn.Module"):
        occlusion(lambda t: t, x)
    with pytest.raises(ValueError, match="occlusion: window 0"):
        occlusion(ours, x, window=0)
    with pytest.raises(ValueError, match="smoothgrad: noise must be a fraction"):
        smoothgrad(ours, x, noise=-1.0)
