"""PyTorch habits that ported code relies on: errors catchable as RuntimeError (and still ValueError), no NumPy
warnings from ops on inf/NaN, the inputs PyTorch refuses refused here too, and the small Tensor conveniences."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import errors  # noqa: F401 - gn.errors

SHAPE_ERRORS = {
    "matmul": lambda: gn.ones(2, 3) @ gn.ones(2, 3),
    "reshape": lambda: gn.ones(2, 3).reshape(4),
    "permute": lambda: gn.ones(2, 3).permute(0, 0),
    "gather": lambda: gn.ones(2, 3).gather(1, gn.tensor([0, 1])),
    "conv2d": lambda: F.conv2d(gn.ones(1, 1, 2, 2), gn.ones(1, 1, 3, 3)),
    "cross_entropy": lambda: F.cross_entropy(gn.ones(3, 4), gn.tensor([0, 1])),
    "einsum": lambda: gn.einsum("ij,jk->ik", gn.ones(2, 3), gn.ones(2, 3)),
    "cat": lambda: gn.cat([gn.ones(2, 3), gn.ones(2, 4)]),
    "add": lambda: gn.ones(2, 3) + gn.ones(4),
    "flatten": lambda: gn.ones(2, 3, 4).flatten(2, 1),
    "max_pool2d": lambda: F.max_pool2d(gn.ones(1, 1, 1, 1), 2),
}


@pytest.mark.parametrize("name", list(SHAPE_ERRORS))
def test_shape_errors_are_runtime_errors_and_value_errors_naming_the_op(name):
    with pytest.raises(RuntimeError, match=f"(?i){name}") as info:
        SHAPE_ERRORS[name]()
    assert isinstance(info.value, ValueError)


REFUSED = {
    "eye(-1)": (lambda: gn.eye(-1), "invalid shape"),
    "shape too large": (lambda: gn.zeros(10**10, 10**10), "more than memory can address"),
    "int ** -1": (lambda: gn.tensor([2]) ** -1, "pow: integers to negative integer powers"),
    "linspace(bool)": (lambda: gn.linspace(0, 1, 5, dtype=gn.bool), "linspace: dtype bool"),
    "randperm(-1)": (lambda: gn.randperm(-1), "randperm: n must be a non-negative integer"),
    "arange(0, 10, -1)": (lambda: gn.arange(0, 10, -1), "arange: the step -1 points away"),
    "sdpa mask and is_causal": (
        lambda: F.scaled_dot_product_attention(
            gn.ones(2, 3), gn.ones(2, 3), gn.ones(2, 3), attn_mask=gn.ones(2, 2), is_causal=True
        ),
        "attn_mask or is_causal",
    ),
    "bitwise on floats": (lambda: gn.tensor([1.0]) & gn.tensor([1.0]), "bitwise_and: .* integer or bool"),
    "einsum operands": (lambda: gn.einsum("ij,->", gn.ones(2, 3)), "names 2 operands but 1"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_inputs_pytorch_refuses_are_refused_with_a_clear_message(case):
    fn, pattern = REFUSED[case]
    with pytest.raises((RuntimeError, TypeError), match=pattern) as info:
        fn()
    assert "numpy" not in str(info.value).lower()


WARNING_CHECK = """
import warnings
import numpy as np
import glassnet as gn
import glassnet.nn.functional as F

