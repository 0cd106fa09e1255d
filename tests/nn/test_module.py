"""Module: registration, iteration, modes, dtype conversion, state_dict, hooks and repr."""

import copy

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn as nn
from glassnet.nn import Parameter


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = Parameter(gn.ones(4))
        self.register_buffer("count", gn.zeros(1))
        self.register_buffer("cache", gn.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.block(x).relu())


# ----- Parameter ------------------------------------------------------------------------------------------
def test_parameter_is_a_leaf_tensor_that_requires_grad():
    p = Parameter(gn.randn(2, 3))
    assert isinstance(p, gn.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not Parameter(gn.zeros(2), requires_grad=False).requires_grad
    assert type(p * 2) is gn.Tensor  # results of ops are plain tensors


def test_parameter_shares_values_with_the_tensor_it_wraps():
    t = gn.zeros(3)
    p = Parameter(t)
    t.data[0] = 5
    assert p.data[0] == 5


# ----- registration ---------------------------------------------------------------------------------------
def test_registration_of_parameters_buffers_and_submodules():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["block.scale", "block.fc.weight", "block.fc.bias",
                                                     "head.weight", "head.bias"]
    assert [n for n, _ in net.named_buffers()] == ["block.count", "block.cache"]
    assert [n for n, _ in net.named_children()] == ["block", "head"]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "head"]
    assert list(net.children()) == [net.block, net.head]
    assert len(list(net.modules())) == 4
    assert len(list(net.parameters(recurse=False))) == 0
    assert list(net.state_dict()) == ["block.scale", "block.count", "block.fc.weight", "block.fc.bias",
                                      "head.weight", "head.bias"]


def test_reassignment_keeps_order_and_moves_between_kinds():
    m = nn.Module()
    m.a = Parameter(gn.zeros(1))
    m.b = Parameter(gn.zeros(1))
    m.a = Parameter(gn.ones(1))
    assert [n for n, _ in m.named_parameters()] == ["a", "b"]
    with pytest.raises(TypeError, match="cannot assign 'Linear' as parameter 'b'"):  # as in PyTorch
        m.b = nn.Linear(1, 1)
    del m.b
    assert not hasattr(m, "b")
    m.b = nn.Linear(1, 1)
    assert [n for n, _ in m.named_parameters()] == ["a", "b.weight", "b.bias"]
    m.a = None  # a parameter slot may be emptied
    assert "a" not in dict(m.named_parameters()) and m.a is None
    m.b = Parameter(gn.zeros(2))  # a parameter may replace a submodule
    assert list(m._modules) == [] and m.b.shape == (2,)


def test_shared_parameters_and_modules_appear_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as in PyTorch


def test_assignment_errors():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        m.weight = gn.zeros(2, 2)
    with pytest.raises(TypeError, match="Tensor or None expected"):
        nn.BatchNorm1d(2).running_mean = np.zeros(2)

    class NoInit(nn.Module):
        def __init__(self):
            self.w = Parameter(gn.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        NoInit()
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("in_features", gn.zeros(1))
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError, match="Parameter expected"):
        m.register_parameter("c", gn.zeros(1))


def test_plain_tensor_attributes_are_not_registered():
    m = nn.Module()
    m.t = gn.zeros(2)
    assert list(m.parameters()) == [] and list(m.buffers()) == []
    assert "t" in dir(m)


def test_forward_is_required_and_call_needs_init():
    with pytest.raises(NotImplementedError, match="Module has no forward"):
        nn.Module()(1)

    class Broken(nn.Module):
        def __init__(self):
            pass

        def forward(self, x):
            return x

    with pytest.raises(RuntimeError, match=r"super\(\).__init__"):
        Broken()(1)


def test_get_submodule_and_parameter():
    net = Net()
    assert net.get_submodule("block.fc") is net.block.fc
    assert net.get_parameter("block.fc.weight") is net.block.fc.weight
    with pytest.raises(AttributeError, match="no submodule 'nope'"):
        net.get_submodule("block.nope")


def test_missing_attribute_error_names_the_class():
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nothing'"):
        Net().nothing


# ----- modes and bulk operations ----------------------------------------------------------------------------
def test_train_eval_propagate():
    net = Net()
    assert net.training and net.block.fc.training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError):
        net.train("yes")


