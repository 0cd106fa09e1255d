"""Chapter 4 of the tour: backpropagation — the chain rule by hand on a 2-2-1 net, checked against autograd."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import glassnet as gn
from glassnet.tour import figure, print_table

TITLE = "Backpropagation: the chain rule with real numbers"
TEXT = """
Training needs, for every weight, how much the loss changes when that weight is nudged: dL/dw.
Backpropagation gets it with the chain rule. The weight's effect travels forward through a chain of
simple steps; each step has a local derivative that is easy to write down, and dL/dw is their product.
Below, a tiny network (2 inputs, 2 tanh hidden units, 1 sigmoid output, squared-error loss) with fixed
numbers: we follow the first weight W1[0,0] forward, write each local derivative with its value,
multiply them, and check the product against the gradient glassnet's autograd puts in `.grad`.
Then one gradient-descent step with these gradients, and the same tiny net trained on XOR.
"""


def chain_rule_example() -> dict[str, Any]:
    """The 2-2-1 net's forward values, the local derivatives along W1[0,0]'s path, their product and autograd's."""
    x = gn.tensor([[1.0, 0.5]], dtype=gn.float64)
    t = 1.0
    w1 = gn.tensor([[0.5, -0.3], [0.8, 0.2]], dtype=gn.float64, requires_grad=True)
    b1 = gn.tensor([0.1, -0.1], dtype=gn.float64, requires_grad=True)
    w2 = gn.tensor([[0.7], [-0.4]], dtype=gn.float64, requires_grad=True)
    b2 = gn.tensor([0.05], dtype=gn.float64, requires_grad=True)

    z1 = x @ w1 + b1
    h = z1.tanh()
    z2 = h @ w2 + b2
    y = z2.sigmoid()
    loss = ((y - t) ** 2).sum()
    loss.backward()

    xv, z1v, hv, z2v, yv = (v.detach().cpu().numpy() for v in (x, z1, h, z2, y))
    local = [
        ("dL/dy", "2 (y - t)", float(2 * (yv[0, 0] - t))),
        ("dy/dz2", "y (1 - y)", float(yv[0, 0] * (1 - yv[0, 0]))),
        ("dz2/dh0", "W2[0,0]", float(w2.detach().cpu().numpy()[0, 0])),
        ("dh0/dz1_0", "1 - h0^2", float(1 - hv[0, 0] ** 2)),
        ("dz1_0/dW1[0,0]", "x0", float(xv[0, 0])),
    ]
    product = 1.0
    for _, _, value in local:
        product *= value
    return {
        "forward": {"z1": z1v[0].tolist(), "h": hv[0].tolist(), "z2": float(z2v[0, 0]), "y": float(yv[0, 0]),
                    "loss": loss.item()},
        "local": local,
        "product": product,
        "autograd": float(w1.grad.cpu().numpy()[0, 0]),
        "params": (w1, b1, w2, b2),
        "x": x,
        "t": t,
    }


def run(quick: bool = False, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Show the chain rule's numbers for W1[0,0], assert they equal autograd's, take a step, train on XOR."""
    ex = chain_rule_example()
    f = ex["forward"]
    say("forward, with x = [1.0, 0.5], target t = 1:")
    say(f"  z1 = x @ W1 + b1 = [{f['z1'][0]:.4f}, {f['z1'][1]:.4f}]    h = tanh(z1) = [{f['h'][0]:.4f}, "
        f"{f['h'][1]:.4f}]")
    say(f"  z2 = h @ W2 + b2 = {f['z2']:.4f}    y = sigmoid(z2) = {f['y']:.4f}    L = (y - t)^2 = {f['loss']:.6f}")
    say("\nbackward along the path W1[0,0] -> z1_0 -> h0 -> z2 -> y -> L:")
    rows = [[name, formula, value] for name, formula, value in ex["local"]]
    columns = ["local derivative", "formula", "value"]
    print_table(say, columns, rows)
    product, autograd = ex["product"], ex["autograd"]
    say(f"  product dL/dW1[0,0] = {' x '.join(f'{v:.4f}' for *_, v in ex['local'])} = {product:.8f}")
    say(f"  autograd's W1.grad[0,0]                                             = {autograd:.8f}")
    assert abs(product - autograd) <= 1e-12 * max(1.0, abs(autograd)), (product, autograd)
    say("  equal: autograd does exactly this product, for every weight at once.")

    w1, b1, w2, b2 = ex["params"]
    lr = 0.5
    with gn.no_grad():
        for p in (w1, b1, w2, b2):
            p.data -= lr * p.grad.data
        y_after = ((ex["x"] @ w1 + b1).tanh() @ w2 + b2).sigmoid()
        loss_after = ((y_after - ex["t"]) ** 2).sum().item()
    say(f"\none gradient step (lr {lr}) on all weights: loss {f['loss']:.6f} -> {loss_after:.6f}")

    x = gn.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    t = gn.tensor([[0.0], [1.0], [1.0], [0.0]])
    gen = gn.Generator(4)
    w1 = gn.randn(2, 2, generator=gen).requires_grad_()
    b1 = gn.zeros(2, requires_grad=True)
    w2 = gn.randn(2, 1, generator=gen).requires_grad_()
    b2 = gn.zeros(1, requires_grad=True)
    params = (w1, b1, w2, b2)
    steps = 1500 if quick else 3000
    for _ in range(steps):
        y = ((x @ w1 + b1).tanh() @ w2 + b2).sigmoid()
        loss = ((y - t) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with gn.no_grad():
            for p in params:
                p.data -= 2.0 * p.grad.data
    outputs = [round(v, 3) for v in y.detach().cpu().numpy().ravel().tolist()]
    xor_acc = float(((y.detach().cpu().numpy() > 0.5) == (t.cpu().numpy() > 0.5)).mean())
    say(f"the same 2-2-1 net trained on XOR for {steps} steps: loss {loss.item():.4f}, outputs {outputs} "
        f"for inputs 00 01 10 11, accuracy {xor_acc:.0%}")
    def net(points: gn.Tensor) -> gn.Tensor:
        return ((points @ w1 + b1).tanh() @ w2 + b2).sigmoid()

    def draw():
        from glassnet.lens.plots import plot_decision_boundary

        return plot_decision_boundary(net, x, t, resolution=100)

    return {
        "results": {"chain_rule_product": product, "autograd_grad": autograd, "abs_difference": abs(product - autograd),
                    "loss_before_step": f["loss"], "loss_after_step": loss_after, "xor_loss": loss.item(),
                    "xor_accuracy": xor_acc},
        "headlines": [("chain_rule_product", "dL/dW1[0,0] by the chain rule", None),
                      ("autograd_grad", "dL/dW1[0,0] from autograd", None),
                      ("loss_before_step", "loss before one step", None),
                      ("loss_after_step", "loss after one step", None),
                      ("xor_accuracy", f"XOR solved after {steps} steps", "percent")],
        "tables": [{"title": "Local derivatives along W1[0,0]'s path", "columns": columns, "rows": rows}],
        "figures": [figure("XOR, learnt by the 2-2-1 network", draw,
                           "no single line separates XOR; two tanh units bend the boundary into a band")],
    }
