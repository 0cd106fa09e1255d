"""glassnet.distributed in a plain process (no mpiexec): light to import, clear errors, SyncBatchNorm as BatchNorm."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
import glassnet.distributed as dist
from glassnet import nn
from glassnet.nn.parallel import DistributedDataParallel


def test_importing_glassnet_does_not_start_mpi():
    code = "import glassnet, glassnet.distributed, glassnet.nn.parallel, sys; print('mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_without_a_process_group_the_calls_say_how_to_get_one(monkeypatch):
    for name in ("PMI_SIZE", "PMIX_SIZE", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert not dist.is_initialized() and not dist.in_parallel_job()
    with pytest.raises(RuntimeError, match="call init_process_group"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="mpiexec -n N"):
        DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="backend 'nccl' is not supported"):
        dist.init_process_group("nccl")
    monkeypatch.setenv("PMI_SIZE", "4")
    assert dist.launched_under_mpi()


def test_sync_batchnorm_is_batchnorm_in_one_process_and_conversion_keeps_everything():
    gn.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(12, 4),
        nn.BatchNorm1d(4, momentum=None),
    )
    model[1].running_mean.data[:] = [0.5, -0.5, 0.25]
    before = {k: v.data.copy() for k, v in model.state_dict().items()}
    reference = nn.Sequential(*[m for m in model])  # the same layers, unconverted, for the expected outputs
    x = gn.randn(5, 1, 4, 4)
    gn.manual_seed(1)
    expected = reference(x).data.copy()
    expected_state = {k: v.data.copy() for k, v in reference.state_dict().items()}
    for key, value in before.items():  # undo the reference's training step on the shared buffers
        model.state_dict()[key].data[...] = value
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(converted[1], nn.SyncBatchNorm) and isinstance(converted[5], nn.SyncBatchNorm)
    assert converted[5].momentum is None and converted[1].num_features == 3
    assert list(converted.state_dict()) == list(before)
    np.testing.assert_array_equal(converted(x).data, expected)
    for key, value in converted.state_dict().items():
        np.testing.assert_array_equal(value.data, expected_state[key])
    converted.eval()
    np.testing.assert_array_equal(converted(x).data, reference.eval()(x).data)


def test_collectives_refuse_what_is_not_a_tensor():
    with pytest.raises(TypeError, match="expected a Tensor"):
        dist.all_reduce(np.ones(3))
