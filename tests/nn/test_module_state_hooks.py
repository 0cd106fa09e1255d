"""state_dict / load_state_dict hooks of nn.Module against torch 2.13: the arguments and the call order on the same
module tree, a pre-hook that edits the (copied) state_dict, error_msgs → RuntimeError with nothing changed, post
hooks that clear missing keys (strict passes, as in torch), handle.remove(), and weight_norm's pre-hook that loads
a checkpoint of the older nn.utils.weight_norm."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import glassnet as gn
from glassnet.nn.utils import parametrizations

torch = pytest.importorskip("torch")


def _trees():
    gn.manual_seed(0)
    torch.manual_seed(0)
    g = gn.nn.Sequential(gn.nn.Linear(2, 3), gn.nn.Sequential(gn.nn.Linear(3, 3), gn.nn.Linear(3, 1))).double()
    t = torch.nn.Sequential(
        torch.nn.Linear(2, 3), torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 1))
    ).double()
    return g, t


def _record(model, calls):
    """Register the four hooks on every module; each call appends (kind, module path, prefix, ...)."""
    names = {id(m): name for name, m in model.named_modules()}
    handles = []
    for m in model.modules():
        handles.append(m.register_state_dict_pre_hook(
            lambda mod, prefix, keep_vars: calls.append(("save_pre", names[id(mod)], prefix, keep_vars))))
        handles.append(m.register_state_dict_post_hook(
            lambda mod, sd, prefix, meta: calls.append(("save_post", names[id(mod)], prefix, len(sd)))))
        handles.append(m.register_load_state_dict_pre_hook(
            lambda mod, sd, prefix, meta, strict, missing, unexpected, errors: calls.append(
                ("load_pre", names[id(mod)], prefix, sorted(sd), strict, list(missing), list(unexpected)))))
        handles.append(m.register_load_state_dict_post_hook(
            lambda mod, keys: calls.append(
                ("load_post", names[id(mod)], list(keys.missing_keys), list(keys.unexpected_keys)))))
    return handles


def _numpy_state(t):
    return {k: v.detach().numpy().copy() for k, v in t.state_dict().items()}


def test_hook_arguments_and_order_match_torch():
    g, t = _trees()
    state = _numpy_state(t)
    g_calls, t_calls = [], []
    _record(g, g_calls)
    _record(t, t_calls)
    assert list(g.state_dict(keep_vars=True)) == list(t.state_dict(keep_vars=True))
    del state["1.0.bias"]
    state["1.extra"] = np.zeros(1)
    g.load_state_dict(state, strict=False)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    assert g_calls == t_calls
    assert [c[0] for c in g_calls].count("load_post") == 5


def test_pre_hook_edits_a_copy_and_keys_are_renamed():
    g, t = _trees()
    state = {k.replace("1.1.", "1.last."): v for k, v in _numpy_state(t).items()}
    user = dict(state)

    def rename(mod, sd, prefix, *rest):
        for k in [k for k in sd if k.startswith(prefix + "last.")]:
            sd[k.replace("last.", "1.")] = sd.pop(k)

    for lib, model in (("gn", g), ("torch", t)):
        model[1].register_load_state_dict_pre_hook(rename)
        sd = state if lib == "gn" else {k: torch.from_numpy(v) for k, v in state.items()}
        assert model.load_state_dict(sd) == ([], [])
    assert list(state) == list(user) and all(state[k] is user[k] for k in user)  # the caller's dict untouched
    np.testing.assert_array_equal(g[1][1].weight.detach().numpy(), t[1][1].weight.detach().numpy())


@pytest.mark.parametrize("lib", ["gn", "torch"])
def test_error_msgs_raise_and_gn_changes_nothing(lib):
    g, t = _trees()
    model = g if lib == "gn" else t
    before = {k: np.array(v.numpy() if lib == "gn" else v.numpy()) for k, v in model.state_dict().items()}
    model[1][0].register_load_state_dict_pre_hook(lambda mod, sd, prefix, m, s, mk, uk, errors: errors.append("no!"))
    new = {k: v + 1.0 for k, v in before.items()}
    sd = new if lib == "gn" else {k: torch.from_numpy(v) for k, v in new.items()}
    with pytest.raises(RuntimeError, match="no!"):
        model.load_state_dict(sd)
    if lib == "gn":  # glassnet's load is all-or-nothing (torch has copied what it could)
        for k, v in g.state_dict().items():
            np.testing.assert_array_equal(v.numpy(), before[k])


@pytest.mark.parametrize("lib", ["gn", "torch"])
def test_post_hook_clearing_missing_keys_lets_strict_pass(lib):
    g, t = _trees()
    model = g if lib == "gn" else t
    state = _numpy_state(t)
    del state["0.bias"]
    sd = state if lib == "gn" else {k: torch.from_numpy(v) for k, v in state.items()}
    with pytest.raises(RuntimeError, match='Missing key.*"0.bias"'):
        model.load_state_dict(sd)
    seen = []

    def clear(mod, keys):
        seen.append(list(keys.missing_keys))
        keys.missing_keys.clear()

    handle = model.register_load_state_dict_post_hook(clear)
    assert model.load_state_dict(sd) == ([], [])
    assert seen == [["0.bias"]]
    handle.remove()
    with pytest.raises(RuntimeError, match="Missing key"):
        model.load_state_dict(sd)


def test_failing_strict_check_after_post_hooks_puts_values_back():
    g, t = _trees()
    before = {k: v.numpy().copy() for k, v in g.state_dict().items()}
    state = {k: v + 1.0 for k, v in before.items()}
    state["stray"] = np.zeros(1)
    loaded = []
    g.register_load_state_dict_post_hook(lambda mod, keys: loaded.append(mod[0].bias.detach().numpy().copy()))
    with pytest.raises(RuntimeError, match='Unexpected key.*"stray"'):
        g.load_state_dict(state)
    np.testing.assert_array_equal(loaded[0], before["0.bias"] + 1.0)  # the post hook saw the loaded values
    for k, v in g.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])  # and the failed load left none of them


def test_state_dict_post_hook_edits_in_place_and_must_return_none():
    g, t = _trees()
    for model in (g, t):
        def drop(mod, sd, prefix, meta):
            del sd[prefix + "0.bias"]

        h = model[1].register_state_dict_post_hook(drop)
        assert "1.0.bias" not in model.state_dict() and "0.bias" in model.state_dict()
        h.remove()
        assert "1.0.bias" in model.state_dict()
        model.register_state_dict_post_hook(lambda mod, sd, prefix, meta: sd)
        with pytest.raises(RuntimeError, match="must return None"):
            model.state_dict()


def test_handles_remove_and_no_hook_path_unchanged():
    g, _ = _trees()
    calls = []
    handles = _record(g, calls)
    for h in handles:
        h.remove()
    g.load_state_dict(g.state_dict())
    assert calls == []
    assert not any(m.__dict__[s] for m in g.modules() for s in ("_state_dict_pre_hooks", "_load_state_dict_pre_hooks"))


def test_deepcopy_keeps_hooks_and_old_instances_without_stores_still_work():
    g, _ = _trees()
    calls = []
    g.register_state_dict_pre_hook(lambda mod, prefix, keep_vars: calls.append(mod))
    c = copy.deepcopy(g)
    c.state_dict()
    assert calls == [c]
    old = gn.nn.Linear(2, 3)
    for store in ("_state_dict_pre_hooks", "_state_dict_hooks", "_load_state_dict_pre_hooks",
                  "_load_state_dict_post_hooks"):
        del old.__dict__[store]  # a module made before the stores existed
    old.load_state_dict(old.state_dict())
    old.register_load_state_dict_post_hook(lambda mod, keys: calls.append("post"))
    old.load_state_dict(old.state_dict())
    assert calls[-1] == "post"


@pytest.mark.parametrize("source", ["torch", "gn"])
def test_weight_norm_loads_an_old_weight_norm_checkpoint(source):
    torch.manual_seed(0)
    gn.manual_seed(0)
    if source == "torch":
        old = torch.nn.utils.weight_norm(torch.nn.Linear(3, 4).double())
        state = {k: v.detach().numpy() for k, v in old.state_dict().items()}
    else:
        old = gn.nn.utils.weight_norm(gn.nn.Linear(3, 4).double())
        state = {k: v.numpy() for k, v in old.state_dict().items()}
    assert set(state) == {"bias", "weight_g", "weight_v"}
    user = dict(state)
    new_t = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(3, 4).double())
    new_t.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    new_g = parametrizations.weight_norm(gn.nn.Linear(3, 4).double())
    assert new_g.load_state_dict(state) == ([], [])
    assert state == user
    x = np.random.default_rng(0).standard_normal((5, 3))
    out = new_g(gn.tensor(x)).detach().numpy()
    np.testing.assert_allclose(out, new_t(torch.from_numpy(x)).detach().numpy(), rtol=1e-10, atol=1e-10)
    expected = old(torch.from_numpy(x)).detach().numpy() if source == "torch" else old(gn.tensor(x)).detach().numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)
    assert list(new_g.state_dict()) == list(new_t.state_dict())


def test_state_hooks_do_not_count_as_forward_hooks():
    from glassnet.nn import module as M

    g, _ = _trees()
    forward_before, state_before = M._live_hooks, M._live_state_hooks
    h = g.register_load_state_dict_pre_hook(lambda *args: None)
    assert M._live_hooks == forward_before and M._live_state_hooks == state_before + 1  # module calls stay direct
    c = copy.deepcopy(g)
    assert M._live_state_hooks == state_before + 2
    h.remove()
    c.__dict__["_load_state_dict_pre_hooks"].clear()
    assert M._live_state_hooks == state_before


def test_failed_hooked_load_puts_back_device_values():
    from device_double import install

    install()
    net = gn.nn.Linear(3, 2).to("testgpu")
    before = net.weight.detach().cpu().numpy().copy()
    net.register_load_state_dict_post_hook(lambda mod, keys: None)
    state = {"weight": np.ones((2, 3)), "bias": np.ones(2), "stray": np.zeros(1)}
    with pytest.raises(RuntimeError, match="stray"):
        net.load_state_dict(state)
    np.testing.assert_array_equal(net.weight.detach().cpu().numpy(), before)
    assert net.weight.device == "testgpu"
    net.load_state_dict(state, strict=False)
    np.testing.assert_array_equal(net.weight.detach().cpu().numpy(), np.ones((2, 3)))
