"""The transfer-learning example's pieces, run tiny on the bundled MNIST subset."""

import importlib.util
import pathlib

import numpy as np
import pytest

import glassnet as gn

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "transfer_mnist.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("transfer_mnist", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data(example):
    x_train, y_train, x_test, y_test = example.load_data(None, quick=True)  # classes are mixed in file order
    return x_train[:1500], y_train[:1500], x_test[:300], y_test[:300]


def test_select_digits_relabels(example):
    y = np.array([5, 0, 9, 7, 3])
    x = np.arange(5)[:, None].astype(np.float32)
    xs, ys = example.select_digits(x, y, (5, 6, 7, 8, 9))
    assert xs[:, 0].tolist() == [0, 2, 3] and ys.tolist() == [0, 4, 2]


def test_few_shot_indices_are_balanced_and_seeded(example):
    y = np.repeat(np.arange(5), 30)
    idx = example.few_shot_indices(y, 10, seed=3)
    assert np.bincount(y[idx]).tolist() == [10] * 5 and len(set(idx.tolist())) == 50
    assert idx.tolist() == example.few_shot_indices(y, 10, seed=3).tolist()
    assert idx.tolist() != example.few_shot_indices(y, 10, seed=4).tolist()


def test_unknown_method_is_refused(example, data):
    with pytest.raises(ValueError, match="learn_new_task: unknown method 'linear'"):
        example.learn_new_task("linear", example.make_backbone(), *data, steps=1, seed=0)


def test_tiny_run_gives_a_table_and_keeps_the_backbone(example, data, tmp_path):
    checkpoint = tmp_path / "pretrained.safetensors"
    logs: list[str] = []
    result = example.run_experiment(*data, shots=(5,), seeds=(0,), pretrain_epochs=3, steps=15,
                                    checkpoint=str(checkpoint), log=logs.append)
    assert checkpoint.is_file()
    assert result["pretrain_accuracy"] > 0.4                  # 5 digits: chance is 0.2
    for method in example.METHODS:
        (acc,) = result["accuracy"][(method, 5)]
        assert 0.0 <= acc <= 1.0
    assert result["accuracy"][("frozen", 5)][0] > 0.3         # pretrained features already separate new digits
    table = example.markdown_table(result).splitlines()
    assert table[0] == "| labelled images per class | frozen | fine-tuned | scratch | random features |"
    assert table[2].startswith("| 5 | ") and table[2].count("±") == 4

    # a second run reuses the checkpoint, and few-shot learning never changes the pretrained weights
    pretrained = example.load_or_pretrain(str(checkpoint), None, None, 1, 0, log=logs.append)
    assert "loaded" in logs[-1]
    before = {k: v.numpy().copy() for k, v in pretrained.state_dict().items()}
    x_new, y_new = example.select_digits(data[0], data[1], example.NEW_DIGITS)
    x_test, y_test = example.select_digits(data[2], data[3], example.NEW_DIGITS)
    idx = example.few_shot_indices(y_new, 5, seed=0)
    for method in ("frozen", "fine-tuned"):
        example.learn_new_task(method, pretrained[0], x_new[idx], y_new[idx], x_test[:50], y_test[:50], 4, 0)
    for k, v in pretrained.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    assert all(p.requires_grad for p in pretrained.parameters())


def test_fine_tuning_uses_two_learning_rates(example, data, monkeypatch):
    seen = []
    real_adam = gn.optim.Adam

    class RecordingAdam(real_adam):
        def step(self, *args, **kwargs):
            seen.append([(g["lr"], sum(p.numel() for p in g["params"])) for g in self.param_groups])
            return super().step(*args, **kwargs)

    monkeypatch.setattr(gn.optim, "Adam", RecordingAdam)
    x, y = data[0][:20], data[1][:20] % 5
    example.learn_new_task("fine-tuned", example.make_backbone(), x, y, x, y, steps=4, seed=0)
    head = example.FEATURES * 5 + 5
    assert seen[0] == [(example.HEAD_LR, head)]              # first the head alone, the backbone frozen
    backbone = sum(p.numel() for p in example.make_backbone().parameters())
    assert seen[-1] == [(example.HEAD_LR, head), (example.HEAD_LR / 10, backbone)]
