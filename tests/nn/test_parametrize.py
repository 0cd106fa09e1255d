"""nn.utils.parametrize and nn.utils.parametrizations (weight_norm, spectral_norm) against torch 2.13 in float64:
the same state_dict keys, a torch state_dict loads and gives torch's outputs and gradients, SGD steps in training mode
give the same weights (spectral norm's u and v too), remove_parametrizations as torch, and a refused registration
names the module and the shapes and leaves the module as it was."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.nn.utils import parametrizations
from glassnet.nn.utils import parametrize as P

torch = pytest.importorskip("torch")
TP = torch.nn.utils.parametrize
TPS = torch.nn.utils.parametrizations

KINDS = ["linear", "conv", "convT"]


def _layers(kind):
    if kind == "linear":
        return gn.nn.Linear(3, 4).double(), torch.nn.Linear(3, 4).double(), (5, 3)
    if kind == "conv":
        return gn.nn.Conv2d(2, 3, 3).double(), torch.nn.Conv2d(2, 3, 3).double(), (2, 2, 5, 5)
    return gn.nn.ConvTranspose2d(2, 3, 3).double(), torch.nn.ConvTranspose2d(2, 3, 3).double(), (2, 2, 4, 4)


def _parametrized_pair(kind, method, **kwargs):
    """The same layer in glassnet and torch, parametrized by `method`, with torch's values loaded into glassnet."""
    g, t, shape = _layers(kind)
    getattr(parametrizations, method)(g, **kwargs)
    getattr(TPS, method)(t, **kwargs)
    state = t.state_dict()
    assert list(g.state_dict()) == list(state)
    g.load_state_dict({k: v.numpy() for k, v in state.items()})
    return g, t, np.random.default_rng(1).standard_normal(shape)


def _forward_backward(g, t, x):
    yg, yt = g(gn.tensor(x)), t(torch.tensor(x))
    np.testing.assert_allclose(yg.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    (yg * yg).sum().backward()
    (yt * yt).sum().backward()


def _assert_same_state(g, t, grads=True):
    tp = dict(t.named_parameters())
    assert [n for n, _ in g.named_parameters()] == list(tp)
    for name, p in g.named_parameters():
        np.testing.assert_allclose(p.detach().numpy(), tp[name].detach().numpy(), rtol=1e-10, atol=1e-12)
        if grads:
            np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=1e-10, atol=1e-12)
    tb = dict(t.named_buffers())
    assert [n for n, _ in g.named_buffers()] == list(tb)
    for name, b in g.named_buffers():
        np.testing.assert_allclose(b.numpy(), tb[name].numpy(), rtol=1e-10, atol=1e-12)


def _sgd_steps(g, t, x, steps=3):
    og = gn.optim.SGD(g.parameters(), lr=0.05)
    ot = torch.optim.SGD(t.parameters(), lr=0.05)
    for _ in range(steps):
        og.zero_grad()
        ot.zero_grad()
        _forward_backward(g, t, x)
        _assert_same_state(g, t)
        og.step()
        ot.step()
    _assert_same_state(g, t, grads=False)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dim", [0, 1, -1, None])
def test_weight_norm_state_dict_outputs_gradients_and_sgd_match_torch(kind, dim):
    g, t, x = _parametrized_pair(kind, "weight_norm", dim=dim)
    assert list(g.state_dict())[-2:] == ["parametrizations.weight.original0", "parametrizations.weight.original1"]
    assert type(g).__name__ == type(t).__name__ == "Parametrized" + type(t).__bases__[0].__name__
    np.testing.assert_allclose(g.weight.detach().numpy(), t.weight.detach().numpy(), rtol=1e-12)
    _sgd_steps(g, t, x)


