"""The Optimizer base: parameter groups, zero_grad, hooks, and state_dict / load_state_dict in PyTorch's layout."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.optim import SGD, Adam, Optimizer

torch = pytest.importorskip("torch")


def _params(n=3, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [gn.Tensor(rng.standard_normal((n, 2)).astype(dtype), requires_grad=True) for _ in range(n)]


def _set_grads(params, k):
    rng = np.random.default_rng(100 + k)
    for p in params:
        p.grad = gn.Tensor(rng.standard_normal(p.shape).astype(p.dtype))


def _train(opt, params, steps, start=0):
    for k in range(start, start + steps):
        _set_grads(params, k)
        opt.step()


# ----- parameter groups ------------------------------------------------------------------------------
def test_defaults_fill_each_group():
    a, b, c = _params()
    opt = Adam([{"params": [a, b], "lr": 0.5}, {"params": c, "amsgrad": True}], lr=0.01)
    g0, g1 = opt.param_groups
    assert g0["lr"] == 0.5 and g0["betas"] == (0.9, 0.999) and g0["amsgrad"] is False
    assert g1["lr"] == 0.01 and g1["amsgrad"] is True and g1["params"][0] is c
    assert opt.defaults["lr"] == 0.01


def test_add_param_group():
    a, b, c = _params()
    opt = SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": [b, c], "lr": 0.01})
    assert len(opt.param_groups) == 2
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.01
    _train(opt, [a, b, c], 2)
    assert set(map(id, opt.state)) == {id(a), id(b), id(c)}
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_numpy_scalar_hyperparameters_become_python_numbers():
    (p,) = _params(1, np.float32)
    opt = SGD([p], lr=np.float64(0.1), momentum=np.float32(0.5))
    assert type(opt.param_groups[0]["lr"]) is float and type(opt.param_groups[0]["momentum"]) is float
    _train(opt, [p], 3)
    assert p.dtype == np.float32 and opt.state[p]["momentum_buffer"].dtype == np.float32


def test_named_parameters_are_accepted():
    a, b, _ = _params()
    opt = SGD([("w", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.param_groups[0]["params"][0] is a


@pytest.mark.parametrize(
    "params, error, message",
    [
        ([], ValueError, "empty parameter list"),
        (gn.Tensor([1.0], requires_grad=True), TypeError, "single Tensor"),
        ([np.zeros(3)], TypeError, "can only optimize Tensors"),
        ([{"params": {gn.Tensor([1.0], requires_grad=True)}}], TypeError, "not a set"),
    ],
)
def test_bad_parameter_lists(params, error, message):
    with pytest.raises(error, match=message):
        SGD(params, lr=0.1)


def test_non_leaf_tensors_are_refused():
    (p,) = _params(1)
    with pytest.raises(ValueError, match="non-leaf"):
        SGD([p * 2], lr=0.1)


def test_duplicate_parameter_in_a_group_warns():
    (p,) = _params(1)
    with pytest.warns(UserWarning, match="twice"):
        SGD([p, p], lr=0.1)


def test_repr_lists_groups():
    (p,) = _params(1)
    text = repr(SGD([p], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


# ----- zero_grad, step, hooks ------------------------------------------------------------------------------
def test_zero_grad_set_to_none_and_zeros():
    a, b, _ = _params()
    opt = SGD([a, b], lr=0.1)
    _set_grads([a, b], 0)
    grad_b = b.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is not None and not a.grad.data.any()
    assert b.grad is grad_b  # zeroed in place
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_step_skips_parameters_without_grad():
    a, b, _ = _params()
    before = b.data.copy()
    opt = Adam([a, b])
    a.grad = gn.Tensor(np.ones(a.shape))
    opt.step()
    np.testing.assert_array_equal(b.data, before)
    assert b not in opt.state


def test_step_hooks_run_around_the_update_and_can_be_removed():
    (p,) = _params(1)
    opt = SGD([p], lr=0.5)
    seen = []
    pre = opt.register_step_pre_hook(lambda o: seen.append(("pre", p.data.copy())))
    opt.register_step_post_hook(lambda o: seen.append(("post", p.data.copy())))
    p.grad = gn.Tensor(np.ones(p.shape))
    opt.step()
    assert [s for s, _ in seen] == ["pre", "post"]
    np.testing.assert_allclose(seen[0][1] - seen[1][1], 0.5)
    pre.remove()
    opt.step()
    assert [s for s, _ in seen] == ["pre", "post", "post"]


def test_subclass_writes_only_update():
    class SignSGD(Optimizer):
        def __init__(self, params, lr=0.01):
            super().__init__(params, dict(lr=lr))

        def update(self, param, grad, state, group):
            param.data -= group["lr"] * np.sign(grad)

    p = gn.Tensor(np.array([1.0, -1.0]), requires_grad=True)
    p.grad = gn.Tensor(np.array([3.0, -0.2]))
    SignSGD([p], lr=0.25).step()
    np.testing.assert_allclose(p.data, [0.75, -0.75])


# ----- state_dict ------------------------------------------------------------------------------------
def test_state_dict_layout_is_pytorchs():
    gp = _params()
    tp = [torch.tensor(p.data.copy(), requires_grad=True) for p in gp]
    gopt = Adam([{"params": gp[:2]}, {"params": gp[2:], "lr": 0.1}], amsgrad=True)
    topt = torch.optim.Adam([{"params": tp[:2]}, {"params": tp[2:], "lr": 0.1}], amsgrad=True, foreach=False)
    for k in range(3):
        _set_grads(gp, k)
        for p, q in zip(gp, tp):
            q.grad = torch.tensor(p.grad.data.copy())
        gopt.step()
        topt.step()
    gsd, tsd = gopt.state_dict(), topt.state_dict()
    assert list(gsd) == ["state", "param_groups"]
    assert sorted(gsd["state"]) == sorted(tsd["state"]) == [0, 1, 2]
    assert [g["params"] for g in gsd["param_groups"]] == [g["params"] for g in tsd["param_groups"]] == [[0, 1], [2]]
    for i in range(3):
        assert set(gsd["state"][i]) == set(tsd["state"][i])
        for key, value in gsd["state"][i].items():
            expected = tsd["state"][i][key]
            if key == "step":
                assert value == expected.item()
            else:
                np.testing.assert_allclose(value.data, expected.numpy(), rtol=1e-12)
    for g, t in zip(gsd["param_groups"], tsd["param_groups"]):
        for key, value in g.items():
            assert value == t[key], key


def test_state_dict_is_a_copy():
    params = _params()
    opt = SGD(params, lr=0.1, momentum=0.9)
    _train(opt, params, 2)
    sd = opt.state_dict()
    buf = sd["state"][0]["momentum_buffer"].data.copy()
    sd["param_groups"][0]["lr"] = 99.0
    _train(opt, params, 1, start=2)
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"].data, buf)
    assert opt.param_groups[0]["lr"] == 0.1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_state_dict_round_trip_continues_identically(dtype):
    ref = _params(dtype=dtype)
    opt = Adam([{"params": ref[:1], "lr": 0.05}, {"params": ref[1:]}], amsgrad=True, weight_decay=0.01)
    _train(opt, ref, 5)
    saved, saved_params = opt.state_dict(), [p.data.copy() for p in ref]
    _train(opt, ref, 5, start=5)

    new = [gn.Tensor(a, requires_grad=True) for a in saved_params]
    opt2 = Adam([{"params": new[:1]}, {"params": new[1:]}])
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == 0.05 and opt2.param_groups[1]["amsgrad"] is True
    assert opt2.param_groups[0]["params"][0] is new[0]
    _train(opt2, new, 5, start=5)
    for p, q in zip(ref, new):
        assert q.dtype == dtype
        np.testing.assert_array_equal(p.data, q.data)


def test_loading_a_converted_torch_state_dict_continues_like_torch():
    gp = _params()
    tp = [torch.tensor(p.data.copy(), requires_grad=True) for p in gp]
    topt = torch.optim.Adam(tp, lr=0.01, amsgrad=True, foreach=False)

    def torch_steps(ks):
        for k in ks:
            _set_grads(gp, k)
            for p, q in zip(gp, tp):
                q.grad = torch.tensor(p.grad.data.copy())
            topt.step()

    torch_steps(range(4))
    tsd = topt.state_dict()
    converted = {
        "state": {i: {k: gn.Tensor(v.numpy().copy()) for k, v in s.items()} for i, s in tsd["state"].items()},
        "param_groups": tsd["param_groups"],
    }
    new = [gn.Tensor(q.detach().numpy().copy(), requires_grad=True) for q in tp]
    gopt = Adam(new)
    gopt.load_state_dict(converted)
    assert isinstance(gopt.state[new[0]]["step"], float)
    _train(gopt, new, 6, start=4)
    torch_steps(range(4, 10))
    for p, q in zip(new, tp):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_loaded_state_is_cast_to_the_parameter_dtype_and_not_shared():
    params = _params()
    opt = SGD(params, lr=0.1, momentum=0.9)
    _train(opt, params, 2)
    sd = opt.state_dict()
    new = _params(dtype=np.float32)
    opt2 = SGD(new, lr=0.1, momentum=0.9)
    opt2.load_state_dict(sd)
    buf = opt2.state[new[0]]["momentum_buffer"]
    assert buf.dtype == np.float32
    _train(opt2, new, 1)
    assert sd["state"][0]["momentum_buffer"].dtype == np.float64  # the loaded dict is untouched


def test_load_state_dict_mismatches_are_explained():
    a, b, c = _params()
    opt = SGD([a, b], lr=0.1)
    with pytest.raises(ValueError, match="2 parameter groups"):
        opt.load_state_dict(SGD([{"params": [a]}, {"params": [b]}], lr=0.1).state_dict())
    with pytest.raises(ValueError, match="3 parameters in the loaded"):
        opt.load_state_dict(SGD([a, b, c], lr=0.1).state_dict())
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"a": 1})


def test_scalar_array_is_read_only_cached_and_bitwise_like_a_python_float():
    from glassnet.optim.optimizer import scalar_array

    lr = scalar_array(0.1, np.dtype(np.float32))
    assert lr.shape == () and lr.dtype == np.float32 and not lr.flags.writeable
    assert scalar_array(0.1, np.dtype(np.float32)) is lr
    g = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    np.testing.assert_array_equal(lr * g, 0.1 * g)
    with pytest.raises(ValueError):
        lr += 1


def test_an_optimiser_can_override_update_group():
    class Halve(Optimizer):
        def __init__(self, params):
            super().__init__(params, dict(lr=0.0))

        def update_group(self, group):
            for p in group["params"]:
                if p.grad is not None:
                    p.data *= 0.5

    p = gn.tensor([4.0], requires_grad=True)
    p.grad = gn.tensor([1.0])
    Halve([p]).step()
    assert p.tolist() == [2.0]
