"""Recurrent layers against PyTorch: a torch state_dict loads unchanged and gives the same outputs, final states and
gradients (inputs, parameters, initial states); packed sequences vs `lengths`; initialisation; bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import glassnet as gn
from glassnet.gradcheck import gradcheck
from glassnet.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

TOL = {np.float32: 1e-5, np.float64: 1e-10}

LAYERS = {
    "lstm": (LSTM, torch.nn.LSTM, {}),
    "gru": (GRU, torch.nn.GRU, {}),
    "rnn_tanh": (RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
}
CELLS = {
    "lstm": (LSTMCell, torch.nn.LSTMCell, {}),
    "gru": (GRUCell, torch.nn.GRUCell, {}),
    "rnn_tanh": (RNNCell, torch.nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
}


def _twins(table, key, dtype, *args, **kwargs):
    """A torch module and its glassnet twin holding the same weights (torch's state_dict as NumPy)."""
    cls, tcls, extra = table[key]
    torch.manual_seed(0)
    t = tcls(*args, **extra, **kwargs)
    g = cls(*args, **extra, **kwargs)
    if dtype == np.float64:
        t.double()
        g.double()
    g.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return g, t


def _flat(out):
    """(output, h) or (output, (h, c)) or h or (h, c) → a flat list of tensors."""
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _flat(o)]
    return [out]


def _check(g, t, arrays, call_g, call_t, dtype, seed=0):
    """Run both modules on the same arrays (all get gradients); compare outputs and every gradient."""
    tol = TOL[dtype]
    gx = [gn.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    tx = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    gouts, touts = _flat(call_g(g, *gx)), _flat(call_t(t, *tx))
    assert len(gouts) == len(touts)
    rng = np.random.default_rng(seed)
    gl, tl = 0, 0
    for a, b in zip(gouts, touts):
        assert a.shape == tuple(b.shape), (a.shape, b.shape)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)
        w = rng.standard_normal(a.shape).astype(dtype)
        gl = gl + (a * gn.tensor(w)).sum()
        tl = tl + (b * torch.tensor(w)).sum()
    gl.backward()
    tl.backward()
    for a, b in zip(gx, tx):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)
    tparams = dict(t.named_parameters())
    for name, p in g.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), rtol=tol, atol=tol, err_msg=name)
    return gouts


# ----- sequence layers ---------------------------------------------------------------------------------------------
CONFIGS = {
    "plain": {},
    "deep_bi_bf": {"num_layers": 2, "bidirectional": True, "batch_first": True},
    "deep": {"num_layers": 2},
    "bi_nobias": {"bidirectional": True, "bias": False},
}


def _states(key, layers, batch, hidden, rng):
    shape = (layers, batch, hidden) if batch else (layers, hidden)
    n = 2 if key == "lstm" else 1
    return [rng.standard_normal(shape) * 0.5 for _ in range(n)]


