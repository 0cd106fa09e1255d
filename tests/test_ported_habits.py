"""Habits of ported PyTorch code (the official MNIST example and common snippets) that glassnet accepts as PyTorch
does: each test is one habit that once broke."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn


def test_a_0d_tensor_takes_a_format_spec():
    loss = gn.tensor(0.123456789)
    assert f"{loss:.4f}" == f"{torch.tensor(0.123456789):.4f}" == "0.1235"
    assert "Loss: {:.6f}".format(loss) == "Loss: 0.123457"  # noqa: UP032 - the example's spelling
    assert f"{gn.tensor(3)}" == f"{torch.tensor(3)}" == "3"
    with pytest.raises(TypeError):
        f"{gn.ones(2):.3f}"  # noqa: B018 - as torch: only 0-d tensors take a spec


def test_contiguous_returns_the_same_values_and_view_works_after_it():
    x = gn.arange(24.0).reshape(2, 3, 4)
    y = x.transpose(1, 2).contiguous().view(2, -1)
    t = torch.arange(24.0).reshape(2, 3, 4).transpose(1, 2).contiguous().view(2, -1)
    np.testing.assert_array_equal(y.numpy(), t.numpy())
    assert x.is_contiguous()


@pytest.mark.parametrize("values", [[[0, 1, 0], [2, 0, 3]], [0, 0], [1.5], 0.0])
def test_nonzero_and_one_argument_where_as_torch(values):
    a = np.array(values)
    ours, theirs = gn.tensor(a), torch.tensor(a)
    assert ours.nonzero().dtype == np.int64
    np.testing.assert_array_equal(ours.nonzero().numpy(), theirs.nonzero().numpy())
    np.testing.assert_array_equal(gn.nonzero(ours).numpy(), torch.nonzero(theirs).numpy())
    if a.ndim:
        for o, t in zip(gn.where(ours > 0), torch.where(theirs > 0)):
            np.testing.assert_array_equal(o.numpy(), t.numpy())
        for o, t in zip(ours.nonzero(as_tuple=True), theirs.nonzero(as_tuple=True)):
            np.testing.assert_array_equal(o.numpy(), t.numpy())


def test_numel_and_is_tensor_as_torch():
    assert gn.numel(gn.zeros(2, 3)) == 6 and gn.is_tensor(gn.zeros(1)) and not gn.is_tensor(np.zeros(1))


def test_device_choice_of_the_mnist_example():
    use_accel = gn.accelerator.is_available()
    device = gn.accelerator.current_accelerator() if use_accel else gn.device("cpu")
    assert device == ("cuda" if gn.cuda.is_available() else "cpu")
    assert gn.accelerator.current_accelerator(check_available=True) == (device if use_accel else None)
    assert gn.backends.mps.is_available() is False  # the example's older spelling
    gn.backends.cudnn.deterministic = True  # a reproducibility habit: accepted, changes nothing
    assert gn.utils.data.DataLoader is gn.data.DataLoader


class _Net(nn.Module):
    """The official example's network, smaller (8×8 images)."""

    def __init__(self):
        super(_Net, self).__init__()  # noqa: UP008 - the example's spelling
        self.conv1 = nn.Conv2d(1, 4, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.fc1 = nn.Linear(36, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = gn.flatten(x, 1)
        return F.log_softmax(self.fc1(x), dim=1)


def test_the_mnist_example_loop_runs_as_written():
    gn.manual_seed(1)
    data = gn.utils.data.TensorDataset(gn.randn(12, 1, 8, 8), gn.randint(0, 10, (12,)))
    train_loader = gn.utils.data.DataLoader(data, batch_size=4, shuffle=True)
    model = _Net().to(gn.device("cpu"))
    optimizer = gn.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = gn.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    lines = []
    for epoch in (1, 2):
        model.train()
        for batch_idx, (x, target) in enumerate(train_loader):
            optimizer.zero_grad()
            loss = F.nll_loss(model(x), target)
            loss.backward()
            optimizer.step()
            lines.append("Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(  # noqa: UP032
                epoch, batch_idx * len(x), len(train_loader.dataset), 100.0 * batch_idx / len(train_loader),
                loss.item()))
        scheduler.step()
    model.eval()
    correct, test_loss = 0, 0
    with gn.no_grad():
        for x, target in train_loader:
            output = model(x)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    assert isinstance(correct, int) and 0 <= correct <= 12 and np.isfinite(test_loss)
    assert lines[0].startswith("Train Epoch: 1 [0/12 (0%)]\tLoss: ")
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.49)


