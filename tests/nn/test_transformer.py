"""Transformer layers, stacks and positional encodings against PyTorch (same weights, same masks, same numbers)."""

import math

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn.functional as F
from glassnet.nn.activation import GELU
from glassnet.nn.normalization import LayerNorm
from glassnet.nn.transformer import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

from .helpers import TOL, compare, load_from_torch, same_names_and_shapes

RNG = np.random.default_rng(0)
D, H, FF, S, T, N = 8, 2, 16, 5, 4, 3


def _perturb(module: torch.nn.Module) -> None:
    """Non-trivial LayerNorm scales and biases everywhere, so that every parameter matters."""
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "bias" in name or "norm" in name:
                p.add_(torch.randn(p.shape) * 0.3)


def _run_both(ours, theirs, inputs: list, kwargs: dict, dtype=np.float32) -> None:
    """Forward both (torch on its regular path: grad enabled, inputs requiring grad) and compare outputs and grads."""
    tol = TOL[dtype]
    gx = [gn.tensor(a.astype(dtype), requires_grad=True) for a in inputs]
    tx = [torch.tensor(a.astype(dtype), requires_grad=True) for a in inputs]

    def conv(v, to):
        if v is None or isinstance(v, bool):
            return v
        v = v if v.dtype == bool else v.astype(dtype)
        return to(v)

    out = ours(*gx, **{k: conv(v, gn.tensor) for k, v in kwargs.items()})
    with torch.enable_grad():
        tout = theirs(*tx, **{k: conv(v, torch.tensor) for k, v in kwargs.items()})
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=tol, atol=tol)
    g = RNG.standard_normal(tout.shape).astype(dtype)
    (out * gn.tensor(g)).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    for a, b in zip(gx, tx):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), rtol=tol, atol=tol, err_msg=name)


def _pair(ours_cls, theirs_cls, *args, dtype=np.float32, **kwargs):
    torch.manual_seed(0)
    theirs = theirs_cls(*args, **kwargs)
    ours = ours_cls(*args, **kwargs)
    same_names_and_shapes(ours, theirs)
    _perturb(theirs)
    if dtype == np.float64:
        theirs.double()
    load_from_torch(ours, theirs)
    if dtype == np.float64:
        ours.double()
    return ours.eval(), theirs.eval()


def _seq(length: int, batch_first: bool) -> np.ndarray:
    return RNG.standard_normal((N, length, D) if batch_first else (length, N, D))


def _padding(length: int) -> np.ndarray:
    m = np.zeros((N, length), dtype=bool)
    m[0, -2:] = True
    m[1, 0] = True
    return m


ENCODER_CASES = [
    (norm_first, activation, batch_first, mask)
    for norm_first in (False, True)
    for activation in ("relu", "gelu")
    for batch_first, mask in ((False, "none"), (True, "bool"), (False, "float"), (True, "padding"), (False, "causal"))
]


@pytest.mark.parametrize("norm_first, activation, batch_first, mask", ENCODER_CASES)
def test_encoder_layer_matches_pytorch(norm_first, activation, batch_first, mask):
    kw = dict(dim_feedforward=FF, activation=activation, batch_first=batch_first, norm_first=norm_first)
    ours, theirs = _pair(TransformerEncoderLayer, torch.nn.TransformerEncoderLayer, D, H, **kw)
    kwargs = {}
    if mask == "bool":
        kwargs["src_mask"] = RNG.random((S, S)) < 0.3
        kwargs["src_mask"][:, 0] = False
    elif mask == "float":
        kwargs["src_mask"] = RNG.standard_normal((S, S))
    elif mask == "padding":
        kwargs["src_key_padding_mask"] = _padding(S)
    elif mask == "causal":
        kwargs = {"src_mask": np.triu(np.full((S, S), -np.inf), k=1), "is_causal": True}
    _run_both(ours, theirs, [_seq(S, batch_first)], kwargs)


def test_encoder_layer_gradients_match_pytorch_in_float64_and_accept_callable_activations():
    ours, theirs = _pair(TransformerEncoderLayer, torch.nn.TransformerEncoderLayer, D, H, dim_feedforward=FF,
                         dtype=np.float64)
    compare(ours, theirs, [_seq(S, False), np.triu(np.ones((S, S), dtype=bool), k=1)], dtype=np.float64, load=False)
    for ours_act, theirs_act in ((F.gelu, torch.nn.functional.gelu), (GELU(), torch.nn.GELU())):
        ours, theirs = _pair(TransformerEncoderLayer, torch.nn.TransformerEncoderLayer, D, H, dim_feedforward=FF)
        ours.activation, theirs.activation = ours_act, theirs_act
        _run_both(ours, theirs, [_seq(S, False)], {})


