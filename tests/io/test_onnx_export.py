"""gn.onnx.export: each model family exported, checked by onnx, run by onnxruntime on a new batch size and compared
with glassnet; clear errors for unsupported ops, input-dependent constants and bad paths; modes restored."""

import os
import sys

import numpy as np
import pytest
from needs import need_module

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn
from glassnet.autograd import Function
from glassnet.io.onnx import export

TOL = dict(atol=1e-5, rtol=1e-5)


@pytest.fixture(scope="module")
def onnx():
    return need_module("onnx", "pip install 'glassnet[onnx]'")


@pytest.fixture(scope="module")
def ort():
    return need_module("onnxruntime", "pip install 'glassnet[onnx]'")


def _flat(result):
    if isinstance(result, (tuple, list)):
        return [t for r in result for t in _flat(r)]
    return [] if result is None else [result]


def _roundtrip(onnx, ort, tmp_path, model, example, new_input, **options):
    """Export, check the file, run it on `new_input` and return (onnx outputs, glassnet outputs)."""
    path = export(model, example, tmp_path / "model.onnx", **options)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = new_input if isinstance(new_input, tuple) else (new_input,)
    got = session.run(None, {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs)})
    was_training = model.training
    assert all(m.training == was_training for m in model.modules())  # export left the modes alone
    model.eval()  # the reference: glassnet in eval mode, as exported
    with gn.no_grad():
        want = [t.numpy() for t in _flat(model(*inputs))]
    model.train(was_training)
    assert len(got) == len(want)
    return got, want


def _assert_close(got, want):
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, **TOL)


def _check(onnx, ort, tmp_path, model, example, new_input, **options):
    _assert_close(*_roundtrip(onnx, ort, tmp_path, model, example, new_input, **options))


# ----- families -------------------------------------------------------------------------------------------------------


def test_mlp_with_every_activation(onnx, ort, tmp_path):
    gn.manual_seed(0)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 16),
        nn.Sigmoid(), nn.Linear(16, 16), nn.GELU(), nn.Linear(16, 16), nn.GELU(approximate="tanh"), nn.LeakyReLU(0.2),
        nn.ELU(), nn.SiLU(), nn.Softplus(), nn.Linear(16, 5), nn.Softmax(dim=-1),
    )
    model.train()
    _check(onnx, ort, tmp_path, model, gn.randn(3, 3, 4), gn.randn(7, 3, 4))


def test_glassnet_models_mlp_and_lenet5(onnx, ort, tmp_path):
    from glassnet.models import MLP, LeNet5

    gn.manual_seed(1)
    _check(onnx, ort, tmp_path, MLP([20, 32, 16, 5], activation="tanh"), gn.randn(4, 20), gn.randn(9, 20))
    _check(onnx, ort, tmp_path, LeNet5(), gn.randn(2, 1, 28, 28), gn.randn(3, 1, 28, 28))


def test_cnn_conv_pool_and_norm_layers(onnx, ort, tmp_path):
    gn.manual_seed(2)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.LeakyReLU(0.1),
        nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4), nn.ELU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 6, 1, bias=False), nn.AvgPool2d(2, stride=1, padding=1), nn.AdaptiveAvgPool2d((3, 2)),
        nn.Flatten(), nn.LayerNorm(36), nn.Linear(36, 4),
    )
    with gn.no_grad():
        model(gn.randn(8, 3, 16, 16))  # training mode: moves BatchNorm's running statistics away from 0 and 1
    _check(onnx, ort, tmp_path, model, gn.randn(2, 3, 16, 16), gn.randn(5, 3, 16, 16))


def test_conv1d_batchnorm1d(onnx, ort, tmp_path):
    gn.manual_seed(3)
    model = nn.Sequential(nn.Conv1d(4, 6, 3, padding=1, stride=2), nn.BatchNorm1d(6), nn.Sigmoid(),
                          nn.MaxPool1d(2, stride=1), nn.AvgPool1d(2), nn.Flatten(), nn.Linear(12, 3))
    with gn.no_grad():
        model(gn.randn(8, 4, 10))
    _check(onnx, ort, tmp_path, model, gn.randn(2, 4, 10), gn.randn(6, 4, 10))