warnings.simplefilter("always", append=True)  # every warning that glassnet's filter lets through is shown
x = gn.tensor([0.0, -1.0, np.inf, np.nan], requires_grad=True)
y = x.log() + x / 0 + x.sqrt() + x.exp() * 0 + (x - x) + x.sin() + gn.log2(x) + x.asin() + (x % 0) + x.atanh()
y.sum().backward()
F.softmax(gn.tensor([[-np.inf, -np.inf]]), -1)
print("ops done", flush=True)
np.log(np.zeros(1))  # the user's own NumPy code still warns
"""


def test_ops_on_inf_and_nan_warn_nothing_while_user_numpy_still_warns():
    # In a fresh interpreter: pytest restores the warning filters after collecting, which would undo glassnet's.
    done = subprocess.run([sys.executable, "-c", WARNING_CHECK], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ops done" in done.stdout
    warned = [line for line in done.stderr.splitlines() if "Warning" in line]
    assert len(warned) == 1 and "divide by zero encountered in log" in warned[0] and "<string>:13" in warned[0], (
        done.stderr
    )


def test_detect_anomaly_lets_intended_infinities_through_and_still_catches_nan():
    model = gn.models.GPT(vocab_size=11, block_size=8, n_layer=1, n_head=2, d_model=8)
    with gn.detect_anomaly():
        loss = model(gn.randint(0, 11, (2, 8)))[0].logsumexp(-1).mean()  # the causal mask adds −∞: intended
        loss.backward()
        x = gn.tensor([-1.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="Log produced NaN in its forward output"), np.errstate(invalid="ignore"):
            x.log()


def test_a_tuple_inside_an_index_selects_like_a_list():
    a = np.arange(60.0).reshape(3, 4, 5)
    assert gn.tensor(a)[1, (2, 1, 0), None].shape == torch.tensor(a)[1, (2, 1, 0), None].shape
    np.testing.assert_array_equal(gn.tensor(a)[1, (2, 1, 0), None].numpy(), torch.tensor(a)[1, (2, 1, 0), None])


def test_max_pool2d_takes_integers_as_pytorch_does():
    a = np.random.default_rng(0).integers(-9, 9, (1, 2, 5, 5))
    ours, idx = F.max_pool2d(gn.tensor(a), 2, padding=1, return_indices=True)
    theirs, tidx = torch.nn.functional.max_pool2d(torch.tensor(a), 2, padding=1, return_indices=True)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


def test_from_numpy_shares_memory_and_as_tensor_avoids_copies():
    a = np.zeros(3, dtype=np.float32)
    t = gn.from_numpy(a)
    a[0] = 5.0
    t.data[1] = 7.0
    assert t.tolist() == [5.0, 7.0, 0.0] and a[1] == 7.0
    assert gn.as_tensor(a).data is a and gn.as_tensor(t) is t
    assert gn.as_tensor([1, 2]).dtype == np.int64 and gn.as_tensor(a, dtype=gn.float64).dtype == np.float64
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray"):
        gn.from_numpy([1.0])


def test_new_tensors_type_as_clone_and_printoptions():
    x = gn.ones(2, dtype=gn.float64)
    assert x.new_zeros(2, 3).shape == (2, 3) and x.new_zeros((2, 3)).dtype == np.float64
    assert x.new_ones(3).tolist() == [1.0, 1.0, 1.0] and x.new_full((2,), 4.0).tolist() == [4.0, 4.0]
    assert x.new_tensor([1, 2]).dtype == np.float64 and x.new_empty(4).shape == (4,)
    assert x.new_zeros(2, requires_grad=True).requires_grad
    assert gn.tensor([1, 2]).type_as(x).dtype == np.float64
    assert x.clone(memory_format=None).tolist() == x.tolist()
    gn.set_printoptions(precision=2)
    try:
        assert "3.14" in repr(gn.tensor([3.14159])) and "3.142" not in repr(gn.tensor([3.14159]))
    finally:
        gn.set_printoptions(precision=4)
    with pytest.raises(ValueError, match="set_printoptions: precision"):
        gn.set_printoptions(precision=-1)


def test_add_sub_with_alpha_and_div_rounding_modes_match_torch():
    a, b = np.array([7.0, -7.0, 5.5]), np.array([2.0, 2.0, -2.0])
    for fn in (
        lambda L, x, y: x.add(y, alpha=2),
        lambda L, x, y: x.sub(y, alpha=0.5),
        lambda L, x, y: x.mul(y),
        lambda L, x, y: L.div(x, y, rounding_mode="trunc"),
        lambda L, x, y: x.div(y, rounding_mode="floor"),
        lambda L, x, y: x.div(y),
        lambda L, x, y: L.floor_divide(x, y),
        lambda L, x, y: L.remainder(x, y),
    ):
        np.testing.assert_array_equal(
            fn(gn, gn.tensor(a), gn.tensor(b)).numpy(), fn(torch, torch.tensor(a), torch.tensor(b)).numpy()
        )
    with pytest.raises(ValueError, match="rounding_mode must be"):
        gn.tensor(a).div(2, rounding_mode="round")
    with pytest.raises(ZeroDivisionError, match="floor_divide: integer division by zero"):
        gn.tensor([1, 2]) // 0


def test_comparison_methods_and_predicates_return_bools_like_torch():
    x, y = np.array([1.0, np.nan, np.inf, -2.0]), np.array([1.0, 0.0, np.inf, 2.0])
    for name in ("eq", "ne", "lt", "le", "gt", "ge", "greater", "less_equal", "not_equal"):
        np.testing.assert_array_equal(
            getattr(gn.tensor(x), name)(gn.tensor(y)).numpy(), getattr(torch.tensor(x), name)(torch.tensor(y)).numpy()
        )
    assert gn.equal(gn.tensor([1, 2]), gn.tensor([1, 2])) and not gn.equal(gn.tensor([1, 2]), gn.tensor([1, 2, 3]))
    assert gn.allclose(gn.tensor([1.0]), gn.tensor([1.0 + 1e-9])) and not gn.tensor([1.0]).allclose(gn.tensor([1.1]))
    np.testing.assert_array_equal(gn.isposinf(gn.tensor(x)).numpy(), [False, False, True, False])


def test_sdpa_grouped_query_attention_matches_torch():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 4, 3, 5)), rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((2, 2, 6, 5))
    ours = F.scaled_dot_product_attention(*[gn.tensor(x) for x in (q, k, v)], enable_gqa=True, is_causal=True)
    theirs = torch.nn.functional.scaled_dot_product_attention(*[torch.tensor(x) for x in (q, k, v)], enable_gqa=True,
                                                              is_causal=True)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="enable_gqa"):
        F.scaled_dot_product_attention(gn.ones(1, 3, 2, 4), gn.ones(1, 2, 2, 4), gn.ones(1, 2, 2, 4), enable_gqa=True)
