"""GPT: shapes, weight tying, causality, loss decrease, generate (length, top-k, temperature), errors, vs PyTorch."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import optim
from glassnet.models import GPT


def _ids(*shape, vocab=11, seed=0):
    return gn.tensor(np.random.default_rng(seed).integers(0, vocab, size=shape))


def _small(**kw):
    gn.manual_seed(0)
    return GPT(11, block_size=8, n_layer=2, n_head=2, d_model=16, **kw)


def test_shapes_and_loss():
    m = _small()
    logits, loss = m(_ids(2, 5))
    assert logits.shape == (2, 5, 11) and loss is None
    logits, loss = m(_ids(2, 5), _ids(2, 5, seed=1))
    assert loss.shape == () and abs(loss.item() - np.log(11)) < 0.5   # small init: near uniform


def test_weight_tying_counted_once():
    m = _small()
    assert m.lm_head.weight is m.wte.weight
    params = list(m.parameters())
    assert sum(p is m.wte.weight for p in params) == 1
    d, v, t, L = 16, 11, 8, 2
    block = 2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d)
    assert sum(p.numel() for p in params) == v * d + t * d + L * block + 2 * d


def test_causality():
    m = _small()
    x = _ids(1, 8).detach().numpy()
    y = x.copy()
    y[0, 5] = (y[0, 5] + 1) % 11
    a, _ = m(gn.tensor(x))
    b, _ = m(gn.tensor(y))
    np.testing.assert_allclose(a.detach().numpy()[:, :5], b.detach().numpy()[:, :5], atol=1e-6)
    assert not np.allclose(a.detach().numpy()[:, 5:], b.detach().numpy()[:, 5:])


def test_loss_decreases_and_tied_grad():
    m = _small()
    x, y = _ids(4, 8), _ids(4, 8, seed=1)
    opt = optim.AdamW(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        _, loss = m(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]
    assert m.lm_head.weight is m.wte.weight


def test_ignore_index():
    m = _small()
    x, y = _ids(1, 6), _ids(1, 6, seed=1).detach().numpy().copy()
    _, full = m(x, gn.tensor(y))
    y[0, 3:] = -1
    logits, part = m(x, gn.tensor(y))
    ref = gn.nn.functional.cross_entropy(logits[0, :3], gn.tensor(y[0, :3]))
    assert abs(part.item() - ref.item()) < 1e-5


def test_generate_length_and_sliding_window():
    m = _small()
    out = m.generate(_ids(2, 3), 12, generator=gn.Generator(0))   # 15 > block_size 8: window slides
    assert out.shape == (2, 15)
    assert m.generate(_ids(1, 3), 5, sliding_window=False).shape == (1, 8)
    assert m.training   # generate restores the mode


def test_generate_top_k_never_outside():
    m = _small()
    prompt = _ids(1, 4)
    with gn.no_grad():
        logits, _ = m(prompt)
    allowed = set(np.argsort(logits.detach().numpy()[0, -1])[-3:].tolist())
    g = gn.Generator(123)
    seen = set()
    for _ in range(40):
        tok = m.generate(prompt, 1, top_k=3, temperature=5.0, generator=g).detach().numpy()[0, -1]
        seen.add(int(tok))
    assert seen <= allowed and len(seen) >= 2
    # temperature → 0 is greedy; top_k=1 is greedy
    greedy = int(np.argmax(logits.detach().numpy()[0, -1]))
    assert m.generate(prompt, 1, temperature=0.0).detach().numpy()[0, -1] == greedy
    assert m.generate(prompt, 1, top_k=1, generator=g).detach().numpy()[0, -1] == greedy


def test_generate_temperature_sharpens():
    m = _small()
    m.lm_head.weight.data[...] *= 50   # make the distribution peaked so temperatures differ visibly
    prompt = _ids(1, 4)
    with gn.no_grad():
        greedy = int(np.argmax(m(prompt)[0].detach().numpy()[0, -1]))

    def hits(temp):
        g = gn.Generator(7)
        return sum(int(m.generate(prompt, 1, temperature=temp, generator=g).detach().numpy()[0, -1]) == greedy
                   for _ in range(40))

    assert hits(0.05) >= hits(100.0)
    assert hits(0.05) == 40


def test_same_generator_same_sample():
    m = _small()
    a = m.generate(_ids(1, 2), 6, generator=gn.Generator(5)).detach().numpy()
    b = m.generate(_ids(1, 2), 6, generator=gn.Generator(5)).detach().numpy()
    np.testing.assert_array_equal(a, b)


def test_errors():
    m = _small()
    with pytest.raises(ValueError, match=r"GPT\.generate: prompt of 3 tokens \+ max_new_tokens=6 = 9 exceeds "
                                         r"block_size=8 and sliding_window=False"):
        m.generate(_ids(1, 3), 6, sliding_window=False)
    with pytest.raises(ValueError, match=r"GPT: idx of shape \(1, 9\) has 9 tokens, more than block_size=8"):
        m(_ids(1, 9))
    with pytest.raises(ValueError, match=r"GPT\.forward: idx of shape \(9,\); expected \(batch, time\)"):
        m(_ids(9))
    with pytest.raises(ValueError, match=r"GPT: targets of shape \(1, 4\); expected \(1, 5\)"):
        m(_ids(1, 5), _ids(1, 4))
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        m.generate(_ids(1, 2), 1, top_k=0)
    with pytest.raises(ValueError, match="divisible"):
        GPT(11, 8, n_head=3, d_model=16)


def test_matches_torch_reimplementation():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    m = _small()
    sd = {k: torch.tensor(v.detach().numpy()) for k, v in m.state_dict().items()}
    n_head, d = 2, 16
    x = _ids(2, 7)
    idx = torch.tensor(x.detach().numpy())

    def lin(h, name, bias=True):
        return tF.linear(h, sd[name + ".weight"], sd[name + ".bias"] if bias else None)

    def ln(h, name):
        return tF.layer_norm(h, (d,), sd[name + ".weight"], sd[name + ".bias"])

    h = tF.embedding(idx, sd["wte.weight"]) + sd["wpe.weight"][: idx.shape[1]]
    b, t = idx.shape
    for i in range(2):
        p = f"blocks.{i}."
        q, k, v = lin(ln(h, p + "ln_1"), p + "attn.c_attn").split(d, dim=2)
        q, k, v = (z.view(b, t, n_head, d // n_head).transpose(1, 2) for z in (q, k, v))
        y = tF.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, d)
        h = h + lin(y, p + "attn.c_proj")
        f = tF.gelu(lin(ln(h, p + "ln_2"), p + "mlp.0"), approximate="tanh")
        h = h + lin(f, p + "mlp.2")
    ref = tF.linear(ln(h, "ln_f"), sd["wte.weight"])
    np.testing.assert_allclose(m(x)[0].detach().numpy(), ref.detach().numpy(), atol=1e-5, rtol=1e-4)