def test_zero_grad_and_requires_grad():
    net = Net()
    net(gn.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.block.requires_grad_(False)
    assert [n for n, p in net.named_parameters() if p.requires_grad] == ["head.weight", "head.bias"]
    net(gn.randn(5, 3)).sum().backward()
    assert net.block.fc.weight.grad is None and net.head.weight.grad is not None


def test_apply_visits_children_first():
    order = []
    Net().apply(lambda m: order.append(type(m).__name__))
    assert order == ["Linear", "Block", "Linear", "Net"]


def test_to_dtype_converts_in_place_and_keeps_identity():
    net = Net()
    bn = nn.BatchNorm1d(4)
    net.bn = bn
    w = net.head.weight
    net(gn.randn(2, 3)).sum().backward()
    assert net.double() is net
    assert net.head.weight is w and w.dtype == np.float64 and w.grad.dtype == np.float64
    assert bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    assert net(gn.randn(2, 3, dtype=gn.float64)).dtype == np.float64
    net.to(gn.float32)
    assert w.dtype == np.float32
    net.to("cpu", dtype="float64")
    assert w.dtype == np.float64
    net.float()
    assert w.dtype == np.float32
    if not gn.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            net.to("cuda")
        assert w.dtype == np.float32 and w.device == "cpu"  # nothing moved


def test_deepcopy_is_independent():
    net = Net()
    twin = copy.deepcopy(net)
    twin.head.weight.data[...] = 0
    assert net.head.weight.detach().numpy().any()
    assert isinstance(twin.head.weight, Parameter)
    x = gn.randn(2, 3)
    twin.load_state_dict(net.state_dict())
    np.testing.assert_array_equal(twin(x).detach().numpy(), net(x).detach().numpy())


# ----- state_dict ------------------------------------------------------------------------------------------
def test_state_dict_is_detached_and_shares_values():
    net = Net()
    sd = net.state_dict()
    assert "block.cache" not in sd  # non-persistent buffer
    assert not sd["head.weight"].requires_grad and not isinstance(sd["head.weight"], Parameter)
    assert sd["head.weight"].data is net.head.weight.data
    assert net.state_dict(keep_vars=True)["head.weight"] is net.head.weight


def test_load_state_dict_round_trip_from_arrays_and_tensors():
    a, b = Net(), Net()
    b.load_state_dict({k: v.numpy() for k, v in a.state_dict().items()})
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
        assert p.data is not q.data  # values are copied in
    b.load_state_dict(Net().state_dict())
    w = b.head.weight
    b.load_state_dict({k: v.numpy().astype(np.float64) for k, v in a.state_dict().items()})
    assert b.head.weight is w and w.dtype == np.float32  # loading keeps the parameter and its dtype


def test_load_state_dict_lists_every_problem_and_changes_nothing():
    net = Net()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    bad = {k: v.numpy() * 0 for k, v in net.state_dict().items()}
    del bad["head.bias"]
    bad["head.weight"] = np.zeros((3, 4), dtype=np.float32)
    bad["extra.weight"] = np.zeros(1)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(bad)
    msg = str(info.value)
    assert "Error(s) in loading state_dict for Net" in msg
    assert 'Missing key(s) in state_dict: "head.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    assert "size mismatch for head.weight: copying a param with shape (3, 4) from checkpoint, " \
           "the shape in current model is (2, 4)" in msg
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_load_state_dict_non_strict_returns_missing_and_unexpected():
    net = Net()
    sd = {k: v.numpy() * 0 for k, v in net.state_dict().items()}
    del sd["head.bias"]
    sd["other"] = np.ones(2)
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert missing == ["head.bias"] and unexpected == ["other"]
    assert not net.head.weight.detach().numpy().any()
    sd["head.weight"] = np.zeros((9, 9))
    with pytest.raises(RuntimeError, match="size mismatch for head.weight"):  # shapes are checked even then
        net.load_state_dict(sd, strict=False)
    with pytest.raises(TypeError):
        net.load_state_dict([1, 2])


def test_load_state_dict_from_pytorch_mlp():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    gm = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    gm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    np.testing.assert_allclose(gm(gn.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(), atol=1e-6)
    fresh = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    fresh.load_state_dict(tm.state_dict())  # CPU torch tensors are read through the array protocol too
    np.testing.assert_array_equal(fresh[0].weight.detach().numpy(), tm[0].weight.detach().numpy())


# ----- hooks --------------------------------------------------------------------------------------------------
def test_forward_pre_hook_and_forward_hook_can_replace_values():
    lin = nn.Linear(2, 2)
    seen = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: seen.append(out.shape) or out + 1)
    x = gn.randn(3, 2)
    out = lin(x)
    expected = lin.bias.detach().numpy() + 1
    np.testing.assert_allclose(out.detach().numpy(), np.broadcast_to(expected, (3, 2)), rtol=1e-6)
    assert seen == [(3, 2)]
    h1.remove()
    h2.remove()
    h2.remove()  # removing twice is harmless
    np.testing.assert_allclose(lin(x).detach().numpy(), (x @ lin.weight.T + lin.bias).detach().numpy())
    assert seen == [(3, 2)]


def test_pre_hook_returning_a_single_value_and_kwargs_hooks():
    lin = nn.Linear(2, 2)
    with lin.register_forward_pre_hook(lambda m, args: args[0] * 0):
        assert np.allclose(lin(gn.ones(1, 2)).detach().numpy(), lin.bias.detach().numpy())
    assert not lin._forward_pre_hooks

    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: out + kwargs["factor"], with_kwargs=True)
    assert m(gn.ones(1)).item() == 6.0


