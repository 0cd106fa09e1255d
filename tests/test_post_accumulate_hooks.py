"""Tensor.register_post_accumulate_grad_hook: a leaf announced as soon as its gradient is complete, during the walk."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import glassnet as gn
from glassnet import autograd


def leaf(*shape, seed=0):
    return gn.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_each_leaf_is_announced_once_with_its_complete_gradient_while_the_walk_goes_on():
    w1, w2, b = leaf(3, 4), leaf(4, 2, seed=1), leaf(2, seed=2)
    x = gn.tensor(np.random.default_rng(3).standard_normal((5, 3)))
    events = []

    def hook(name):
        def announce(t):
            events.append((name, t.grad.data.copy(), w1.grad))  # w1.grad: still None while b and w2 are announced

        return announce

    for name, t in (("w1", w1), ("w2", w2), ("b", b)):
        t.register_post_accumulate_grad_hook(hook(name))
    ((x @ w1).tanh() @ w2 + b + b).sum().backward()  # b is used twice: announced after both shares
    assert [e[0] for e in events] == ["b", "w2", "w1"]  # backward order: nearest the loss first
    assert events[0][2] is None and events[1][2] is None  # announced before the walk reached w1
    reference = [leaf(3, 4), leaf(4, 2, seed=1), leaf(2, seed=2)]
    ((x @ reference[0]).tanh() @ reference[1] + reference[2] + reference[2]).sum().backward()
    got = {name: g for name, g, _ in events}
    np.testing.assert_array_equal(got["w1"], reference[0].grad.data)
    np.testing.assert_array_equal(got["w2"], reference[1].grad.data)
    np.testing.assert_array_equal(got["b"], reference[2].grad.data)
    np.testing.assert_array_equal(b.grad.data, np.full(2, 10.0))


def test_gradients_accumulate_across_backwards_and_removed_hooks_stay_silent():
    w = leaf(3)
    calls = []
    handle = w.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.data.copy()))
    (w * 2).sum().backward()
    (w * 3).sum().backward()
    np.testing.assert_array_equal(calls[0], np.full(3, 2.0))
    np.testing.assert_array_equal(calls[1], np.full(3, 5.0))  # after accumulation
    handle.remove()
    assert id(w) not in autograd._post_accumulate_hooks  # no hook left: backward no longer looks for any
    (w * 1).sum().backward()
    assert len(calls) == 2
    handle.remove()  # a second removal is a no-op
    w.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.data.copy()))
    (w * 1).sum().backward()
    assert len(calls) == 3


def test_a_shared_gradient_array_does_not_leak_between_leaves():
    a, b = leaf(3), leaf(3, seed=1)
    a.register_post_accumulate_grad_hook(lambda t: None)
    (a + b).sum().backward()  # Add hands one array to both inputs
    a.grad.data += 100  # in-place change of one leaf's .grad ...
    np.testing.assert_array_equal(b.grad.data, np.ones(3))  # ... leaves the other's alone


def test_a_leaf_whose_share_never_comes_is_announced_after_the_walk():
    w = leaf(3)
    calls = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.data.copy()))
    (w.sum() * 2).backward()
    assert len(calls) == 1
    np.testing.assert_array_equal(calls[0], np.full(3, 2.0))


def test_autograd_grad_does_not_announce_and_only_leaves_accept_the_hook():
    w = leaf(3)
    calls = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append(1))
    (g,) = gn.autograd.grad((w * w).sum(), [w])
    np.testing.assert_allclose(g.data, 2 * w.data)
    assert calls == [] and w.grad is None
    with pytest.raises(RuntimeError, match="only a leaf tensor"):
        (w * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="only a leaf tensor"):
        gn.ones(2).register_post_accumulate_grad_hook(lambda t: None)


def test_the_registry_forgets_dead_leaves():
    w = leaf(2)
    w.register_post_accumulate_grad_hook(lambda t: None)
    key = id(w)
    assert key in autograd._post_accumulate_hooks
    del w
    gc.collect()
    assert key not in autograd._post_accumulate_hooks
