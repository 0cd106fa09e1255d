"""The whole engine on a device that is not the host, proven on a machine without a GPU.

`tests/device_double.py` registers "double": NumPy underneath, but its arrays refuse to mix with host arrays (as
CuPy's do) and count every transfer to the host. Each check runs the same computation on "cpu" and on "double" and
asserts the same numbers, that results stay on the device, and (for a training step) that no value was read back.
"""

from __future__ import annotations

import numpy as np
import pytest
from device_double import HostArrayError, counting_transfers, install
from opinfo import ALL_OPS, as_list, floating, make_arrays

import glassnet as gn

install()
DEV = "double"


def _host(t):
    return None if t is None else t.detach().cpu().numpy()


def _run(op, sample, arrays, device):
    """Outputs, first gradients and second gradients (with respect to inputs and upstream) of one op sample."""
    xs = [gn.tensor(a, requires_grad=op.grad, device=device) for a in arrays]
    outs = as_list(op.call(gn, *xs, **sample.kwargs))
    for o in outs:
        assert o.device == device, f"{op.name}: an output is on {o.device}, not {device}"
    result = {"out": [_host(o) for o in outs]}
    fouts = [o for o in floating(outs) if o.requires_grad]
    if not op.grad or not fouts:
        return result
    rng = np.random.default_rng(1)
    vs = [gn.tensor(rng.standard_normal(o.shape), dtype=o.dtype, requires_grad=True, device=device) for o in fouts]
    gs = gn.grad(fouts, xs, vs, create_graph=op.gradgrad, allow_unused=True)
    result["grad"] = [_host(g) for g in gs]
    for g in gs:
        assert g is None or g.device == device, f"{op.name}: a gradient is on {g.device}"
    if op.gradgrad:
        ws = [gn.tensor(rng.standard_normal(a.shape), device=device) for a in arrays]
        terms = [(g * w).sum() for g, w in zip(gs, ws) if g is not None and g.requires_grad]
        if terms:
            total = terms[0]
            for t in terms[1:]:
                total = total + t
            second = gn.grad(total, xs + vs, allow_unused=True)
            result["second"] = [_host(g) for g in second]
    return result


def _assert_same(cpu, dev, what):
    assert cpu.keys() == dev.keys(), what
    for key in cpu:
        for k, (a, b) in enumerate(zip(cpu[key], dev[key])):
            assert (a is None) == (b is None), f"{what} {key}[{k}]: None on one device only"
            if a is not None:
                assert a.dtype == b.dtype and a.shape == b.shape, f"{what} {key}[{k}]"
                np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14, err_msg=f"{what} {key}[{k}]")


@pytest.mark.parametrize("op", ALL_OPS, ids=[op.name for op in ALL_OPS])
def test_op_registry_gives_the_same_numbers_on_the_device(op):
    # Forward, gradient and second gradient of every sample of every op in the registry, float64.
    for sample in op.samples:
        arrays = make_arrays(op, sample, np.float64)
        _assert_same(_run(op, sample, arrays, "cpu"), _run(op, sample, arrays, DEV), f"{op.name}[{sample}]")


# ----- the device API ------------------------------------------------------------------------------------------
def test_the_device_object_compares_equal_to_its_string():
    t = gn.ones(2, device=DEV)
    assert t.device == DEV and str(t.device) == DEV and t.device == gn.device(DEV)
    assert gn.ones(2).device == "cpu" and gn.ones(2).device != DEV
    assert gn.device("cuda:1") == "cuda:1" and gn.device("cuda:1") != "cuda:0" and gn.device("cuda:1") == "cuda"
    assert repr(gn.device("cuda:1")) == "device(type='cuda', index=1)"
    with pytest.raises(ValueError, match="unknown device type 'tpu'"):
        gn.device("tpu")


def test_creation_functions_take_device():
    makers = [
        lambda d: gn.tensor([1.0, 2.0], device=d),
        lambda d: gn.zeros(2, 3, device=d),
        lambda d: gn.ones(2, device=d),
        lambda d: gn.full((2,), 3.0, device=d),
        lambda d: gn.arange(4, device=d),
        lambda d: gn.linspace(0, 1, 5, device=d),
        lambda d: gn.eye(3, device=d),
        lambda d: gn.empty(2, device=d),
        lambda d: (gn.manual_seed(0), gn.rand(2, 2, device=d))[1],
        lambda d: (gn.manual_seed(0), gn.randn(3, device=d))[1],
        lambda d: (gn.manual_seed(0), gn.randint(0, 5, (4,), device=d))[1],
        lambda d: gn.zeros_like(gn.ones(2, device=d)),
        lambda d: gn.ones_like(gn.ones(2), device=d),
    ]
    for make in makers:
        on_dev, on_cpu = make(DEV), make("cpu")
        assert on_dev.device == DEV and on_cpu.device == "cpu"
        if "empty" not in repr(make):
            assert on_dev.dtype == on_cpu.dtype and on_dev.shape == on_cpu.shape
    assert gn.zeros_like(gn.ones(2, device=DEV)).device == DEV
    np.testing.assert_array_equal(gn.rand(2, 2, device=DEV, generator=gn.Generator(3)).cpu().numpy(),
                                  gn.rand(2, 2, generator=gn.Generator(3)).numpy())


def test_to_moves_devices_and_dtypes_and_gradients_flow_back():
    x = gn.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x.to(DEV, gn.float64)
    assert y.device == DEV and y.dtype == gn.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.device == "cpu" and x.grad.tolist() == [2.0, -4.0, 6.0]
    assert x.to("cpu") is x and y.to(DEV) is y
    assert x.to(y).device == DEV  # to(other_tensor): its device and dtype
    assert x.detach().to(device=DEV, dtype=gn.float64).dtype == gn.float64


def test_numpy_is_refused_on_a_device_and_cpu_copies_back():
    t = gn.tensor([1.0, 2.0], device=DEV)
    with pytest.raises(TypeError, match=r"numpy\(\): the tensor is on double; call .cpu\(\) first"):
        t.numpy()
    with pytest.raises(TypeError, match="call .cpu"):
        np.asarray(t)
    assert t.cpu().numpy().tolist() == [1.0, 2.0] and "device='double'" in repr(t)


def test_an_op_on_two_devices_names_the_op_and_the_devices():
    with pytest.raises(RuntimeError, match="Add: expected all tensors on the same device, got double and cpu"):
        gn.ones(2, device=DEV) + gn.ones(2)
    with pytest.raises(RuntimeError, match="MatMul: expected all tensors on the same device, got cpu and double"):
        gn.ones(2, 2) @ gn.ones(2, 2, device=DEV)


def test_the_double_refuses_host_arrays_like_cupy():
    a = gn.ones(2, device=DEV).data
    with pytest.raises(HostArrayError):
        a + np.ones(2)
    with pytest.raises(TypeError, match="implicit conversion"):
        np.asarray(a)


def test_cuda_without_cupy_says_what_is_missing_and_names_the_gpu_extra():
    try:
        import cupy  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("CuPy is installed here")
    for attempt in (lambda: gn.ones(2).cuda(), lambda: gn.ones(2, device="cuda"), lambda: gn.nn.Linear(2, 2).cuda()):
        with pytest.raises(RuntimeError, match=r"CUDA needs CuPy, which is not installed: pip install 'glassnet\[gpu\]'"):
            attempt()
    assert gn.cuda.is_available() is False and gn.cuda.device_count() == 0
    gn.cuda.synchronize()  # nothing to wait for