def test_global_forward_hooks_see_every_module():
    seen = []
    handle = nn.register_module_forward_hook(lambda m, args, out: seen.append(type(m).__name__))
    try:
        nn.Sequential(nn.Linear(2, 2), nn.ReLU())(gn.zeros(1, 2))
    finally:
        handle.remove()
    assert seen == ["Linear", "ReLU", "Sequential"]
    nn.ReLU()(gn.zeros(1))
    assert len(seen) == 3


def test_full_backward_hook_matches_pytorch():
    torch.manual_seed(0)
    tl = torch.nn.Linear(3, 2)
    gl = nn.Linear(3, 2)
    gl.load_state_dict({k: v.numpy() for k, v in tl.state_dict().items()})
    ours, theirs = [], []
    gl.register_full_backward_hook(lambda m, gi, go: ours.append((m, gi, go)))
    tl.register_full_backward_hook(lambda m, gi, go: theirs.append((gi, go)))
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    gx, tx = gn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (gl(gx) ** 2).sum().backward()
    (tl(tx) ** 2).sum().backward()
    assert len(ours) == 1 and ours[0][0] is gl
    _, gi, go = ours[0]
    (tgi,), (tgo,) = theirs[0]
    np.testing.assert_allclose(gi[0].numpy(), tgi.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(go[0].numpy(), tgo.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_full_backward_hook_without_input_grad_and_replacement():
    lin = nn.Linear(3, 2)
    calls = []
    lin.register_full_backward_hook(lambda m, gi, go: calls.append((gi, go)))
    lin(gn.randn(4, 3)).sum().backward()  # the input does not require grad: grad_input is (None,)
    assert calls[0][0] == (None,) and calls[0][1][0].shape == (4, 2)

    x = gn.randn(4, 3, requires_grad=True)
    seq = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    seq(x).sum().backward()
    plain = x.grad.numpy().copy()
    x.grad = None
    handle = seq[1].register_full_backward_hook(lambda m, gi, go: (gi[0] * 2,))
    seq(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * plain, rtol=1e-6)
    handle.remove()
    x.grad = None
    seq(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), plain, rtol=1e-6)


def test_full_backward_hook_with_two_inputs_and_tuple_outputs():
    torch.manual_seed(0)
    tb = torch.nn.Bilinear(2, 3, 4)
    gb = nn.Bilinear(2, 3, 4)
    gb.load_state_dict({k: v.numpy() for k, v in tb.state_dict().items()})
    ours, theirs = [], []
    gb.register_full_backward_hook(lambda m, gi, go: ours.append(gi))
    tb.register_full_backward_hook(lambda m, gi, go: theirs.append(gi))
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 2)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
    gb(gn.tensor(a, requires_grad=True), gn.tensor(b, requires_grad=True)).sum().backward()
    tb(torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)).sum().backward()
    assert len(ours[0]) == 2
    for g, t in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-5, atol=1e-6)

    class Split(nn.Module):
        def forward(self, x):
            return x * 2, x * 3

    grads = []
    s = Split()
    s.register_full_backward_hook(lambda m, gi, go: grads.append((gi, go)))
    x = gn.randn(3, requires_grad=True)
    u, v = s(x)
    (u.sum() + 10 * v.sum()).backward()
    gi, go = grads[0]
    np.testing.assert_allclose(go[0].numpy(), np.ones(3))
    np.testing.assert_allclose(go[1].numpy(), 10 * np.ones(3))
    np.testing.assert_allclose(gi[0].numpy(), 32 * np.ones(3))
    np.testing.assert_allclose(x.grad.numpy(), 32 * np.ones(3))


