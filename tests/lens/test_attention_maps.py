"""capture_attention records every attention layer's weights without changing model code, and puts flags back."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import nn
from glassnet.lens.attention_maps import AttentionMaps, capture_attention
from glassnet.nn import functional as F


def _encoder(batch_first: bool):
    gn.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=batch_first)
    return nn.TransformerEncoder(layer, num_layers=2).eval()


@pytest.mark.parametrize("batch_first", [True, False])
def test_encoder_weights_match_multihead_attention_need_weights(batch_first):
    model = _encoder(batch_first)
    shape = (3, 5, 8) if batch_first else (5, 3, 8)
    src = gn.tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    with capture_attention(model) as attention:
        model(src)
    assert isinstance(attention, AttentionMaps)
    assert sorted(attention) == ["layers.0.self_attn", "layers.1.self_attn"]
    with gn.no_grad():
        hidden = model.layers[0](src)
        inputs = {"layers.0.self_attn": src, "layers.1.self_attn": hidden}
        for name, x in inputs.items():
            (weights,) = attention[name]
            assert weights.shape == (3, 2, 5, 5)
            np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
            module = model.get_submodule(name)
            _, expected = module(x, x, x, need_weights=True, average_attn_weights=False)
            np.testing.assert_allclose(weights, expected.numpy(), atol=1e-6)


def test_flags_are_restored_and_each_call_is_recorded():
    model = _encoder(True)
    first = model.layers[1].self_attn
    first.keep_attn_weights = True  # a user's own setting must survive
    src = gn.tensor(np.random.default_rng(1).standard_normal((2, 4, 8)).astype(np.float32))
    with gn.no_grad():
        model(src)
    before = first.last_attn_weights
    with capture_attention(model) as attention:
        with gn.no_grad():
            model(src)
            model(src[:, :3])
    assert [w.shape for w in attention["layers.0.self_attn"]] == [(2, 2, 4, 4), (2, 2, 3, 3)]
    assert attention.last("layers.1.self_attn").shape == (2, 2, 3, 3)
    assert model.layers[0].self_attn.keep_attn_weights is False
    assert model.layers[0].self_attn.last_attn_weights is None
    assert first.keep_attn_weights is True and first.last_attn_weights is before
    assert not model.layers[0].self_attn._forward_hooks
    with pytest.raises(KeyError, match="AttentionMaps: no weights recorded for 'nope'"):
        attention.last("nope")


def test_decoder_records_self_and_cross_attention():
    gn.manual_seed(2)
    layer = nn.TransformerDecoderLayer(d_model=8, nhead=4, dim_feedforward=16, dropout=0.0, batch_first=True)
    model = nn.TransformerDecoder(layer, num_layers=1).eval()
    rng = np.random.default_rng(2)
    tgt = gn.tensor(rng.standard_normal((2, 3, 8)).astype(np.float32))
    memory = gn.tensor(rng.standard_normal((2, 6, 8)).astype(np.float32))
    with capture_attention(model) as attention, gn.no_grad():
        model(tgt, memory, tgt_is_causal=True, tgt_mask=nn.Transformer.generate_square_subsequent_mask(3))
    self_attn, cross = attention["layers.0.self_attn"][0], attention["layers.0.multihead_attn"][0]
    assert self_attn.shape == (2, 4, 3, 3) and cross.shape == (2, 4, 3, 6)
    assert np.all(self_attn[..., np.triu_indices(3, 1)[0], np.triu_indices(3, 1)[1]] == 0)  # causal
    np.testing.assert_allclose(cross.sum(-1), 1.0, atol=1e-5)


def test_gpt_attention_is_recomputed_faithfully():
    gpt = gn.models.GPT(vocab_size=13, block_size=8, n_layer=2, n_head=2, d_model=16).eval()
    ids = gn.tensor(np.random.default_rng(3).integers(0, 13, size=(2, 6)))
    block_inputs = []
    handle = gpt.blocks[1].attn.register_forward_hook(lambda m, args, out: block_inputs.append(args[0]))
    with capture_attention(gpt) as attention, gn.no_grad():
        gpt(ids)
    handle.remove()
    assert sorted(attention) == ["blocks.0.attn", "blocks.1.attn"]
    weights = attention["blocks.1.attn"][0]
    assert weights.shape == (2, 2, 6, 6)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert np.all(np.triu(weights, k=1) == 0)
    # The recorded weights reproduce the block's own attention output: weights @ v == SDPA(q, k, v, causal).
    attn = gpt.blocks[1].attn
    with gn.no_grad():
        q, k, v = (z.reshape(2, 6, 2, 8).transpose(1, 2) for z in attn.c_attn(block_inputs[0]).split(16, dim=2))
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=True).numpy()
    np.testing.assert_allclose(weights @ v.numpy(), expected, atol=1e-5)


def test_bad_input():
    with pytest.raises(TypeError, match="capture_attention: model must be a glassnet nn.Module"):
        with capture_attention("model"):
            pass
    with pytest.raises(ValueError, match="capture_attention: model Sequential has no nn.MultiheadAttention"):
        with capture_attention(nn.Sequential(nn.Linear(2, 2))):
            pass
