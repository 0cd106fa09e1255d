"""Generated OpInfo checks for the margin/ranking/likelihood losses, normalize and pixel_shuffle
(glassnet/nn/_functional_more.py), and their modules against torch.nn."""

import numpy as np
import torch
from opinfo import LOSSES_MORE, generated_tests

import glassnet as gn

(
    test_forward_matches_torch,
    test_grad_matches_torch,
    test_gradcheck,
    test_gradgradcheck,
    test_gradgrad_matches_torch,
) = generated_tests(LOSSES_MORE)


def test_loss_modules_match_torch():
    rng = np.random.default_rng(0)
    a, b, c = rng.standard_normal((3, 4, 5))
    y = np.sign(rng.standard_normal((4, 5)))
    cases = [
        ("MarginRankingLoss", dict(margin=0.1), (a, b, y)),
        ("HingeEmbeddingLoss", {}, (a, y)),
        ("SoftMarginLoss", {}, (a, y)),
        ("TripletMarginLoss", dict(swap=True), (a, b, c)),
        ("PoissonNLLLoss", {}, (a, np.abs(y))),
        ("GaussianNLLLoss", {}, (a, b, np.abs(c) + 0.1)),
        ("MultiLabelSoftMarginLoss", {}, (a, (y > 0) * 1.0)),
        ("PixelShuffle", {"upscale_factor": 2}, (a.reshape(5, 4, 1, 1),)),
        ("PixelUnshuffle", {"downscale_factor": 2}, (a.reshape(1, 1, 4, 5)[..., :4],)),
    ]
    for name, kwargs, args in cases:
        ours = getattr(gn.nn, name)(**kwargs)(*[gn.tensor(x) for x in args])
        theirs = getattr(torch.nn, name)(**kwargs)(*[torch.tensor(x) for x in args])
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, err_msg=name)
