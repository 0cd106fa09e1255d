"""glassnet.io.load_state_dict: PyTorch state dicts by identity, renamed families by mapping tables, q/k/v blocks,
all-or-nothing strict loading with a full report, and pickle checkpoints refused without being unpickled."""

import pickle

import numpy as np
import pytest
from needs import need_module

import glassnet as gn
from glassnet import nn
from glassnet.io.mapping import LoadReport, load_state_dict
from glassnet.io.weights import PickleCheckpointError, WeightsFileError


@pytest.fixture(scope="module")
def torch():
    return need_module("torch", "pip install 'glassnet[test]'")


def _mlp():
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))


def _cnn(lib):
    return lib.Sequential(
        lib.Conv2d(3, 4, 3, padding=1), lib.BatchNorm2d(4), lib.ReLU(), lib.MaxPool2d(2), lib.Flatten(),
        lib.Linear(4 * 4 * 4, 5),
    )


def _close(model, ref, x, torch, atol):
    """glassnet model and torch reference agree on input x."""
    expected = ref(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model(gn.tensor(x)).detach().numpy(), expected, atol=atol)


def _snapshot(module):
    return {k: v.numpy().copy() for k, v in module.state_dict().items()}


# ----- identity: glassnet shares PyTorch's names and layouts ----------------------------------------------------
def test_torch_sequential_loads_by_identity_and_computes_the_same(torch):
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    model = _mlp()
    report = load_state_dict(model, ref.state_dict())
    assert sorted(report.loaded) == sorted(ref.state_dict()) and report.ok
    assert not (report.unmapped or report.missing or report.mismatched or report.skipped)
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    _close(model, ref, x, torch, atol=1e-6)


def test_torch_cnn_with_batchnorm_buffers(torch):
    torch.manual_seed(1)
    ref = _cnn(torch.nn)
    ref.train()
    ref(torch.randn(8, 3, 8, 8))  # move the running statistics away from their initial values
    ref.eval()
    model = _cnn(nn).eval()
    report = load_state_dict(model, ref.state_dict())
    assert "1.running_var" in report.loaded and "1.num_batches_tracked" in report.loaded
    np.testing.assert_allclose(model[1].running_mean.detach().numpy(), ref[1].running_mean.numpy())
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    _close(model, ref, x, torch, atol=1e-5)


def test_safetensors_file_as_source(tmp_path):
    gn.manual_seed(0)
    source, target = _mlp(), _mlp()
    gn.save(source.state_dict(), tmp_path / "mlp.safetensors")
    report = load_state_dict(target, tmp_path / "mlp.safetensors")
    assert report.ok and len(report.loaded) == 4
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name].numpy(), value.numpy())


