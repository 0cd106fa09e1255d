"""The text recipes' pieces: validation read in chunks with the LSTM state carried equals one pass over the whole
streams; the GPT's windows are averaged per character; the warm-up + cosine schedule is the documented formula."""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F
from glassnet.models.char_rnn import CharRNN
from glassnet.models.gpt import GPT
from glassnet.recipes.text import TextTrainer, stream_chunks, warmup_cosine, windows


def _ids(n, vocab=11):
    return np.random.default_rng(0).integers(0, vocab, n).astype(np.int64)


def test_chunked_validation_with_carried_state_equals_one_pass():
    gn.manual_seed(0)
    model = CharRNN(11, 8, 16, 1)
    ids = _ids(1001)
    chunked = TextTrainer(model, None, carry_state=True).evaluate(stream_chunks(ids, streams=4, length=30))["loss"]
    per = (len(ids) - 1) // 4  # 250 characters a stream: 9 chunks, the last one 10 long
    x, y = ids[: 4 * per].reshape(4, per), ids[1 : 4 * per + 1].reshape(4, per)
    with gn.no_grad():
        logits, _ = model(gn.tensor(x))
        whole = F.cross_entropy(logits.reshape(-1, 11), gn.tensor(y.reshape(-1))).item()
    assert chunked == pytest.approx(whole, rel=1e-5)
    without_state = TextTrainer(model, None).evaluate(stream_chunks(ids, streams=4, length=30))["loss"]
    assert without_state != pytest.approx(whole, rel=1e-5)  # the carried state matters: the test can fail


def test_gpt_validation_is_the_mean_over_every_window():
    gn.manual_seed(0)
    model = GPT(11, 16, 1, 2, 8, 0.0)
    ids = _ids(16 * 10 + 1)
    batched = TextTrainer(model, None).evaluate(windows(ids, 16, batch_size=3))["loss"]  # batches of 3, 3, 3, 1
    with gn.no_grad():
        losses = [model(gn.tensor(x), gn.tensor(y))[1].item() for x, y in windows(ids, 16, batch_size=1)]
    assert batched == pytest.approx(np.mean(losses), rel=1e-5)


def test_warmup_cosine_is_linear_then_half_a_cosine_to_a_tenth():
    weight = gn.zeros(2, requires_grad=True)
    optimizer = gn.optim.Adam([weight], lr=2e-3)
    schedule = warmup_cosine(optimizer, total_steps=300, warmup=20)
    rates = []
    for _ in range(300):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    expected = [
        2e-3 * (k + 1) / 20 if k < 20 else 2e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (k - 20) / 280)))
        for k in range(300)
    ]
    np.testing.assert_allclose(rates, expected, rtol=1e-12)
