"""summary(): a Keras-style table built from forward hooks, leaving the model as it was."""

import pytest

import glassnet as gn
import glassnet.nn as nn


def _mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def test_summary_of_an_mlp():
    text = nn.summary(_mlp(), (1, 28, 28))
    lines = text.splitlines()
    assert lines[0] == 'Model: "Sequential"'
    assert "Layer (type)" in lines[2] and "Output Shape" in lines[2] and "Param #" in lines[2]
    row = next(line for line in lines if "1 (Linear)" in line)
    assert "(None, 256)" in row and "200,960" in row and row.rstrip().endswith("yes")
    assert "(None, 784)" in next(line for line in lines if "0 (Flatten)" in line)
    assert "Total params: 203,530" in text
    assert "Trainable params: 203,530" in text and "Non-trainable params: 0" in text


def test_summary_reports_frozen_layers_and_nested_modules():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Sequential(nn.Flatten(), nn.Linear(4 * 6 * 6, 10)),
    )
    model[0].requires_grad_(False)
    text = nn.summary(model, (1, 8, 8), batch_size=2)
    conv = next(line for line in text.splitlines() if "0 (Conv2d)" in line)
    assert "(None, 4, 6, 6)" in conv and "40" in conv and "no (frozen)" in conv
    inner = next(line for line in text.splitlines() if "3.1 (Linear)" in line)
    assert inner.startswith("   3.1") and "1,450" in inner  # nested rows are indented
    container = next(line for line in text.splitlines() if "3 (Sequential)" in line)
    assert "--" in container
    assert "Total params: 1,498" in text and "Trainable params: 1,458" in text and "Non-trainable params: 40" in text
    assert "Buffers: 9 values" in text
    shallow = nn.summary(model, (1, 8, 8), depth=1)
    assert "3.1 (Linear)" not in shallow and "1,450" in next(r for r in shallow.splitlines() if "3 (Sequential)" in r)


def test_summary_leaves_the_model_untouched():
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.Dropout())
    model[2].eval()
    before = model[1].running_mean.numpy().copy()
    nn.summary(model, (3,), batch_size=4)
    assert model.training and model[1].training and not model[2].training
    assert (model[1].running_mean.numpy() == before).all() and model[1].num_batches_tracked.item() == 0
    assert not model[0]._forward_hooks
    assert all(p.grad is None for p in model.parameters())


def test_summary_with_several_inputs_and_tuple_outputs():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 3)
            self.b = nn.Linear(4, 3)

        def forward(self, x, y):
            return self.a(x), self.b(y)

    text = nn.summary(Pair(), [(2,), (4,)])
    assert "(None, 3)" in next(line for line in text.splitlines() if "a (Linear)" in line)
    assert "Total params: 24" in text
    with pytest.raises(TypeError, match="expected a Module"):
        nn.summary(lambda x: x, (1,))


def test_summary_uses_the_model_dtype():
    model = _mlp().double()
    assert "Total params" in nn.summary(model, (784,))
    assert model(gn.zeros(1, 784, dtype=gn.float64)).dtype == gn.float64