class _TransposedConv1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(gn.randn(4, 3, 4))
        self.norm = nn.GroupNorm(3, 6, affine=False)

    def forward(self, x):
        return self.norm(F.conv_transpose1d(x, self.weight, stride=3, groups=2, dilation=2)).log_softmax(dim=1)


@pytest.mark.parametrize("opset", [17, 18, 20])
def test_group_norm_conv_transpose_and_more_activations(onnx, ort, tmp_path, opset):
    gn.manual_seed(10)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GroupNorm(4, 8),
                          nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1), nn.SELU(), nn.Hardtanh(),
                          nn.Softplus(beta=2.0))
    _check(onnx, ort, tmp_path, model, gn.randn(2, 3, 6, 6), gn.randn(3, 3, 6, 6), opset=opset)
    _check(onnx, ort, tmp_path, _TransposedConv1d(), gn.randn(2, 4, 5), gn.randn(3, 4, 5), opset=opset)


class _Adaptive1d(nn.Module):
    def forward(self, x):
        return F.adaptive_avg_pool1d(x, 3)


def test_batchnorm1d_on_features_and_adaptive_pool1d(onnx, ort, tmp_path):
    gn.manual_seed(3)
    model = nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.Unflatten(1, (1, 6)), _Adaptive1d(), nn.Flatten())
    with gn.no_grad():
        model(gn.randn(8, 5))
    _check(onnx, ort, tmp_path, model, gn.randn(2, 5), gn.randn(6, 5))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_recurrent_layers(onnx, ort, tmp_path, kind, batch_first):
    gn.manual_seed(4)
    layer = getattr(nn, kind)(5, 7, num_layers=2, batch_first=batch_first, bidirectional=True)
    shape = (lambda n: (n, 6, 5)) if batch_first else (lambda n: (6, n, 5))
    got, want = _roundtrip(onnx, ort, tmp_path, layer, gn.randn(*shape(3)), gn.randn(*shape(4)),
                           batch_axis=0 if batch_first else 1)
    assert len(got) == (3 if kind == "LSTM" else 2)  # output, h_n (and c_n)
    _assert_close(got, want)


def test_lstm_uses_the_onnx_lstm_op(onnx, tmp_path):
    path = export(nn.LSTM(3, 4), gn.randn(5, 2, 3), tmp_path / "lstm.onnx", batch_axis=1)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("LSTM") == 1


def test_char_rnn_with_integer_input(onnx, ort, tmp_path):
    from glassnet.models import CharRNN

    gn.manual_seed(5)
    rng = np.random.default_rng(0)
    ids = lambda n: gn.tensor(rng.integers(0, 20, (n, 7)))  # noqa: E731
    _check(onnx, ort, tmp_path, CharRNN(20, embed_dim=8, hidden_size=16), ids(2), ids(4))


class _Encoder(nn.Module):
    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, x, padding_mask):
        return self.encoder(x, src_key_padding_mask=padding_mask)


def test_transformer_encoder_with_and_without_padding_mask(onnx, ort, tmp_path):
    gn.manual_seed(6)
    layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True, activation="gelu", norm_first=True)
    encoder = nn.TransformerEncoder(layer, num_layers=2)
    _check(onnx, ort, tmp_path, encoder, gn.randn(2, 5, 16), gn.randn(3, 5, 16))
    mask = gn.tensor(np.array([[False] * 5, [False] * 3 + [True] * 2]))
    new_mask = gn.tensor(np.array([[False] * 4 + [True], [False] * 5, [False, True] * 2 + [True]]))
    x = gn.randn(3, 5, 16)
    got, want = _roundtrip(onnx, ort, tmp_path, _Encoder(encoder), (gn.randn(2, 5, 16), mask), (x, new_mask),
                           input_names=["x", "mask"])
    _assert_close(got, want)
    no_padding = gn.tensor(np.zeros((3, 5), dtype=bool))
    got_unmasked, want_unmasked = _roundtrip(onnx, ort, tmp_path, _Encoder(encoder), (gn.randn(2, 5, 16), mask),
                                             (x, no_padding))
    _assert_close(got_unmasked, want_unmasked)
    assert not np.allclose(got[0], got_unmasked[0], atol=1e-3)  # the mask is a graph input, not a baked constant


