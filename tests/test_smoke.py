"""A first end-to-end check: a tiny network trains with the engine alone."""

from glassnet.cli import demo


def test_demo_loss_falls():
    losses = demo(steps=120)
    assert losses[-1] < 0.2 * losses[0]