DECODER_CASES = [(nf, act, bf) for nf in (False, True) for act, bf in (("relu", False), ("gelu", True))]


@pytest.mark.parametrize("norm_first, activation, batch_first", DECODER_CASES)
def test_decoder_layer_matches_pytorch(norm_first, activation, batch_first):
    kw = dict(dim_feedforward=FF, activation=activation, batch_first=batch_first, norm_first=norm_first)
    ours, theirs = _pair(TransformerDecoderLayer, torch.nn.TransformerDecoderLayer, D, H, **kw)
    memory_mask = RNG.random((T, S)) < 0.3
    memory_mask[:, 1] = False
    kwargs = {
        "tgt_mask": np.triu(np.full((T, T), -np.inf), k=1),
        "memory_mask": memory_mask,
        "tgt_key_padding_mask": np.zeros((N, T)),  # float, like tgt_mask (torch warns on mixed mask types)
        "memory_key_padding_mask": _padding(S),
        "tgt_is_causal": True,
    }
    _run_both(ours, theirs, [_seq(T, batch_first), _seq(S, batch_first)], kwargs)


@pytest.mark.parametrize("norm", [False, True])
def test_encoder_and_decoder_stacks_deep_copy_the_layer_and_match_pytorch(norm):
    layer = TransformerEncoderLayer(D, H, FF, batch_first=True)
    ours = TransformerEncoder(layer, 2, LayerNorm(D) if norm else None)
    assert ours.layers[0] is not layer and ours.layers[0] is not ours.layers[1]
    assert ours.layers[0].linear1.weight is not ours.layers[1].linear1.weight
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(D, H, FF, batch_first=True), 2,
                                         torch.nn.LayerNorm(D) if norm else None, enable_nested_tensor=False)
    same_names_and_shapes(ours, theirs)
    _perturb(theirs)
    load_from_torch(ours, theirs)
    ours.eval(), theirs.eval()
    padding = np.where(_padding(S), -np.inf, 0.0)  # float, like the mask
    _run_both(ours, theirs, [_seq(S, True)], {"mask": RNG.standard_normal((S, S)), "src_key_padding_mask": padding})

    ours = TransformerDecoder(TransformerDecoderLayer(D, H, FF), 2, LayerNorm(D) if norm else None).eval()
    theirs = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(D, H, FF), 2,
                                         torch.nn.LayerNorm(D) if norm else None).eval()
    same_names_and_shapes(ours, theirs)
    _perturb(theirs)
    load_from_torch(ours, theirs)
    _run_both(ours, theirs, [_seq(T, False), _seq(S, False)],
              {"tgt_mask": np.triu(np.ones((T, T), dtype=bool), k=1), "memory_key_padding_mask": _padding(S)})


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_first, norm_first, activation", [(False, False, "relu"), (True, True, "gelu")])
def test_transformer_matches_pytorch(batch_first, norm_first, activation, dtype):
    kw = dict(num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=FF, activation=activation,
              batch_first=batch_first, norm_first=norm_first)
    ours, theirs = _pair(Transformer, torch.nn.Transformer, D, H, dtype=dtype, **kw)
    tgt_mask = Transformer.generate_square_subsequent_mask(T).numpy()
    kwargs = {"tgt_mask": tgt_mask, "src_key_padding_mask": _padding(S), "memory_key_padding_mask": _padding(S)}
    _run_both(ours, theirs, [_seq(S, batch_first), _seq(T, batch_first)], kwargs, dtype=dtype)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
def test_transformer_defaults_and_square_subsequent_mask_match_pytorch():
    ours = Transformer()
    theirs = torch.nn.Transformer()
    same_names_and_shapes(ours, theirs)
    assert len(ours.encoder.layers) == 6 and len(ours.decoder.layers) == 6
    w = ours.encoder.layers[0].linear1.weight.detach().numpy()
    bound = math.sqrt(6 / (512 + 2048))  # xavier_uniform on every matrix
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    for sz in (1, 4):
        mask = Transformer.generate_square_subsequent_mask(sz)
        np.testing.assert_array_equal(mask.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(sz).numpy())
        assert mask.dtype == np.float32