def test_multihead_attention_sequence_first(onnx, ort, tmp_path):
    gn.manual_seed(7)
    attention = nn.MultiheadAttention(16, 4)

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = attention

        def forward(self, x):
            return self.attention(x, x, x)

    _check(onnx, ort, tmp_path, SelfAttention(), gn.randn(5, 2, 16), gn.randn(5, 3, 16), batch_axis=1)


def test_gpt_with_causal_mask_and_positions(onnx, ort, tmp_path):
    from glassnet.models import GPT

    gn.manual_seed(8)
    rng = np.random.default_rng(1)
    model = GPT(30, block_size=8, n_layer=1, n_head=2, d_model=16)
    _check(onnx, ort, tmp_path, model, gn.tensor(rng.integers(0, 30, (2, 8))), gn.tensor(rng.integers(0, 30, (3, 8))))


class _ManyOps(nn.Module):
    """A hand-written forward: indexing, joins, reductions, comparisons, einsum, padding — traced op by op."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(gn.randn(4, 4))

    def forward(self, x):  # x: (N, 3, 4)
        n = x.shape[0]
        parts = [x[:, 1:, ::2].flatten(1), x[..., -1], x[:, None, [0, 2]].flatten(1), x[:, ::-1].flatten(1)]
        stats = gn.stack([x.sum(dim=1), x.mean(dim=1), x.amax(dim=1), x.std(dim=1)], dim=1)  # (N, 4, 4)
        mixed = gn.einsum("nij,jk->nik", stats, self.w).clamp(-1.0, 1.0)
        gated = gn.where((mixed > 0) & (mixed != 0.5), mixed, mixed * 0.1).exp().log1p().sqrt()
        gated = gated + x.logsumexp(dim=1).unsqueeze(1)
        tiled = x.permute(0, 2, 1).transpose(1, 2).abs().pow(2.0).repeat(1, 2, 1)
        padded = F.pad(x, (1, 2), value=0.5).prod(dim=-1)
        probs = x[:, :1].expand(n, 3, 4).softmax(dim=-1).log_softmax(dim=1).reshape(n, -1)
        return gn.cat(parts, dim=1), gated, tiled.mean(), padded, probs, x.var(dim=-1)


def test_hand_written_forward_of_many_ops(onnx, ort, tmp_path):
    gn.manual_seed(9)
    _check(onnx, ort, tmp_path, _ManyOps(), gn.randn(2, 3, 4), gn.randn(5, 3, 4))


# ----- options --------------------------------------------------------------------------------------------------------


def test_dynamic_batch_marks_the_batch_axis_and_fixed_batch_does_not(onnx, tmp_path):
    model = nn.Linear(4, 2)
    dims = lambda p: [d.dim_param or d.dim_value for d in onnx.load(str(p)).graph.input[0].type.tensor_type.shape.dim]  # noqa: E731
    assert dims(export(model, gn.randn(3, 4), tmp_path / "a.onnx")) == ["batch", 4]
    assert dims(export(model, gn.randn(3, 4), tmp_path / "b.onnx", dynamic_batch=False)) == [3, 4]


def test_names_and_opset(onnx, tmp_path):
    path = export(nn.Linear(4, 2), gn.randn(3, 4), str(tmp_path / "m.onnx"), opset=18, input_names=["features"],
                  output_names=["logits"])
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["features"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert proto.opset_import[0].version == 18
    with pytest.raises(ValueError, match="opset"):
        export(nn.Linear(4, 2), gn.randn(3, 4), tmp_path / "m.onnx", opset=11)
    with pytest.raises(ValueError, match="input_names"):
        export(nn.Linear(4, 2), gn.randn(3, 4), tmp_path / "m.onnx", input_names=["a", "b"])


def test_public_module_path():
    import glassnet.onnx

    assert glassnet.onnx.export is export


# ----- errors and side effects ----------------------------------------------------------------------------------------


class _Unfolder(nn.Module):
    def forward(self, x):
        return F.unfold(x, 2)


def test_unsupported_op_is_named_and_apply_restored(onnx, tmp_path):
    apply_before = Function.__dict__["apply"]
    with pytest.raises(NotImplementedError, match=r"no ONNX converter for op 'Unfold' \(glassnet\.ops\.conv\.Unfold\)"):
        export(_Unfolder(), gn.randn(1, 1, 4, 4), tmp_path / "u.onnx")
    assert Function.__dict__["apply"] is apply_before
    assert not os.listdir(tmp_path)  # nothing written, no temporary file left


def test_constant_computed_from_the_input_is_refused(onnx, tmp_path):
    class NumpyDetour(nn.Module):
        def forward(self, x):
            return x * gn.tensor(x.numpy().mean())

    with pytest.raises(ValueError, match="changes with the input"):
        export(NumpyDetour(), gn.randn(2, 3), tmp_path / "n.onnx")


def test_bad_paths(onnx, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export(nn.Linear(2, 2), gn.randn(1, 2), tmp_path / "missing" / "m.onnx")
    with pytest.raises(IsADirectoryError, match="directory"):
        export(nn.Linear(2, 2), gn.randn(1, 2), tmp_path)
    with pytest.raises(TypeError, match="path"):
        export(nn.Linear(2, 2), gn.randn(1, 2), 42)


def test_failed_export_keeps_the_old_file(onnx, tmp_path):
    path = export(nn.Linear(2, 2), gn.randn(1, 2), tmp_path / "m.onnx")
    before = path.read_bytes()
    with pytest.raises(NotImplementedError):
        export(_Unfolder(), gn.randn(1, 1, 4, 4), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.onnx"]


def test_training_modes_are_restored(onnx, tmp_path):
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.BatchNorm1d(4))
    model.train()
    model[2].eval()  # a mixed state comes back exactly as it was
    export(model, gn.randn(3, 4), tmp_path / "m.onnx")
    assert [m.training for m in model.modules()] == [True, True, True, False]


def test_bad_example_input(onnx, tmp_path):
    with pytest.raises(TypeError, match="example_input"):
        export(nn.Linear(2, 2), [[1.0, 2.0]], tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="axis 0"):
        export(nn.Linear(2, 2), gn.tensor(1.0), tmp_path / "m.onnx")


def test_missing_onnx_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'glassnet\[onnx\]'"):
        export(nn.Linear(2, 2), gn.randn(1, 2), tmp_path / "m.onnx")


def test_3d_convolution_and_pooling_layers(onnx, ort, tmp_path):
    """Conv3d, MaxPool3d (ceil_mode), AvgPool3d (count_include_pad=False), ConvTranspose3d (groups) and an adaptive
    pool over the last two axes export through the same converters as their 2-D versions."""
    gn.manual_seed(5)
    model = nn.Sequential(
        nn.Conv3d(2, 4, 3, padding=1, stride=(1, 2, 1)), nn.ReLU(), nn.MaxPool3d(2, ceil_mode=True),
        nn.AvgPool3d(2, stride=1, padding=1, count_include_pad=False), nn.ConvTranspose3d(4, 2, 2, stride=2, groups=2),
        nn.AdaptiveAvgPool3d((None, 1, 3)), nn.Flatten(),
    )
    _check(onnx, ort, tmp_path, model, gn.randn(2, 2, 6, 8, 6), gn.randn(3, 2, 6, 8, 6))


def test_unbatched_example_exports_with_a_fixed_batch(onnx, ort, tmp_path):
    """Conv and pooling layers take one unbatched (C, H, W) sample as PyTorch; such an example exports with
    dynamic_batch=False, and with the default (a symbolic axis 0, here the channels) the error says so."""
    gn.manual_seed(6)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.ConvTranspose2d(4, 2, 2, stride=2),
                          nn.AdaptiveAvgPool2d(3))
    x = gn.randn(3, 8, 8)
    got, want = _roundtrip(onnx, ort, tmp_path, model, x, x, dynamic_batch=False)
    assert got[0].shape == want[0].shape == (2, 3, 3)
    np.testing.assert_allclose(got[0], want[0], **TOL)
    with pytest.raises(ValueError, match=r"another size on axis 0.*\(4, 8, 8\) with 4 channels.*dynamic_batch=False"):
        export(model, x, tmp_path / "unbatched.onnx")