@pytest.mark.parametrize("kind", KINDS)
def test_spectral_norm_trains_like_torch_u_and_v_included(kind):
    g, t, x = _parametrized_pair(kind, "spectral_norm")
    assert list(g.state_dict())[-3:] == [
        "parametrizations.weight.original", "parametrizations.weight.0._u", "parametrizations.weight.0._v"
    ]
    _sgd_steps(g, t, x)  # each training forward runs one power-iteration step on u, v (buffers, in place)
    g.eval()
    t.eval()
    u = g.parametrizations.weight[0]._u.numpy().copy()
    _forward_backward(g, t, x)  # evaluation: no power iteration
    np.testing.assert_array_equal(g.parametrizations.weight[0]._u.numpy(), u)
    _assert_same_state(g, t)


def test_spectral_norm_options_and_two_forwards_before_one_backward():
    g, t, x = _parametrized_pair("conv", "spectral_norm", n_power_iterations=3, dim=1, eps=1e-8)
    # a GAN discriminator's D(real) - D(fake): the second forward updates u, v before the first one's backward
    yg = g(gn.tensor(x)).sum() - g(gn.tensor(x[::-1].copy())).sum() * 2
    yt = t(torch.tensor(x)).sum() - t(torch.tensor(x[::-1].copy())).sum() * 2
    yg.backward()
    yt.backward()
    _assert_same_state(g, t)
    with pytest.raises(IndexError, match="dim 4 is out of range for a weight of shape"):
        parametrizations.spectral_norm(gn.nn.Linear(3, 4), dim=4)


def test_spectral_norm_of_a_vector_and_a_buffer():
    g, t = gn.nn.BatchNorm1d(4).double(), torch.nn.BatchNorm1d(4).double()
    parametrizations.spectral_norm(g)  # a 1-D weight: simply divided by its norm
    TPS.spectral_norm(t)
    g.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    _forward_backward(g, t, np.random.default_rng(2).standard_normal((6, 4)))
    _assert_same_state(g, t)


@pytest.mark.parametrize("leave", [True, False])
def test_remove_spectral_norm_keeps_the_parameter_object(leave):
    g, t, x = _parametrized_pair("linear", "spectral_norm")
    _sgd_steps(g, t, x, steps=1)
    original = g.parametrizations.weight.original
    P.remove_parametrizations(g, "weight", leave_parametrized=leave)
    TP.remove_parametrizations(t, "weight", leave_parametrized=leave)
    assert type(g) is gn.nn.Linear and not P.is_parametrized(g) and not hasattr(g, "parametrizations")
    assert g.weight is original and list(g.state_dict()) == list(t.state_dict()) == ["bias", "weight"]
    _forward_backward(g, t, x)
    _assert_same_state(g, t, grads=False)


def test_remove_weight_norm_leaves_a_new_parameter_or_refuses():
    g, t, x = _parametrized_pair("conv", "weight_norm")
    with pytest.raises(ValueError, match="Cannot leave unparametrized"):
        P.remove_parametrizations(g, "weight", leave_parametrized=False)
    assert P.is_parametrized(g, "weight")
    P.remove_parametrizations(g, "weight")
    TP.remove_parametrizations(t, "weight")
    assert type(g) is gn.nn.Conv2d and isinstance(g.weight, gn.nn.Parameter)
    _forward_backward(g, t, x)
    _assert_same_state(g, t)
    with pytest.raises(ValueError, match=r"Module Conv2d\(.*\) does not have a parametrization on weight"):
        P.remove_parametrizations(g, "weight")