def _pack_hx(key, states):
    if not states:
        return None
    return tuple(states) if key == "lstm" else states[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("key", list(LAYERS))
@pytest.mark.parametrize("with_hx", [False, True])
def test_layer_matches_torch(key, config, dtype, with_hx):
    kw = CONFIGS[config]
    g, t = _twins(LAYERS, key, dtype, 4, 5, **kw)
    rng = np.random.default_rng(1)
    seq, batch = 6, 3
    x = rng.standard_normal((batch, seq, 4) if kw.get("batch_first") else (seq, batch, 4))
    layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    states = _states(key, layers, batch, 5, rng) if with_hx else []

    def call(m, x, *s):
        return m(x, _pack_hx(key, s))

    _check(g, t, [x, *states], call, call, dtype)


@pytest.mark.parametrize("key", list(LAYERS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_input_matches_torch(key, batch_first):
    """2-D (seq, features) is one unbatched sequence, also when batch_first is set (as in torch)."""
    g, t = _twins(LAYERS, key, np.float64, 3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 3))
    states = _states(key, 4, 0, 4, rng)

    def call(m, x, *s):
        return m(x, _pack_hx(key, s))

    outs = _check(g, t, [x, *states], call, call, np.float64)
    assert outs[0].shape == (5, 8) and outs[1].shape == (4, 4)


def test_state_dict_names_and_shapes_match_torch():
    for key, kw in [("lstm", {"num_layers": 2, "bidirectional": True}), ("gru", {"bias": False}), ("rnn_relu", {})]:
        cls, tcls, extra = LAYERS[key]
        g, t = cls(3, 4, **extra, **kw), tcls(3, 4, **extra, **kw)
        gsd, tsd = g.state_dict(), t.state_dict()
        assert list(gsd) == list(tsd)
        assert all(tuple(gsd[k].shape) == tuple(tsd[k].shape) for k in gsd)


# ----- variable lengths vs packed sequences ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("key", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_match_packed_sequences(key, bidirectional, dtype, batch_first):
    g, t = _twins(LAYERS, key, dtype, 3, 4, num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    rng = np.random.default_rng(3)
    seq, lengths = 7, [7, 2, 5, 1]  # unsorted, as enforce_sorted=False allows
    batch = len(lengths)
    x = rng.standard_normal((batch, seq, 3) if batch_first else (seq, batch, 3))
    states = _states(key, 2 * (2 if bidirectional else 1), batch, 4, rng)

    def call_g(m, x, *s):
        return m(x, _pack_hx(key, s), lengths=lengths)

    def call_t(m, x, *s):
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        out, h = m(packed, _pack_hx(key, s))
        out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=seq)
        return out, h

    outs = _check(g, t, [x, *states], call_g, call_t, dtype)
    out = outs[0].detach().numpy()
    pad = out[1, 2:] if batch_first else out[2:, 1]
    assert not np.any(pad)  # padded steps give zeros


@pytest.mark.parametrize("key", ["lstm", "gru"])
def test_gradients_match_finite_differences(key):
    """Backprop through the masked, bidirectional time loop agrees with central finite differences."""
    cls = LAYERS[key][0]
    gn.manual_seed(0)
    m = cls(2, 3, bidirectional=True, dtype=gn.float64)
    rng = np.random.default_rng(9)
    x = gn.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    h0 = gn.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    w = m.weight_hh_l0_reverse

    def fn(x, h0, w):  # w is the module's own parameter: gradcheck nudges it in place
        hx = (h0, h0 * 0.5) if key == "lstm" else h0
        out, _ = m(x, hx, lengths=[4, 2])
        return out

    assert gradcheck(fn, [x, h0, w])


def test_lengths_ignore_padding_values():
    """Whatever sits in the padded steps changes neither the outputs nor the final states."""
    m = LSTM(3, 4, bidirectional=True)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    y = x.copy()
    y[3:, 1] = 100.0
    a_out, (a_h, a_c) = m(gn.tensor(x), lengths=[5, 3])
    b_out, (b_h, b_c) = m(gn.tensor(y), lengths=gn.tensor([5, 3]))
    for a, b in [(a_out, b_out), (a_h, b_h), (a_c, b_c)]:
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


# ----- cells ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("key", list(CELLS))
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch(key, dtype, bias):
    g, t = _twins(CELLS, key, dtype, 4, 5, bias=bias)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4))
    states = [rng.standard_normal((3, 5)) for _ in range(2 if key == "lstm" else 1)]

    def call(m, x, *s):
        return m(x, _pack_hx(key, s))

    _check(g, t, [x, *states], call, call, dtype)


@pytest.mark.parametrize("key", list(CELLS))
def test_cell_unbatched_and_default_state(key):
    g, t = _twins(CELLS, key, np.float64, 4, 5)
    x = np.random.default_rng(6).standard_normal(4)
    _check(g, t, [x], lambda m, x: m(x), lambda m, x: m(x), np.float64)


def test_cell_state_dict_names():
    for key in CELLS:
        cls, tcls, extra = CELLS[key]
        assert list(cls(3, 4, **extra).state_dict()) == list(tcls(3, 4, **extra).state_dict())


# ----- dropout, initialisation -------------------------------------------------------------------------------------
def test_dropout_between_layers():
    g, t = _twins(LAYERS, "lstm", np.float32, 4, 6, num_layers=3, dropout=0.5)
    x = np.random.default_rng(7).standard_normal((5, 2, 4)).astype(np.float32)
    gn.manual_seed(0)
    a, _ = g(gn.tensor(x))
    b, _ = g(gn.tensor(x))
    assert a.shape == (5, 2, 6)
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())  # a fresh mask each call
    g.eval()
    t.eval()
    _check(g, t, [x], lambda m, x: m(x), lambda m, x: m(x), np.float32)
    # Statistics: averaged over many masks, train mode approaches the eval output's scale (1/(1-p) rescaling).
    g.train()
    gn.manual_seed(1)
    outs = np.stack([g(gn.tensor(x))[0].detach().numpy() for _ in range(200)])
    g.eval()
    ref = g(gn.tensor(x))[0].detach().numpy()
    assert np.abs(outs.mean(0) - ref).mean() < 0.1 * np.abs(ref).mean() + 0.05