def test_transformer_trains_in_training_mode_with_dropout():
    gn.manual_seed(0)
    model = Transformer(D, H, 1, 1, FF, dropout=0.2, batch_first=True)
    src = gn.tensor(_seq(S, True).astype(np.float32))
    tgt = gn.tensor(_seq(T, True).astype(np.float32))
    a = model(src, tgt)
    b = model(src, tgt)
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())  # dropout is active
    a.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    np.testing.assert_allclose(model(src, tgt).detach().numpy(), model(src, tgt).detach().numpy())


def test_bad_input_names_the_module_and_shapes():
    layer = TransformerEncoderLayer(D, H, FF)
    x = gn.tensor(np.zeros((S, N, D), dtype=np.float32))
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer\(d_model=8\) got src of shape \(5, 3, 6\)"):
        layer(gn.tensor(np.zeros((S, N, 6), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 4\) cannot broadcast to \(batch, heads, query, "
                                         r"key\) = \(3, 2, 5, 5\)"):
        layer(x, src_mask=np.zeros((4, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(5, 3\) cannot broadcast"):
        layer(x, src_key_padding_mask=np.zeros((S, N), dtype=bool))
    model = Transformer(D, H, 1, 1, FF)
    with pytest.raises(ValueError, match=r"Transformer\(d_model=8, nhead=2\) got src \(5, 3, 8\) and tgt \(4, 2, 8\)"):
        model(x, gn.tensor(np.zeros((T, 2, D), dtype=np.float32)))
    with pytest.raises(ValueError, match="activation should be"):
        TransformerEncoderLayer(D, H, activation="swishy")


# ---------------------------------------------------------------- positional encodings


def test_sinusoidal_encoding_follows_the_formula_in_every_layout():
    pe = SinusoidalPositionalEncoding(6, max_len=20)
    assert pe.pe.shape == (20, 6) and "pe" not in pe.state_dict()
    pos, i = 7, 2
    assert np.isclose(pe.pe.numpy()[pos, 2 * i], math.sin(pos / 10000 ** (2 * i / 6)), atol=1e-6)
    assert np.isclose(pe.pe.numpy()[pos, 2 * i + 1], math.cos(pos / 10000 ** (2 * i / 6)), atol=1e-6)
    x = RNG.standard_normal((4, 3, 6)).astype(np.float32)
    out = pe(gn.tensor(x), offset=2).numpy()
    np.testing.assert_allclose(out, x + pe.pe.numpy()[2:6, None, :], rtol=1e-6)
    bf = SinusoidalPositionalEncoding(6, max_len=20, batch_first=True)
    np.testing.assert_allclose(bf(gn.tensor(x)).numpy(), x + pe.pe.numpy()[None, :3], rtol=1e-6)
    np.testing.assert_allclose(pe(gn.tensor(x[:, 0])).numpy(), x[:, 0] + pe.pe.numpy()[:4], rtol=1e-6)
    odd = SinusoidalPositionalEncoding(5, max_len=4)
    assert odd.pe.shape == (4, 5) and np.isclose(odd.pe.numpy()[1, 4], math.sin(1 / 10000 ** (4 / 5)), atol=1e-6)
    with pytest.raises(ValueError, match=r"SinusoidalPositionalEncoding\(d_model=6\) got input of shape \(4, 3, 6\) "
                                         r"at offset 18: positions 18..21 do not fit max_len=20"):
        pe(gn.tensor(x), offset=18)


def test_learned_positional_embedding_adds_trainable_rows():
    gn.manual_seed(0)
    emb = LearnedPositionalEmbedding(10, 4, batch_first=True)
    assert [k for k in emb.state_dict()] == ["weight"] and emb.weight.shape == (10, 4)
    assert 0.005 < emb.weight.detach().numpy().std() < 0.05
    x = gn.tensor(RNG.standard_normal((2, 3, 4)).astype(np.float32), requires_grad=True)
    out = emb(x, offset=1)
    np.testing.assert_allclose(out.detach().numpy(), x.detach().numpy() + emb.weight.detach().numpy()[None, 1:4])
    out.sum().backward()
    g = emb.weight.grad.numpy()
    np.testing.assert_allclose(g[1:4], 2.0)
    assert not g[[0, 4, 5, 6, 7, 8, 9]].any()
    with pytest.raises(ValueError, match=r"LearnedPositionalEmbedding\(10, 4\) got input of shape \(2, 3, 5\)"):
        emb(gn.tensor(np.zeros((2, 3, 5), dtype=np.float32)))
    with pytest.raises(ValueError, match="do not fit max_len=10"):
        emb(gn.tensor(np.zeros((2, 11, 4), dtype=np.float32)))
