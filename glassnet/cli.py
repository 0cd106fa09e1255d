"""The `glassnet` command: `glassnet demo` trains a small network and prints its loss falling."""

from __future__ import annotations

import argparse
import sys


def demo(steps: int = 300, seed: int = 0) -> list[float]:
    """Train a 2-16-16-1 tanh MLP on a noisy sine with plain gradient descent; return the losses."""
    import glassnet as gn

    gn.manual_seed(seed)
    x = gn.linspace(-3, 3, 200).reshape(-1, 1)
    target = x.sin() + 0.05 * gn.randn(200, 1)
    w1 = (gn.randn(1, 16) * 0.8).requires_grad_()
    b1 = gn.zeros(16, requires_grad=True)
    w2 = (gn.randn(16, 16) * 0.25).requires_grad_()
    b2 = gn.zeros(16, requires_grad=True)
    w3 = (gn.randn(16, 1) * 0.25).requires_grad_()
    b3 = gn.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2, w3, b3]
    losses = []
    for step in range(steps):
        h = (x @ w1 + b1).tanh()
        h = (h @ w2 + b2).tanh()
        loss = ((h @ w3 + b3 - target) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with gn.no_grad():
            for p in params:
                p.data -= 0.1 * p.grad.data
        losses.append(loss.item())
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step:4d}   loss {loss.item():.5f}")
    return losses


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `glassnet` command."""
    parser = argparse.ArgumentParser(
        prog="glassnet", description="glassnet: a deep-learning library you can see through"
    )
    sub = parser.add_subparsers(dest="command")
    d = sub.add_parser("demo", help="train a tiny network and watch its loss fall")
    d.add_argument("--steps", type=int, default=300)
    d.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command in (None, "demo"):
        losses = demo(getattr(args, "steps", 300), getattr(args, "seed", 0))
        print(f"loss fell from {losses[0]:.4f} to {losses[-1]:.4f}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