class Symmetric(gn.nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(0, 1)

    def right_inverse(self, a):
        return a.triu()


class Scale(gn.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c, self.calls = c, 0

    def forward(self, x):
        self.calls += 1
        return x * self.c

    def right_inverse(self, a):
        return a / self.c


def test_stacked_custom_parametrizations_assignment_and_cache():
    layer = gn.nn.Linear(3, 3, bias=False).double()
    weight = layer.weight
    P.register_parametrization(layer, "weight", Symmetric())
    P.register_parametrization(layer, "weight", Scale(2.0))
    assert layer.parametrizations.weight.original is weight  # the optimiser's parameter stays the same object
    w = layer.weight.detach().numpy()
    np.testing.assert_allclose(w, w.T)
    target = np.array([[1.0, 2.0, 3.0], [2.0, 5.0, 6.0], [3.0, 6.0, 9.0]])
    layer.weight = gn.tensor(target)  # right_inverse: Scale's, then Symmetric's
    np.testing.assert_allclose(layer.weight.detach().numpy(), target)
    np.testing.assert_allclose(weight.detach().numpy(), np.triu(target) / 2)
    scale = layer.parametrizations.weight[1]
    scale.calls = 0
    with P.cached():
        first = layer.weight
        assert layer.weight is first and scale.calls == 1
    layer.weight.sum().backward()  # gradients reach the original through both parametrizations
    np.testing.assert_allclose(weight.grad.numpy(), 2 * (np.triu(np.ones((3, 3))) + np.triu(np.ones((3, 3)), 1)))
    P.remove_parametrizations(layer, "weight", leave_parametrized=False)
    np.testing.assert_allclose(layer.weight.detach().numpy(), np.triu(target) / 2)


class Head(gn.nn.Module):
    def forward(self, x):
        return x[:2]


def test_refused_registrations_name_the_module_and_shapes_and_change_nothing():
    layer = gn.nn.Linear(3, 4)
    keys, weight = list(layer.state_dict()), layer.weight
    with pytest.raises(ValueError, match=r"Module 'Linear\(in_features=3.*' does not have .* name 'wieght'"):
        P.register_parametrization(layer, "wieght", Symmetric())
    with pytest.raises(ValueError, match=r"Linear\(in_features=3.*\)\.weight: .*may not change the shape.*\n"
                                         r"unparametrized shape: \(4, 3\)\nparametrized shape: \(2, 3\)"):
        P.register_parametrization(layer, "weight", Head())
    assert type(layer) is gn.nn.Linear and list(layer.state_dict()) == keys and layer.weight is weight
    assert not P.is_parametrized(layer)
    P.register_parametrization(layer, "weight", Scale(3.0))
    with pytest.raises(ValueError, match=r"module.weight.shape: \(4, 3\)\nparametrization\(module.weight\)"
                                         r".shape: \(2, 3\)"):
        P.register_parametrization(layer, "weight", Head())
    assert len(layer.parametrizations.weight) == 1
    P.register_parametrization(layer, "weight", Head(), unsafe=True)  # allowed: the tensor's shape changes
    assert layer.weight.shape == (2, 3) and P.is_parametrized(layer, "weight") and not P.is_parametrized(layer, "bias")
    assert P.type_before_parametrizations(layer) is gn.nn.Linear


def test_deepcopy_dotted_import_and_float32_default():
    import copy

    import glassnet.nn.utils.parametrizations as by_dotted_name

    assert by_dotted_name is parametrizations
    layer = parametrizations.spectral_norm(gn.nn.Linear(3, 4)).eval()  # float32, as glassnet's default
    twin = copy.deepcopy(layer)
    assert type(twin) is type(layer) and twin.parametrizations.weight.original is not layer.weight
    x = gn.randn(2, 3)
    np.testing.assert_array_equal(twin(x).detach().numpy(), layer(x).detach().numpy())
    assert layer.weight.dtype == layer.parametrizations.weight[0]._u.dtype == gn.float32


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3), "conv"])
@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("use_trivialization", [True, False])
def test_orthogonal_trains_like_torch(shape, orthogonal_map, use_trivialization):
    if shape == "conv":  # a 4-D weight: a batch of 2x3 matrices
        g, t, xshape = gn.nn.Conv2d(3, 2, (2, 3)).double(), torch.nn.Conv2d(3, 2, (2, 3)).double(), (2, 3, 4, 5)
    else:
        g, t, xshape = gn.nn.Linear(*shape).double(), torch.nn.Linear(*shape).double(), (6, shape[0])
    g.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    options = {"orthogonal_map": orthogonal_map, "use_trivialization": use_trivialization}
    parametrizations.orthogonal(g, **options)
    TPS.orthogonal(t, **options)
    if shape == (4, 4) or not use_trivialization:  # no random completion of the basis: the same initial Q
        np.testing.assert_allclose(g.weight.detach().numpy(), t.weight.detach().numpy(), atol=1e-12)
    state = t.state_dict()
    assert list(g.state_dict()) == list(state)
    g.load_state_dict({k: v.numpy() for k, v in state.items()})
    _sgd_steps(g, t, np.random.default_rng(3).standard_normal(xshape))
    w = g.weight.detach().numpy()
    gram = w.swapaxes(-1, -2) @ w if w.shape[-2] >= w.shape[-1] else w @ w.swapaxes(-1, -2)
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(gram.shape[-1]), gram.shape), atol=1e-12)