# ----- renamed families -------------------------------------------------------------------------------------------
class _Renamed(nn.Module):
    """The same CNN under other names, as another library might call it."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.classifier = nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        x = self.features(x).relu()
        return self.classifier(nn.functional.max_pool2d(x, 2).flatten(1))


_TABLE = {
    "0.{p}": "features.0.{p}",
    "1.{}": "features.1.{}",
    "5.{p}": "classifier.{p}",
}


def test_mapping_table_with_placeholders(torch):
    torch.manual_seed(2)
    ref = _cnn(torch.nn).eval()
    model = _Renamed().eval()
    report = load_state_dict(model, ref.state_dict(), mapping=_TABLE)
    assert report.ok and len(report.loaded) == len(ref.state_dict())
    x = np.random.default_rng(2).standard_normal((2, 3, 8, 8)).astype(np.float32)
    _close(model, ref, x, torch, atol=1e-5)


def test_mapping_callable_and_skipping(torch):
    ref = _cnn(torch.nn)
    names = {"0": "features.0", "1": "features.1", "5": "classifier"}

    def rename(name):
        layer, rest = name.split(".", 1)
        return None if rest == "num_batches_tracked" else f"{names[layer]}.{rest}"

    report = load_state_dict(_Renamed(), ref.state_dict(), mapping=rename, strict=False)
    assert report.skipped == ["1.num_batches_tracked"]
    assert report.missing == ["features.1.num_batches_tracked"] and not report.ok


def test_names_matching_no_rule_keep_their_name_and_unknown_ones_are_reported():
    gn.manual_seed(0)
    source = dict(_mlp().state_dict())
    source["extra.weight"] = np.zeros(3, dtype=np.float32)
    report = load_state_dict(_mlp(), source, mapping={"nothing.{x}": "matches.{x}"})
    assert report.unmapped == ["extra.weight"] and report.ok and "unmapped source: extra.weight" in str(report)


def test_qkv_blocks_concatenate_into_in_proj(torch):
    torch.manual_seed(3)
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    state = ref.state_dict()
    split = {}
    for kind in ("weight", "bias"):
        for letter, block in zip("qkv", state[f"in_proj_{kind}"].chunk(3)):
            split[f"attn.{letter}.{kind}"] = block
    split.update({f"attn.o.{kind}": state[f"out_proj.{kind}"] for kind in ("weight", "bias")})
    table = {f"attn.{letter}.{{p}}": f"in_proj_{{p}}[{i}/3]" for i, letter in enumerate("qkv")}
    table["attn.o.{p}"] = "out_proj.{p}"
    model = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    report = load_state_dict(model, split, mapping=table)
    assert sorted(report.loaded) == sorted(state)
    x = np.random.default_rng(3).standard_normal((2, 5, 8)).astype(np.float32)
    expected = ref(*(torch.from_numpy(x),) * 3)[0].detach().numpy()
    np.testing.assert_allclose(model(*(gn.tensor(x),) * 3)[0].detach().numpy(), expected, atol=1e-5)


def test_a_missing_block_is_reported():
    model = nn.MultiheadAttention(4, 1)
    source = {"q": np.zeros((4, 4)), "k": np.zeros((4, 4))}
    report = load_state_dict(model, source, mapping={"q": "in_proj_weight[0/3]", "k": "in_proj_weight[1/3]"},
                             strict=False)
    assert "in_proj_weight (block [2] of 3)" in report.missing


# ----- strict: all or nothing ------------------------------------------------------------------------------------
def test_strict_lists_every_problem_and_changes_nothing():
    gn.manual_seed(0)
    model = _mlp()
    before = _snapshot(model)
    source = {
        "0.weight": np.ones((8, 6), np.float32),       # fine, but must not be copied when the load fails
        "0.bias": np.ones(7, np.float32),              # mis-shaped
        "2.weight": np.ones((3, 9), np.float32),       # mis-shaped
    }                                                  # 2.bias missing
    with pytest.raises(ValueError) as err:
        load_state_dict(model, source)
    message = str(err.value)
    assert "missing: 2.bias" in message
    assert "mis-shaped: 0.bias: source (7,), target (8,)" in message
    assert "mis-shaped: 2.weight: source (3, 9), target (3, 8)" in message
    assert "nothing was changed" in message
    for name, value in _snapshot(model).items():
        np.testing.assert_array_equal(value, before[name])


def test_non_strict_loads_what_fits_and_reports_the_rest():
    gn.manual_seed(0)
    model = _mlp()
    report = load_state_dict(model, {"0.weight": np.ones((8, 6)), "0.bias": np.ones(7)}, strict=False)
    assert isinstance(report, LoadReport)
    assert report.loaded == ["0.weight"]
    assert report.mismatched == [("0.bias", (7,), (8,))]
    assert report.missing == ["2.weight", "2.bias"]
    assert model[0].weight.dtype == np.float32  # float64 source cast to the target's dtype
    assert np.all(model[0].weight.detach().numpy() == 1)


def test_bad_arguments_are_explained():
    model = _mlp()
    with pytest.raises(TypeError, match="expected a glassnet Module"):
        load_state_dict(object(), {})
    with pytest.raises(TypeError, match="source must be a path"):
        load_state_dict(model, [1, 2])
    with pytest.raises(TypeError, match="mapping must be"):
        load_state_dict(model, {}, mapping=3)
    with pytest.raises(ValueError, match="placeholder"):
        load_state_dict(model, {"0.weight": np.ones((8, 6))}, mapping={"0.{p}": "x.{q}"})
    with pytest.raises(ValueError, match="filled only once"):
        load_state_dict(model, {"a": np.ones(8), "b": np.ones(8)}, mapping={"a": "0.bias", "b": "0.bias"})
    with pytest.raises(ValueError, match="out of range"):
        load_state_dict(model, {"a": np.ones(8)}, mapping={"a": "0.bias[3/3]"})


# ----- pickles are refused, never opened --------------------------------------------------------------------------
class _Trap:
    """Unpickling this object would create a file: the proof that a loader ran code from the checkpoint."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("suffix", [".pt", ".safetensors", ".weights"])
def test_pickles_are_refused_by_content_whatever_the_name(tmp_path, suffix):
    marker = tmp_path / "code-ran"
    path = tmp_path / f"model{suffix}"
    path.write_bytes(pickle.dumps({"w": _Trap(marker)}, protocol=4))
    with pytest.raises(PickleCheckpointError, match="execute arbitrary code"):
        load_state_dict(_mlp(), path)
    assert not marker.exists()


def test_torch_checkpoint_is_refused_with_the_conversion_recipe(tmp_path, torch):
    path = tmp_path / "model.bin"
    torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(PickleCheckpointError) as err:
        gn.load(path)
    message = str(err.value)
    assert "zip archive" in message and "weights_only=True" in message and "safetensors.torch.save_file" in message


def test_pickle_suffix_with_other_content_is_refused_and_npz_gets_its_own_advice(tmp_path):
    raw = tmp_path / "weights.ckpt"
    raw.write_bytes(np.arange(10, dtype=np.float32).tobytes())
    with pytest.raises(PickleCheckpointError, match="pickle checkpoint's suffix"):
        gn.load(raw)
    npz = tmp_path / "weights.npz"
    np.savez(npz, a=np.ones(3))
    with pytest.raises(WeightsFileError, match="numpy.load") as err:
        gn.load(npz)
    assert not isinstance(err.value, PickleCheckpointError)


def test_safetensors_named_like_a_checkpoint_still_loads(tmp_path):
    import safetensors.numpy

    path = tmp_path / "pytorch_model.bin"  # written by another tool: gn.save refuses names that promise a pickle
    safetensors.numpy.save_file({"w": np.ones(3, np.float32)}, str(path))
    np.testing.assert_array_equal(gn.load(path)["w"].numpy(), np.ones(3))


def test_the_converted_file_loads(tmp_path, torch):
    """The recipe in the refusal message works end to end."""
    st_torch = need_module("safetensors.torch", "pip install 'glassnet[test]'")
    torch.manual_seed(4)
    ref = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    torch.save(ref.state_dict(), tmp_path / "model.pt")
    state = torch.load(tmp_path / "model.pt", map_location="cpu", weights_only=True)
    st_torch.save_file({k: v.contiguous().clone() for k, v in state.items()}, tmp_path / "model.safetensors")
    model = _mlp()
    assert load_state_dict(model, tmp_path / "model.safetensors").ok
    np.testing.assert_array_equal(model[2].bias.detach().numpy(), ref[2].bias.detach().numpy())