@pytest.mark.parametrize("key", list(LAYERS))
def test_default_init_statistics_match_torch(key):
    """Every parameter is U(±1/√hidden): same bound, mean ≈ 0 and std ≈ bound/√3 as torch's own init."""
    cls, tcls, extra = LAYERS[key]
    gn.manual_seed(0)
    g, t = cls(32, 64, num_layers=2, bidirectional=True, **extra), tcls(32, 64, num_layers=2, bidirectional=True)
    bound = 1 / np.sqrt(64)
    gv = np.concatenate([p.detach().numpy().ravel() for p in g.parameters()])
    tv = np.concatenate([p.detach().numpy().ravel() for p in t.parameters()])
    assert gv.size == tv.size
    assert np.abs(gv).max() <= bound
    assert abs(gv.mean()) < 0.05 * bound
    assert abs(gv.std() - tv.std()) < 0.01 * bound
    assert abs(gv.std() - bound / np.sqrt(3)) < 0.01 * bound
    cell = CELLS[key][0](32, 64, **extra)
    cv = np.concatenate([p.detach().numpy().ravel() for p in cell.parameters()])
    assert np.abs(cv).max() <= bound and abs(cv.std() - bound / np.sqrt(3)) < 0.02 * bound


def test_learns_a_small_task():
    """A few Adam-free SGD steps lower the loss (the gradients point downhill)."""
    gn.manual_seed(0)
    m = GRU(2, 8, batch_first=True)
    x = gn.tensor(np.random.default_rng(8).standard_normal((16, 5, 2)).astype(np.float32))
    target = x.sum(1).sum(1, keepdim=True).tanh()
    losses = []
    for _ in range(20):
        out, h = m(x)
        loss = ((out[:, -1, :1] - target) ** 2).mean()
        losses.append(loss.item())
        m.zero_grad()
        loss.backward()
        with gn.no_grad():
            for p in m.parameters():
                p -= 0.5 * p.grad
    assert losses[-1] < 0.7 * losses[0]


# ----- bad input ------------------------------------------------------------------------------------------------------
def test_wrong_feature_size_names_module_and_shapes():
    m = LSTM(10, 20, num_layers=2, batch_first=True)
    with pytest.raises(ValueError, match=r"LSTM\(10→20, num_layers=2, batch_first\) got input of shape \(4, 7, 3\); "
                                         r"expected \(batch, seq, 10\) or unbatched \(seq, 10\)"):
        m(gn.zeros(4, 7, 3))
    with pytest.raises(ValueError, match=r"got input of shape \(7, 3\)"):
        m(gn.zeros(7, 3))
    four_d = r"GRU\(10→20\) got input of shape \(2, 3, 4, 10\); expected \(seq, batch, 10\)"
    with pytest.raises(ValueError, match=four_d):
        GRU(10, 20)(gn.zeros(2, 3, 4, 10))


def test_two_dimensional_input_under_batch_first_is_unbatched():
    m = LSTM(10, 20, num_layers=2, batch_first=True)
    out, (h, c) = m(gn.zeros(7, 10))
    assert out.shape == (7, 20) and h.shape == (2, 20) and c.shape == (2, 20)


def test_wrong_hidden_state_shape():
    m = LSTM(3, 4, num_layers=2, bidirectional=True)
    x = gn.zeros(5, 2, 3)
    with pytest.raises(ValueError, match=r"LSTM\(3→4, num_layers=2, bidirectional\) got h_0 of shape \(2, 2, 4\); "
                                         r"expected \(4, 2, 4\)"):
        m(x, (gn.zeros(2, 2, 4), gn.zeros(4, 2, 4)))
    with pytest.raises(ValueError, match=r"got c_0 of shape \(4, 3, 4\); expected \(4, 2, 4\)"):
        m(x, (gn.zeros(4, 2, 4), gn.zeros(4, 3, 4)))
    with pytest.raises(ValueError, match=r"hx must be a pair \(h_0, c_0\)"):
        m(x, gn.zeros(4, 2, 4))
    with pytest.raises(ValueError, match=r"GRU\(3→4\) got hx of shape \(1, 2, 4\); expected \(1, 4\)"):
        GRU(3, 4)(gn.zeros(5, 3), gn.zeros(1, 2, 4))
    with pytest.raises(ValueError, match=r"GRUCell\(3→4\) got hidden state of shape \(2, 5\) for input of shape "
                                         r"\(2, 3\); expected \(2, 4\)"):
        GRUCell(3, 4)(gn.zeros(2, 3), gn.zeros(2, 5))
    with pytest.raises(ValueError, match=r"LSTMCell\(3→4\) got input of shape \(2, 5\); expected \(batch, 3\)"):
        LSTMCell(3, 4)(gn.zeros(2, 5))