@pytest.mark.parametrize("call", [
    lambda L, x: x.add_(1.5), lambda L, x: x.mul_(2), lambda L, x: x.sub_(x), lambda L, x: x.div_(4),
    lambda L, x: x.clamp_(min=0), lambda L, x: x.clamp_(-0.5, 0.5), lambda L, x: x.masked_fill_(x > 0, -1.0),
    lambda L, x: x.abs_().sqrt_(), lambda L, x: x.tanh_(), lambda L, x: x.pow_(2),
    lambda L, x: x.scatter_(1, L.tensor(np.array([[2], [0]])), 9.0),
    lambda L, x: x.index_fill_(1, L.tensor(np.array([0, 2])), 5.0), lambda L, x: x.tril_(),
])
def test_in_place_methods_change_the_tensor_itself_as_torch(call):
    a = np.random.default_rng(0).standard_normal((2, 3))
    ours, theirs = gn.tensor(a), torch.tensor(a)
    out = call(gn, ours)
    call(torch, theirs)
    assert out is ours
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_in_place_methods_refuse_what_torch_refuses():
    with pytest.raises(RuntimeError, match="add_: result type float32 can't be cast"):
        gn.tensor([1, 2]).add_(0.5)
    w = gn.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="mul_: in-place change of a tensor that requires grad"):
        w.mul_(2)
    with gn.no_grad():  # an update step: allowed, as in PyTorch
        w.mul_(2).clamp_(max=1.5)
    np.testing.assert_array_equal(w.detach().numpy(), [1.5, 1.5, 1.5])


def test_random_fills_in_place():
    gn.manual_seed(0)
    w = gn.empty(200, 3)
    assert w.uniform_(-0.1, 0.1) is w and float(w.abs().max()) <= 0.1
    assert abs(float(w.normal_(2.0, 0.5).mean()) - 2.0) < 0.1
    assert set(np.unique(w.bernoulli_(0.3).numpy())) <= {0.0, 1.0}


def test_memory_formats_are_accepted_and_ignored_as_arrays_are_dense():
    x = gn.ones(1, 2, 3, 3, requires_grad=True)
    for fmt in (gn.preserve_format, gn.contiguous_format, gn.channels_last):
        assert x.clone(memory_format=fmt).shape == x.shape
        assert x.to(memory_format=fmt) is x
    assert x.contiguous(memory_format=gn.channels_last) is x
    model = nn.Conv2d(2, 2, 1).to(memory_format=gn.channels_last)
    assert model(x).shape == (1, 2, 3, 3)


def test_to_copy_always_gives_a_new_tensor_on_the_graph():
    x = gn.ones(2, requires_grad=True)
    y = x.to(copy=True)
    assert y is not x and y.requires_grad
    (y * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    assert x.to(gn.float64, copy=True).dtype == gn.float64


def test_set_printoptions_profiles_as_torch():
    try:
        gn.set_printoptions(profile="short")
        assert repr(gn.tensor([1.23456])) == "tensor([1.23])"
        gn.set_printoptions(profile="full")
        assert "..." not in repr(gn.arange(2000))
        with pytest.raises(ValueError, match="profile"):
            gn.set_printoptions(profile="long")
    finally:
        gn.set_printoptions(profile="default")
    assert repr(gn.tensor([1.23456])) == repr(torch.tensor([1.23456])) == "tensor([1.2346])"
    assert "..." in repr(gn.arange(2000))


def test_get_buffer_as_torch():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    assert model.get_buffer("1.running_mean") is model[1].running_mean
    with pytest.raises(AttributeError, match="no buffer 'nothing'"):
        model.get_buffer("1.nothing")


def test_seeding_boilerplate_and_half_as_torch():
    """`torch.manual_seed(s); torch.cuda.manual_seed_all(s)` and `.half()`, as ported scripts write them."""
    gn.manual_seed(3)
    first = gn.randn(4).tolist()
    gn.manual_seed(3)
    gn.cuda.manual_seed_all(3)  # one random stream for every device: seeding "the GPUs" changes nothing here
    gn.cuda.manual_seed(3)
    assert gn.randn(4).tolist() == first
    with pytest.raises(TypeError, match="cuda.manual_seed: expected an int seed, got float"):
        gn.cuda.manual_seed_all(1.5)
    x = [0.1, 1 / 3, 65504.0, 1e5]
    np.testing.assert_array_equal(gn.tensor(x).half().numpy(), torch.tensor(x).half().numpy())
    assert gn.tensor(x).half().dtype == np.float16
