"""scaled_dot_product_attention and MultiheadAttention against PyTorch: outputs, attention weights, gradients, masks."""

import numpy as np
import pytest
import torch

import glassnet as gn
from glassnet.nn.attention import MultiheadAttention, scaled_dot_product_attention

from .helpers import TOL, load_from_torch, same_names_and_shapes

RNG = np.random.default_rng(0)


def _pair(a: np.ndarray, dtype, grad: bool = True):
    a = a.astype(dtype)
    return gn.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def _close(ours, theirs, tol, msg=""):
    ours = ours.detach().numpy() if isinstance(ours, gn.Tensor) else ours
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=tol, atol=tol, err_msg=msg)


def _bool_mask(shape, diagonal_free: bool = True):
    """A random boolean mask that leaves every query some keys (the diagonal and key 1, which no padding hides)."""
    m = RNG.random(shape) < 0.4
    if diagonal_free:
        idx = np.arange(min(shape[-2], shape[-1]))
        m[..., idx, idx] = False
        m[..., :, 1] = False
    return m


# ---------------------------------------------------------------- scaled_dot_product_attention

SDPA_CASES = ["none", "bool", "bool_broadcast", "float", "causal", "causal_rect", "scale"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", SDPA_CASES)
def test_sdpa_matches_pytorch_forward_and_backward(case, dtype):
    tol = TOL[dtype]
    n, h, length, source, e, ev = 2, 3, 4, 6 if case == "causal_rect" else 4, 5, 7
    q, tq = _pair(RNG.standard_normal((n, h, length, e)), dtype)
    k, tk = _pair(RNG.standard_normal((n, h, source, e)), dtype)
    v, tv = _pair(RNG.standard_normal((n, h, source, ev)), dtype)
    kwargs = {}
    if case == "bool":
        allowed = ~_bool_mask((n, h, length, source))  # True = take part
        kwargs = {"attn_mask": allowed}
    elif case == "bool_broadcast":
        kwargs = {"attn_mask": ~_bool_mask((length, source))}
    elif case == "float":
        kwargs = {"attn_mask": RNG.standard_normal((n, 1, length, source)).astype(dtype)}
    elif case in ("causal", "causal_rect"):
        kwargs = {"is_causal": True}
    elif case == "scale":
        kwargs = {"scale": 0.3}
    ours, weights = scaled_dot_product_attention(
        q, k, v, **{k_: (gn.tensor(a) if k_ == "attn_mask" else a) for k_, a in kwargs.items()}, return_weights=True
    )
    theirs = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, **{k_: (torch.tensor(a) if k_ == "attn_mask" else a) for k_, a in kwargs.items()}
    )
    _close(ours, theirs, tol)
    assert weights.shape == (n, h, length, source)
    np.testing.assert_allclose(weights.detach().numpy().sum(-1), 1.0, rtol=tol, atol=tol)
    g = RNG.standard_normal(theirs.shape).astype(dtype)
    (ours * gn.tensor(g)).sum().backward()
    (theirs * torch.tensor(g)).sum().backward()
    for a, b, name in ((q, tq, "query"), (k, tk, "key"), (v, tv, "value")):
        _close(a.grad, b.grad, tol, name)


def test_sdpa_without_weights_returns_only_the_output_and_accepts_numpy_masks():
    q = gn.tensor(RNG.standard_normal((3, 4)).astype(np.float32))
    out = scaled_dot_product_attention(q, q, q, attn_mask=np.tril(np.ones((3, 3), dtype=bool)))
    assert isinstance(out, gn.Tensor) and out.shape == (3, 4)
    causal = scaled_dot_product_attention(q, q, q, is_causal=True)
    np.testing.assert_allclose(out.numpy(), causal.numpy(), rtol=1e-6)
    np.testing.assert_allclose(out.numpy()[0], q.numpy()[0], rtol=1e-6)  # the first query sees only itself


def test_sdpa_float_mask_receives_a_gradient_like_pytorch():
    q, tq = _pair(RNG.standard_normal((2, 3, 4)), np.float64)
    m, tm = _pair(RNG.standard_normal((3, 3)), np.float64)
    ours = scaled_dot_product_attention(q, q, q, attn_mask=m)
    theirs = torch.nn.functional.scaled_dot_product_attention(tq, tq, tq, attn_mask=tm)
    ours.sum().backward()
    theirs.sum().backward()
    _close(m.grad, tm.grad, 1e-10)
    _close(q.grad, tq.grad, 1e-10)