def test_backward_hook_on_identity_and_global_backward_hook():
    calls = []
    handle = nn.register_module_full_backward_hook(lambda m, gi, go: calls.append(type(m).__name__))
    try:
        x = gn.randn(2, requires_grad=True)
        nn.Sequential(nn.Identity(), nn.Tanh())(x).sum().backward()
    finally:
        handle.remove()
    assert calls == ["Tanh", "Identity", "Sequential"]
    y = gn.randn(2, requires_grad=True)
    ident = nn.Identity()
    got = []
    ident.register_full_backward_hook(lambda m, gi, go: got.append((gi[0].numpy(), go[0].numpy())))
    (ident(y) * 5).sum().backward()
    np.testing.assert_allclose(got[0][0], 5 * np.ones(2))
    np.testing.assert_allclose(got[0][1], 5 * np.ones(2))


def test_backward_hooks_are_skipped_under_no_grad():
    lin = nn.Linear(2, 2)
    lin.register_full_backward_hook(lambda *a: pytest.fail("should not run"))
    with gn.no_grad():
        out = lin(gn.randn(1, 2, requires_grad=True))
    assert not out.requires_grad


# ----- repr ---------------------------------------------------------------------------------------------------
def test_repr_matches_pytorch():
    ours = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Sequential(nn.Flatten(), nn.Linear(8 * 14 * 14, 10, bias=False)), nn.Dropout(0.25), nn.LogSoftmax(dim=1),
    )
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8 * 14 * 14, 10, bias=False)),
        torch.nn.Dropout(0.25), torch.nn.LogSoftmax(dim=1),
    )
    assert repr(ours) == repr(theirs)
    assert repr(Net()) == (
        "Net(\n  (block): Block(\n    (fc): Linear(in_features=3, out_features=4, bias=True)\n  )\n"
        "  (head): Linear(in_features=4, out_features=2, bias=True)\n)"
    )


def test_a_module_without_super_init_is_explained_on_call():
    from glassnet import nn

    class Forgetful(nn.Module):
        def __init__(self):
            self.scale = 2.0  # no super().__init__()

        def forward(self, x):
            return x * self.scale + self.offset

    with pytest.raises(RuntimeError, match=r"Forgetful: Module.__init__\(\) was not called"):
        Forgetful()(gn.ones(2))


def test_a_hook_added_by_hand_to_the_hook_dict_still_runs():
    # Module.__call__ skips looking for hooks until the first one is added anywhere; adding one straight into the
    # dict (as some PyTorch code does) must turn that fast path off too.
    from glassnet import nn

    layer, seen = nn.Linear(2, 2), []
    layer._forward_hooks[12345] = (lambda module, args, out: seen.append(out.shape), False)
    layer(gn.ones(3, 2))
    assert seen == [(3, 2)]


def test_module_call_fast_path_while_no_hook_is_live(tmp_path):
    # In a fresh process no hook exists, so Module.__call__ runs forward directly; the first hook switches that off.
    import subprocess
    import sys

    script = (
        "import glassnet as gn\n"
        "from glassnet import nn\n"
        "import glassnet.nn.module as m\n"
        "net = nn.Sequential(nn.Linear(2, 3), nn.Tanh())\n"
        "x = gn.ones(4, 2)\n"
        "before = net(x).tolist()\n"
        "assert m._live_hooks == 0\n"
        "seen = []\n"
        "handle = net[0].register_forward_hook(lambda mod, args, out: seen.append(out.shape))\n"
        "assert m._live_hooks == 1\n"
        "assert net(x).tolist() == before and seen == [(4, 3)]\n"
        "handle.remove()\n"
        "assert m._live_hooks == 0  # the last hook removed: back to the fast path\n"
        "assert net(x).tolist() == before and seen == [(4, 3)]\n"
        "net[1]._forward_hooks[7] = (lambda mod, args, out: seen.append('by hand'), False)\n"
        "assert m._live_hooks == 1 and (net(x), seen[-1])[1] == 'by hand'\n"
        "del net[1]._forward_hooks[7]\n"
        "assert m._live_hooks == 0\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