def test_orthogonal_refuses_a_vector_and_an_unknown_map():
    with pytest.raises(ValueError, match=r"orthogonal: expected a matrix .* 1 dimensions \(shape \(4,\)\)"):
        parametrizations.orthogonal(gn.nn.Linear(3, 4), "bias")
    layer = gn.nn.Linear(3, 4)
    with pytest.raises(ValueError, match="orthogonal_map has to be one of .* Got: qr"):
        parametrizations.orthogonal(layer, orthogonal_map="qr")
    assert type(layer) is gn.nn.Linear


@pytest.mark.parametrize("method", ["weight_norm", "spectral_norm", "orthogonal"])
def test_compiled_step_replays_or_falls_back_and_equals_eager(method):
    """gn.compile: weight_norm is plain ops (captured, replayed to the bit); spectral norm's power iteration (array
    work on u, v) and orthogonal's matrix exponential (scaling chosen from the values) leave the step eager."""
    import warnings

    def setup():
        gn.manual_seed(4)
        model = getattr(parametrizations, method)(gn.nn.Linear(4, 4))
        opt = gn.optim.SGD(model.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            loss = (model(x) ** 2).sum()
            loss.backward()
            opt.step()
            return loss

        return model, step

    eager_model, eager_step = setup()
    model, step = setup()
    compiled = gn.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(3):
            x = gn.tensor(np.random.default_rng(seed).standard_normal((3, 4)).astype(np.float32))
            assert np.array_equal(eager_step(x).data, compiled(x).data)
    for a, b in zip(eager_model.state_dict().values(), model.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    if method == "weight_norm":
        assert (compiled.replays, compiled.fallback_reason) == (2, None)
    else:
        reason = "spectral norm's power iteration" if method == "spectral_norm" else "orthogonal's matrix exponential"
        assert compiled.replays == 0 and reason in compiled.fallback_reason


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_recurrent_layers_with_parametrized_weights(cls):
    """RNN/LSTM/GRU give torch's outputs and gradients with parametrized weights (evaluation mode: torch's RNNs
    read each weight two to four times per forward, and each read of a spectral-normed weight in training runs a
    power-iteration step; glassnet reads it once, so one training forward runs exactly one step)."""
    g, t = getattr(gn.nn, cls)(3, 4).double(), getattr(torch.nn, cls)(3, 4).double()
    parametrizations.spectral_norm(g, "weight_hh_l0")
    TPS.spectral_norm(t, "weight_hh_l0")
    parametrizations.orthogonal(g, "weight_ih_l0")
    TPS.orthogonal(t, "weight_ih_l0")
    g.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    g.eval()
    t.eval()
    x = np.random.default_rng(5).standard_normal((5, 2, 3))
    for _ in range(2):
        yg, yt = g(gn.tensor(x))[0], t(torch.tensor(x))[0]
        np.testing.assert_allclose(yg.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        yg.sum().backward()
        yt.sum().backward()
    _assert_same_state(g, t)
    g.train()
    t.train()
    g(gn.tensor(x))
    t.parametrizations.weight_hh_l0()  # one read in training mode: one power-iteration step
    _assert_same_state(g, t)


def test_cached_is_per_thread():
    import threading

    layer = P.register_parametrization(gn.nn.Linear(2, 2).double(), "weight", Scale(2.0))
    seen = {}
    with P.cached():
        first = layer.weight

        def other_thread():
            seen["fresh"] = layer.weight is not layer.weight  # no cache here: a new tensor on every read

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert layer.weight is first
    assert seen == {"fresh": True} and layer.weight is not first