def test_sdpa_dropout_drops_weights_and_scales_the_rest():
    gn.manual_seed(0)
    q = gn.tensor(RNG.standard_normal((2, 8, 16, 4)).astype(np.float64))
    v = gn.tensor(RNG.standard_normal((2, 8, 16, 5)).astype(np.float64))
    out, w = scaled_dot_product_attention(q, q, v, dropout_p=0.5, return_weights=True)
    _, clean = scaled_dot_product_attention(q, q, v, return_weights=True)
    w, clean = w.numpy(), clean.numpy()
    kept = w != 0
    assert 0.4 < kept.mean() < 0.6
    np.testing.assert_allclose(w[kept], clean[kept] * 2, rtol=1e-12)
    np.testing.assert_allclose(out.numpy(), w @ v.numpy(), rtol=1e-12)


def test_sdpa_rejects_masks_and_shapes_that_do_not_fit():
    q = gn.tensor(np.zeros((2, 3, 4, 5), dtype=np.float32))
    k = gn.tensor(np.zeros((2, 3, 6, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 4\) cannot broadcast .*\(2, 3, 4, 6\)"):
        scaled_dot_product_attention(q, k, k, attn_mask=np.ones((4, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention got query \(2, 3, 4, 5\), key \(2, 3, 6, 4\)"):
        scaled_dot_product_attention(q, k[..., :4], k)


# ---------------------------------------------------------------- MultiheadAttention

E, H, L, S, N = 8, 2, 5, 6, 3


def _mha_pair(dtype=np.float32, **kwargs):
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, H, **kwargs)
    ours = MultiheadAttention(E, H, **kwargs)
    same_names_and_shapes(ours, theirs)
    with torch.no_grad():  # non-zero biases so that they are tested too
        for name, p in theirs.named_parameters():
            if "bias" in name:
                p.add_(torch.randn(p.shape) * 0.5)
    if dtype == np.float64:
        theirs.double()
    load_from_torch(ours, theirs)
    if dtype == np.float64:
        ours.double()
    return ours.eval(), theirs.eval()


def _masks(kind: str, batched: bool = True):
    """(attn_mask, key_padding_mask) as NumPy arrays in MultiheadAttention's convention (True = do not attend)."""
    attn, padding = None, None
    if kind in ("bool", "bool_both"):
        attn = _bool_mask((L, S))
    if kind == "bool_3d":
        attn = _bool_mask((N * H, L, S))
    if kind in ("float", "float_both"):
        attn = RNG.standard_normal((L, S)).astype(np.float32)
    if kind == "float_3d":
        attn = RNG.standard_normal((N * H, L, S)).astype(np.float32)
    if kind in ("padding", "bool_both"):
        padding = np.zeros((N, S), dtype=bool)
        padding[0, -2:] = True
        padding[2, 0] = True
    if kind == "float_both":
        padding = RNG.standard_normal((N, S)).astype(np.float32)
    if not batched and padding is not None:
        padding = padding[0]
    return attn, padding


MHA_CASES = [
    ({}, "none"),
    ({}, "bool"),
    ({}, "bool_3d"),
    ({}, "float"),
    ({}, "float_3d"),
    ({}, "padding"),
    ({}, "bool_both"),
    ({}, "float_both"),
    ({"batch_first": True}, "bool_both"),
    ({"kdim": 3, "vdim": 4}, "bool_both"),
    ({"kdim": 3, "vdim": 4, "batch_first": True}, "float"),
    ({"bias": False}, "padding"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("average", [True, False])
@pytest.mark.parametrize("kwargs, masks", MHA_CASES, ids=[f"{c[0]}-{c[1]}" for c in MHA_CASES])
def test_multihead_attention_matches_pytorch(kwargs, masks, average, dtype):
    tol = TOL[dtype]
    ours, theirs = _mha_pair(dtype, **kwargs)
    kdim, vdim = kwargs.get("kdim", E), kwargs.get("vdim", E)
    bf = kwargs.get("batch_first", False)
    shape = (lambda t, d: (N, t, d)) if bf else (lambda t, d: (t, N, d))
    q, tq = _pair(RNG.standard_normal(shape(L, E)), dtype)
    k, tk = _pair(RNG.standard_normal(shape(S, kdim)), dtype)
    v, tv = _pair(RNG.standard_normal(shape(S, vdim)), dtype)
    attn, padding = _masks(masks)
    attn, padding = (a if a is None or a.dtype == bool else a.astype(dtype) for a in (attn, padding))
    out, w = ours(q, k, v, key_padding_mask=padding, attn_mask=attn, average_attn_weights=average)
    tout, tw = theirs(
        tq, tk, tv, key_padding_mask=None if padding is None else torch.tensor(padding),
        attn_mask=None if attn is None else torch.tensor(attn), average_attn_weights=average,
    )
    _close(out, tout, tol, "output")
    _close(w, tw, tol, "weights")
    g, gw = RNG.standard_normal(tout.shape).astype(dtype), RNG.standard_normal(tw.shape).astype(dtype)
    ((out * gn.tensor(g)).sum() + (w * gn.tensor(gw)).sum()).backward()
    ((tout * torch.tensor(g)).sum() + (tw * torch.tensor(gw)).sum()).backward()
    for a, b, name in ((q, tq, "query"), (k, tk, "key"), (v, tv, "value")):
        _close(a.grad, b.grad, tol, name)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad, tparams[name].grad, tol, name)


@pytest.mark.parametrize("masks", ["none", "bool", "padding", "bool_both"])
def test_multihead_attention_unbatched_matches_pytorch(masks):
    ours, theirs = _mha_pair()
    x = RNG.standard_normal((L, E)).astype(np.float32)
    m = RNG.standard_normal((S, E)).astype(np.float32)
    attn, padding = _masks(masks, batched=False)
    out, w = ours(gn.tensor(x), gn.tensor(m), gn.tensor(m), key_padding_mask=padding, attn_mask=attn)
    tout, tw = theirs(torch.tensor(x), torch.tensor(m), torch.tensor(m),
                      key_padding_mask=None if padding is None else torch.tensor(padding),
                      attn_mask=None if attn is None else torch.tensor(attn))
    assert out.shape == (L, E) and w.shape == (L, S)
    _close(out, tout, 1e-5)
    _close(w, tw, 1e-5)


def test_multihead_attention_causal_and_need_weights_false():
    ours, theirs = _mha_pair()
    x = RNG.standard_normal((L, N, E)).astype(np.float32)
    causal = np.triu(np.ones((L, L), dtype=bool), k=1)
    out, w = ours(gn.tensor(x), gn.tensor(x), gn.tensor(x), need_weights=False, is_causal=True)
    assert w is None
    tout, _ = theirs(torch.tensor(x), torch.tensor(x), torch.tensor(x), attn_mask=torch.tensor(causal),
                     is_causal=True)
    _close(out, tout, 1e-5)
    hinted, _ = ours(gn.tensor(x), gn.tensor(x), gn.tensor(x), attn_mask=causal, is_causal=True)
    _close(hinted, tout, 1e-5)


def test_multihead_attention_keeps_last_weights_only_when_asked():
    ours, _ = _mha_pair()
    x = gn.tensor(RNG.standard_normal((L, N, E)).astype(np.float32))
    ours(x, x, x)
    assert ours.last_attn_weights is None
    ours.keep_attn_weights = True
    _, w = ours(x, x, x, need_weights=True, average_attn_weights=False)
    assert ours.last_attn_weights.shape == (N, H, L, L)
    assert not ours.last_attn_weights.requires_grad
    np.testing.assert_allclose(ours.last_attn_weights.numpy(), w.detach().numpy())
    ours(x[:3], x[:3], x[:3], need_weights=False)  # stored even when the caller does not ask for weights
    assert ours.last_attn_weights.shape == (N, H, 3, 3)
    assert "last_attn_weights" not in ours.state_dict()


def test_multihead_attention_dropout_only_in_training():
    ours = MultiheadAttention(E, H, dropout=0.5)
    x = gn.tensor(RNG.standard_normal((L, N, E)).astype(np.float32))
    gn.manual_seed(0)
    _, w = ours(x, x, x, average_attn_weights=False)
    assert (w.detach().numpy() == 0).any()
    ours.eval()
    _, w = ours(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(w.detach().numpy().sum(-1), 1.0, rtol=1e-5)


def test_multihead_attention_state_dict_layouts_match_pytorch():
    for kwargs in ({}, {"kdim": 3, "vdim": 5}, {"bias": False}, {"kdim": 3, "bias": False}):
        same_names_and_shapes(MultiheadAttention(E, H, **kwargs), torch.nn.MultiheadAttention(E, H, **kwargs))


def test_multihead_attention_bad_input_names_module_and_shapes():
    mha = MultiheadAttention(E, H)
    x = gn.tensor(np.zeros((L, N, E), dtype=np.float32))
    with pytest.raises(ValueError, match=r"embed_dim .* must be a positive multiple of num_heads"):
        MultiheadAttention(7, 2)
    with pytest.raises(ValueError, match=r"MultiheadAttention\(embed_dim=8, num_heads=2\) got query \(5, 3, 6\)"):
        wrong = gn.tensor(np.zeros((L, N, 6), dtype=np.float32))
        mha(wrong, wrong, wrong)
    with pytest.raises(
        ValueError,
        match=r"MultiheadAttention\(embed_dim=8, num_heads=2\): attn_mask of shape \(4, 5\) cannot broadcast to "
        r"\(batch, heads, query, key\) = \(3, 2, 5, 5\)",
    ):
        mha(x, x, x, attn_mask=np.zeros((4, 5), dtype=bool))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(5, 3\) cannot broadcast .*expected \(3, 5\)"):
        mha(x, x, x, key_padding_mask=np.zeros((5, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"expected 3-D \(L, N, E\) or unbatched"):
        mha(x[None], x[None], x[None])
    with pytest.raises(ValueError, match="key and value must share"):
        mha(x, x, x[:, :2])