def test_wrong_lengths():
    m = GRU(3, 4)
    x = gn.zeros(5, 2, 3)
    with pytest.raises(ValueError, match=r"GRU\(3→4\) got lengths of shape \(3,\) for input of shape \(5, 2, 3\); "
                                         r"expected one length per sequence, shape \(2,\)"):
        m(x, lengths=[5, 3, 1])
    with pytest.raises(ValueError, match=r"got lengths \[6, 3\] for input of shape \(5, 2, 3\); each length must be "
                                         r"between 1 and the sequence length 5"):
        m(x, lengths=[6, 3])
    with pytest.raises(ValueError, match=r"between 1 and the sequence length 5"):
        m(x, lengths=[0, 3])
    with pytest.raises(ValueError, match="lengths must be integers"):
        m(x, lengths=[2.5, 3.0])


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="num_layers must be a positive integer"):
        LSTM(3, 4, num_layers=0)
    with pytest.raises(ValueError, match="dropout must be a probability"):
        GRU(3, 4, dropout=1.5)
    with pytest.raises(TypeError, match="expected a Tensor input"):
        LSTM(3, 4)(np.zeros((5, 2, 3)))


# ----- the fused LSTM (one LSTMSequence node per layer and direction) against the reference gate equations ---------
def _lstm_pair(dtype, cls=LSTM, **kw):
    """The fused layer and the op-by-op reference (fused=False) holding the same weights."""
    fused, reference = cls(4, 5, dtype=dtype, fused=True, **kw), cls(4, 5, dtype=dtype, fused=False, **kw)
    reference.load_state_dict(fused.state_dict())
    return fused, reference


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_fused_layer_matches_reference(cls, config, dtype):
    kw = CONFIGS[config]
    fused, reference = _lstm_pair(dtype, cls, **kw)
    assert fused.fused and not reference.fused
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 6, 4) if kw.get("batch_first") else (6, 3, 4)).astype(dtype)
    layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    states = [rng.standard_normal((layers, 3, 5)).astype(dtype) for _ in range(2 if cls is LSTM else 1)]
    results = []
    for m in (fused, reference):
        inputs = [gn.tensor(a, requires_grad=True) for a in (x, *states)]
        out, hx = m(inputs[0], tuple(inputs[1:]) if cls is LSTM else inputs[1])
        finals = list(hx) if cls is LSTM else [hx]
        loss = (out * gn.tensor(np.cos(np.arange(out.numel()).reshape(out.shape)).astype(dtype))).sum()
        (loss + sum((f * f).sum() * (k + 1) for k, f in enumerate(finals))).backward()
        results.append([out, *finals] + [t.grad for t in inputs] + [p.grad for p in m.parameters()])
    for a, b in zip(*results):
        assert a.dtype == dtype
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=0, atol=TOL[dtype] * 10)


def test_fused_lstm_is_one_node_per_direction():
    """The fused path records a handful of nodes, not ~15 per timestep: the graph stays small for long sequences."""
    def graph_size(m):
        out, _ = m(gn.randn(50, 2, 4))
        seen, todo = set(), [out.grad_fn]
        while todo:
            node = todo.pop()
            if node is not None and id(node) not in seen:
                seen.add(id(node))
                todo.extend(t.grad_fn for t in node.inputs if isinstance(t, gn.Tensor))
        return len(seen)

    fused, reference = _lstm_pair(np.float32)
    assert LSTM(4, 5).fused and GRU(4, 5).fused  # the defaults: both run as fused sequence ops
    assert graph_size(fused) < 10 < 50 * 10 < graph_size(reference)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_second_derivatives_need_the_reference_layer(cls):
    fused, reference = _lstm_pair(np.float64, cls)
    x = gn.randn(4, 2, 4, dtype=gn.float64, requires_grad=True)
    (gx,) = gn.autograd.grad(reference(x)[0].sum(), x, create_graph=True)
    (gx * gx).sum().backward()  # a gradient of a gradient through the gate equations
    assert x.grad is not None and np.isfinite(x.grad.numpy()).all()
    with pytest.raises(RuntimeError, match=r"create_graph.*fused=False"):
        gn.autograd.grad(fused(x)[0].sum(), x, create_graph=True)
