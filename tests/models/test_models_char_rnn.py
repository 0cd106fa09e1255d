"""CharRNN: shapes and states for each cell, loss decrease, generate, bad input."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import nn, optim
from glassnet.models import CharRNN


def _ids(*shape, vocab=12, seed=0):
    return gn.tensor(np.random.default_rng(seed).integers(0, vocab, size=shape))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_shapes_and_state(cell):
    m = CharRNN(12, embed_dim=8, hidden_size=16, num_layers=2, cell=cell)
    logits, state = m(_ids(3, 5))
    assert logits.shape == (3, 5, 12)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (2, 3, 16)
    # carrying the state equals running the whole sequence at once
    x = _ids(3, 6)
    full, _ = m(x)
    a, s = m(x[:, :4])
    b, _ = m(x[:, 4:], s)
    np.testing.assert_allclose(b.detach().numpy(), full.detach().numpy()[:, 4:], atol=1e-5)


def test_loss_decreases():
    gn.manual_seed(0)
    m = CharRNN(12, embed_dim=8, hidden_size=32)
    x, y = _ids(4, 10), _ids(4, 10, seed=1)
    opt = optim.Adam(m.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        logits, _ = m(x)
        loss = nn.functional.cross_entropy(logits.reshape(-1, 12), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_generate_length_topk_temperature():
    gn.manual_seed(0)
    m = CharRNN(12, embed_dim=8, hidden_size=16, cell="gru")
    out = m.generate([1, 2, 3], 7, generator=gn.Generator(0))
    assert out.shape == (1, 10)
    assert out.detach().numpy()[0, :3].tolist() == [1, 2, 3]
    assert m.generate(_ids(2, 4), 3).shape == (2, 7)
    # top_k=1 and temperature 0 are both greedy
    a = m.generate([1, 2], 6, top_k=1, generator=gn.Generator(1)).detach().numpy()
    b = m.generate([1, 2], 6, temperature=0.0).detach().numpy()
    np.testing.assert_array_equal(a, b)


def test_bad_input():
    with pytest.raises(ValueError, match="cell must be one of"):
        CharRNN(10, cell="transformer")
    with pytest.raises(ValueError, match=r"CharRNN got idx of shape \(5,\); expected \(batch, time\)"):
        CharRNN(10)(gn.tensor(np.arange(5)))
    with pytest.raises(ValueError, match=r"start_ids must lie in \[0, 10\)"):
        CharRNN(10).generate([3, 12], 2)
    with pytest.raises(ValueError, match="max_new_tokens"):
        CharRNN(10).generate([3], -1)
