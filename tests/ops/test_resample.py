"""Generated OpInfo checks for interpolate, the pad modes and one_hot (glassnet/nn/_functional_resample.py)."""

import numpy as np
import pytest
import torch
from opinfo import RESAMPLE, generated_tests

import glassnet as gn

(
    test_forward_matches_torch,
    test_grad_matches_torch,
    test_gradcheck,
    test_gradgradcheck,
    test_gradgrad_matches_torch,
) = generated_tests(RESAMPLE)


def test_upsample_modules_match_torch():
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 4))
    for ours, theirs in [
        (gn.nn.Upsample(scale_factor=2, mode="bilinear"), torch.nn.Upsample(scale_factor=2, mode="bilinear")),
        (gn.nn.UpsamplingBilinear2d((5, 7)), torch.nn.UpsamplingBilinear2d((5, 7))),
        (gn.nn.UpsamplingNearest2d(scale_factor=3), torch.nn.UpsamplingNearest2d(scale_factor=3)),
    ]:
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(gn.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    "call,pattern",
    [
        (lambda: gn.nn.functional.interpolate(gn.ones(1, 1, 4), size=3, mode="bilinear"), "bilinear.*2 spatial dims"),
        (lambda: gn.nn.functional.interpolate(gn.ones(1, 1, 4, 4), size=3, scale_factor=2), "exactly one of"),
        (lambda: gn.nn.functional.pad(gn.ones(1, 3), (3, 0), mode="reflect"), "reflect padding \\(3, 0\\) must be"),
        (lambda: gn.nn.functional.one_hot(gn.tensor([0, 5]), 3), "one_hot: class values must be in \\[0, 3\\)"),
        (lambda: gn.nn.functional.interpolate(gn.ones(1, 1, 4), size=2, mode="area", align_corners=True),
         "align_corners only applies"),
        (lambda: gn.nn.functional.interpolate(gn.ones(1, 1, 4), size=2, mode="box"), "mode must be one of.*area"),
    ],
)
def test_bad_arguments_are_explained(call, pattern):
    with pytest.raises(RuntimeError, match=pattern):
        call()


def test_adaptive_max_pool_and_unpool_modules_match_torch():
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 8))
    ours, idx = gn.nn.AdaptiveMaxPool2d((3, 5), return_indices=True)(gn.tensor(x))
    theirs, tidx = torch.nn.AdaptiveMaxPool2d((3, 5), return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    pooled, where = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    back = gn.nn.MaxUnpool2d(2)(gn.tensor(pooled.numpy()), gn.tensor(where.numpy()))
    np.testing.assert_array_equal(back.numpy(), torch.nn.MaxUnpool2d(2)(pooled, where).numpy())
    assert repr(gn.nn.MaxUnpool2d(2)) == repr(torch.nn.MaxUnpool2d(2))
