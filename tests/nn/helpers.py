"""Shared checks for the layer tests: load a PyTorch module's weights into the glassnet twin and compare."""

from __future__ import annotations

import numpy as np
import torch

import glassnet as gn

TOL = {np.float32: 1e-5, np.float64: 1e-10}


def load_from_torch(module, torch_module) -> None:
    """Copy a torch module's state_dict, converted to NumPy arrays, into the glassnet module."""
    module.load_state_dict({k: v.detach().cpu().numpy() for k, v in torch_module.state_dict().items()})


def compare(
    module, torch_module, inputs, dtype=np.float32, seed: int = 0, grad_inputs=True, load: bool = True,
    tol: float | None = None,
):
    """Forward and backward both modules on the same inputs; assert outputs, input and parameter gradients agree.

    `inputs` are NumPy arrays (integer arrays are passed as ids and get no gradient); `grad_inputs` says which
    floating inputs require grad (one bool for all, or one per input). Returns the glassnet output.
    """
    tol = tol if tol is not None else TOL[dtype]
    module.zero_grad()
    torch_module.zero_grad()
    if dtype == np.float64:
        torch_module.double()
    if load:
        load_from_torch(module, torch_module)
    if dtype == np.float64:
        module.double()
    gx, tx = [], []
    wants = [grad_inputs] * len(inputs) if isinstance(grad_inputs, bool) else list(grad_inputs)
    for a, want in zip(inputs, wants):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
            gx.append(gn.tensor(a, requires_grad=want))
            tx.append(torch.tensor(a, requires_grad=want))
        else:
            gx.append(gn.tensor(a))
            tx.append(torch.tensor(a))
    y = module(*gx)
    ty = torch_module(*tx)
    ys, tys = (y, ty) if isinstance(y, tuple) else ((y,), (ty,))
    for a, b in zip(ys, tys):
        assert a.shape == tuple(b.shape), (a.shape, b.shape)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)
    rng = np.random.default_rng(seed)
    total, ttotal = 0, 0
    for a, b in zip(ys, tys):
        if not b.requires_grad:
            continue
        g = rng.standard_normal(b.shape).astype(dtype)
        total = total + (a * gn.tensor(g)).sum()
        ttotal = ttotal + (b * torch.tensor(g)).sum()
    if isinstance(ttotal, int):
        return y
    total.backward()
    ttotal.backward()
    for a, b in zip(gx, tx):
        if b.requires_grad:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)
    torch_params = dict(torch_module.named_parameters())
    for name, p in module.named_parameters():
        tp = torch_params[name]
        if tp.grad is None:
            assert p.grad is None or not np.any(p.grad.numpy()), name
            continue
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=tol, atol=tol, err_msg=name)
    torch_buffers = dict(torch_module.named_buffers())
    for name, b in module.named_buffers():
        np.testing.assert_allclose(b.numpy(), torch_buffers[name].numpy(), rtol=tol, atol=tol, err_msg=name)
    return y


def same_names_and_shapes(module, torch_module) -> None:
    """The state_dict keys, order and shapes agree with PyTorch's."""
    ours = [(k, tuple(v.shape)) for k, v in module.state_dict().items()]
    theirs = [(k, tuple(v.shape)) for k, v in torch_module.state_dict().items()]
    assert ours == theirs
