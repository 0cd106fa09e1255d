"""Check analytic gradients against finite differences in float64 (gradcheck) and second derivatives (gradgradcheck)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy

from glassnet.autograd import grad as autograd_grad
from glassnet.tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with the numeric one."""


def _outputs(fn, inputs) -> list[Tensor]:
    out = fn(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _numeric_jacobian_vjp(fn, inputs, k: int, grad_outs, eps: float) -> numpy.ndarray:
    """d(Σ outputs·grad_outs)/d(input k) by central differences."""
    x = inputs[k].data
    result = numpy.zeros_like(x)
    flat, res_flat = x.reshape(-1), result.reshape(-1)
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + eps
        plus = sum(float((o.data * g).sum()) for o, g in zip(_outputs(fn, inputs), grad_outs))
        flat[i] = orig - eps
        minus = sum(float((o.data * g).sum()) for o, g in zip(_outputs(fn, inputs), grad_outs))
        flat[i] = orig
        res_flat[i] = (plus - minus) / (2 * eps)
    return result


def gradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              seed: int = 0) -> bool:
    """Compare backprop's gradients of `fn(*inputs)` with central finite differences (inputs must be float64).

    Checks a random vector-Jacobian product for each output. Raises GradcheckError naming the input,
    the element index, the analytic and the numeric value; returns True when everything agrees.
    """
    inputs = list(inputs)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    for i in diff:
        if inputs[i].dtype != numpy.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64")
    rng = numpy.random.default_rng(seed)
    outs = _outputs(fn, inputs)
    grad_outs = [rng.standard_normal(o.shape) for o in outs]
    analytic = autograd_grad(outs, [inputs[i] for i in diff], grad_outputs=[Tensor(g) for g in grad_outs],
                             allow_unused=True)
    for k, a in zip(diff, analytic):
        a = numpy.zeros_like(inputs[k].data) if a is None else a.data
        n = _numeric_jacobian_vjp(fn, inputs, k, grad_outs, eps)
        bad = numpy.abs(a - n) > atol + rtol * numpy.abs(n)
        if bad.any():
            idx = tuple(int(j) for j in numpy.argwhere(bad)[0])
            raise GradcheckError(
                f"gradcheck: input {k}, element {idx}: analytic {float(a[idx])!r} vs numeric {float(n[idx])!r} "
                f"(atol={atol}, rtol={rtol})"
            )
    return True


def gradgradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  seed: int = 0) -> bool:
    """Check second derivatives: gradcheck applied to the (create_graph) gradient of `fn`."""
    inputs = list(inputs)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    rng = numpy.random.default_rng(seed + 1)
    outs = _outputs(fn, inputs)
    grad_outs = [Tensor(rng.standard_normal(o.shape)) for o in outs]

    def first_grads(*xs):
        out = _outputs(fn, xs)
        gs = autograd_grad(out, [xs[i] for i in diff], grad_outputs=grad_outs, create_graph=True, allow_unused=True)
        return [g if g is not None else xs[i] * 0 for g, i in zip(gs, diff)]

    return gradcheck(first_grads, inputs, eps=eps, atol=atol, rtol=rtol, seed=seed + 2)
