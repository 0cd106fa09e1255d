"""Generated OpInfo checks for embedding_bag, ctc_loss, svd (U, S, Vh), nanmedian(dim) and the zeros of cumprod and
scatter_reduce(prod) (see tests/opinfo.py), and hand-picked cases against torch."""

import numpy as np
import pytest
import torch
from opinfo import PARITY_MISC, check_against_torch, generated_tests

import glassnet as gn
import glassnet.nn.functional as F

(
    test_forward_matches_torch,
    test_grad_matches_torch,
    test_gradcheck,
    test_gradgradcheck,
    test_gradgrad_matches_torch,
) = generated_tests(PARITY_MISC)


# ----- nanmedian(dim) ----------------------------------------------------------------------------------------------
def test_nanmedian_dim_skips_nan_and_gives_torch_indices():
    nan = float("nan")
    x = np.array([[1.0, nan, 3.0, 2.0], [5.0, nan, nan, 1.0], [4.0, 3.0, 2.0, 1.0], [nan, nan, 7.0, nan]])
    ours, theirs = gn.nanmedian(gn.tensor(x), 1), torch.nanmedian(torch.tensor(x), 1)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    check_against_torch(lambda L, a: a.nanmedian(0).values, x)


def test_nanmedian_of_a_row_of_nan_only_is_nan():
    values, indices = gn.tensor([[float("nan")] * 3, [1.0, 2.0, 3.0]]).nanmedian(dim=1)
    assert np.isnan(values.numpy()[0]) and values.numpy()[1] == 2.0
    assert indices.dtype == np.int64


def test_nanmedian_of_an_empty_dim_names_the_op():
    with pytest.raises(IndexError, match="nanmedian"):
        gn.zeros(2, 0).nanmedian(dim=1)


# ----- zeros in cumprod and scatter_reduce(prod) ---------------------------------------------------------------------
@pytest.mark.parametrize("values", [[1.5, 0.0, 2.0, -1.0, 0.5], [0.0, 0.0, 2.0], [2.0, 3.0, 0.0], [0.0],
                                    [[0.0, 2.0, 0.0, 3.0], [1.0, 2.0, 3.0, 0.0]]])
def test_cumprod_with_zeros_first_and_second_derivatives_match_torch(values):
    for dim in range(np.ndim(values)):
        check_against_torch(lambda L, a, dim=dim: L.cumprod(a, dim), np.array(values), second=True)
        x = gn.tensor(np.array(values), requires_grad=True)
        assert gn.autograd.gradgradcheck(lambda t, dim=dim: t.cumprod(dim), [x])


INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize("values", [[INF, 0.0, 2.0], [0.0, INF, 2.0], [2.0, INF, 0.0, 3.0], [2.0, 0.0, INF, 3.0],
                                    [INF, INF, 0.0], [0.0, 0.0, INF], [-INF, 0.0, 1.0], [1.0, 0.0, 2.0, INF],
                                    [NAN, 0.0, 2.0], [INF, 0.0, 0.0, INF], [INF], [[INF, 0.0, 1.0], [2.0, 3.0, 0.0]]])
def test_cumprod_gradient_of_infinity_times_zero_has_torch_nan_places(values):
    # ∞ · 0 is NaN; where it lands depends on the formula, and torch has two (O(n) for a first-order backward,
    # O(n²) under create_graph): the first gradient (both ways) and the second derivative must match.
    import warnings

    for dim in range(np.ndim(values)):
        check_against_torch(lambda L, a, dim=dim: L.cumprod(a, dim), np.array(values), second=True)
        for create_graph in (False, True):
            x = gn.tensor(np.array(values), requires_grad=True)
            t = torch.tensor(np.array(values), requires_grad=True)
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)  # silent, as torch
                (g,) = gn.grad(gn.cumprod(x, dim).sum(), [x], create_graph=create_graph)
            (tg,) = torch.autograd.grad(torch.cumprod(t, dim).sum(), [t], create_graph=create_graph)
            np.testing.assert_array_equal(g.detach().numpy(), tg.detach().numpy())


# ----- mode with NaN ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("values", [[NAN, 1.0, 1.0, 2.0], [NAN, NAN, 1.0, 1.0], [2.0, 2.0, NAN, NAN, NAN],
                                    [2.0, NAN, 1.0], [NAN], [NAN, NAN, NAN], [[NAN] * 4, [1.0, 1.0, NAN, 3.0]]])
def test_mode_with_nan_matches_torch_where_torch_is_not_left_to_its_sort(values):
    # NaN == NaN is false, so each NaN is a run of its own; an all-NaN row gives index 0 (torch's, for rows of up to
    # 16: beyond, its index comes from how std::sort moves NaNs, see README). Mixed rows where torch's unstable sort
    # leaves a NaN in front ([NaN, NaN, 1], [1, NaN, 2, NaN, 2]) differ and are not checked here.
    ours, theirs = gn.mode(gn.tensor(values), -1), torch.mode(torch.tensor(values), -1)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())


_IDX = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1]])


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_with_zeros_matches_torch(include_self):
    a = np.array([[0.0, 2.0, 1.5], [1.0, 0.0, -2.0]])
    for src in ([[0.0, 1.0, 2.0], [3.0, 0.5, 1.0], [2.0, 0.0, 4.0]], [[1.0, 1.0, 2.0], [3.0, 0.5, 0.0], [2.0, 2, 4]]):
        check_against_torch(lambda L, x, s: x.scatter_reduce(0, L.tensor(_IDX), s, "prod", include_self=include_self),
                            a, np.array(src), second=True)


def test_scatter_reduce_prod_two_zeros_at_one_place_first_derivative_only():
    a, src = np.ones((2, 3)), np.array([[0.0, 1.0, 2.0], [0.0, 0.5, 1.0], [2.0, 2.0, 4.0]])  # both 0s go to (1, 0)
    fn = lambda L, x, s: x.scatter_reduce(0, L.tensor(_IDX), s, "prod")  # noqa: E731
    check_against_torch(fn, a, src)
    x, s = gn.tensor(a, requires_grad=True), gn.tensor(src, requires_grad=True)
    with pytest.raises(NotImplementedError, match="more than one 0"):
        gn.grad(fn(gn, x, s).sum(), [x, s], create_graph=True)


# ----- linalg.svd ----------------------------------------------------------------------------------------------------
def test_svd_with_repeated_singular_values_behaves_as_torch():
    a = np.diag([2.0, 2.0, 1.0])
    check_against_torch(lambda L, x: L.linalg.svd(x, full_matrices=False)[1], a)  # S alone: finite
    for L in (gn, torch):  # through U: the division by s₁² − s₂² = 0 gives NaN in both
        x = L.tensor(a, requires_grad=True)
        u = L.linalg.svd(x, full_matrices=False)[0]
        (u * u * L.tensor(np.arange(9.0).reshape(3, 3))).sum().backward()
        assert np.isnan(x.grad.numpy()).all()


@pytest.mark.parametrize("shape", [(4, 2), (2, 5), (3, 3)])
def test_svd_full_matrices_shapes_and_gradient_as_torch(shape):
    a = np.random.default_rng(3).standard_normal(shape)
    k = min(shape)
    u, s, vh = gn.linalg.svd(gn.tensor(a))
    tu, ts, tvh = torch.linalg.svd(torch.tensor(a))
    assert u.shape == tuple(tu.shape) and vh.shape == tuple(tvh.shape) and s.shape == tuple(ts.shape)
    np.testing.assert_allclose(u.numpy() @ u.numpy().T, np.eye(shape[0]), atol=1e-12)
    np.testing.assert_allclose(vh.numpy() @ vh.numpy().T, np.eye(shape[1]), atol=1e-12)
    check_against_torch(lambda L, x: [(p[..., :k] ** 2) for p in (L.linalg.svd(x)[0], L.linalg.svd(x)[2].mT)], a)


def test_svd_refuses_a_vector():
    with pytest.raises(ValueError, match=r"linalg.svd.*\(3,\)"):
        gn.linalg.svd(gn.ones(3))


# ----- embedding_bag -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_module_matches_torch(mode):
    w = np.random.default_rng(0).standard_normal((7, 4))
    ids, offsets = np.array([1, 2, 4, 5, 4, 3, 2, 6]), np.array([0, 3, 3, 6])
    outs = []
    for L in (gn, torch):
        bag = L.nn.EmbeddingBag.from_pretrained(L.tensor(w), freeze=False, mode=mode, padding_idx=2)
        out = bag(L.tensor(ids), L.tensor(offsets))
        (out * L.tensor(np.arange(16.0).reshape(4, 4))).sum().backward()
        outs.append((out.detach().numpy(), bag.weight.grad.numpy()))
    for ours, theirs in zip(*outs):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    assert "mode=" in repr(gn.nn.EmbeddingBag(7, 4, mode=mode))


@pytest.mark.parametrize("mode", ["sum", "max"])
def test_embedding_bag_second_derivative_against_finite_differences(mode):
    w = gn.tensor(np.random.default_rng(1).permutation(18).reshape(6, 3) * 0.3, requires_grad=True)
    psw = gn.tensor(np.random.default_rng(2).standard_normal(6), requires_grad=True)
    ids, offsets = gn.tensor([1, 2, 4, 5, 4, 3]), gn.tensor([0, 2, 2])
    if mode == "sum":
        assert gn.autograd.gradgradcheck(lambda a, p: F.embedding_bag(ids, a, offsets, mode="sum",
                                                                      per_sample_weights=p), [w, psw])
    else:
        assert gn.autograd.gradgradcheck(lambda a: F.embedding_bag(ids, a, offsets, mode="max") ** 2, [w])


def test_embedding_bag_errors_name_the_op_and_the_shapes():
    w = gn.randn(5, 2)
    with pytest.raises(ValueError, match="per_sample_weights is only supported for mode='sum'"):
        F.embedding_bag(gn.tensor([[1, 2]]), w, mode="mean", per_sample_weights=gn.ones(1, 2))
    with pytest.raises(ValueError, match=r"embedding_bag: 1-D input of shape \(3,\) needs offsets"):
        F.embedding_bag(gn.tensor([1, 2, 3]), w)
    with pytest.raises(ValueError, match="offsets must be None when input is 2-D"):
        F.embedding_bag(gn.tensor([[1, 2]]), w, gn.tensor([0]))
    with pytest.raises(ValueError, match="must start at 0"):
        F.embedding_bag(gn.tensor([1, 2, 3]), w, gn.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"per_sample_weights of shape \(3,\) must have input's shape \(1, 2\)"):
        F.embedding_bag(gn.tensor([[1, 2]]), w, mode="sum", per_sample_weights=gn.ones(3))
    with pytest.raises(IndexError, match="embedding"):
        F.embedding_bag(gn.tensor([[1, 7]]), w)


# ----- ctc_loss ------------------------------------------------------------------------------------------------------
def _ctc_case(L, lp, **kw):
    targets = L.tensor(np.array([[1, 2, 2], [3, 1, 0]]))
    return L.nn.functional.ctc_loss(lp, targets, L.tensor(np.array([6, 5])), L.tensor(np.array([3, 2])), **kw)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ctc_gradient_on_the_log_probs_matches_torch(dtype):
    """PyTorch's docs pattern: log_softmax(...).detach().requires_grad_(); its gradient convention is followed."""
    lp = torch.randn(6, 2, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).log_softmax(2)
    lp = lp.numpy().astype(dtype)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    for reduction in ("mean", "sum", "none"):
        check_against_torch(lambda L, a, r=reduction: _ctc_case(L, a.to(L.float32) if dtype == np.float32 else a,
                                                                 reduction=r), lp, tol=tol)


def test_ctc_module_matches_torch_and_impossible_targets_as_torch():
    x = np.random.default_rng(5).standard_normal((3, 2, 4))
    targets, lengths = np.array([[1, 1, 1], [1, 2, 3]]), np.array([3, 3])  # 1, 1, 1 needs 5 frames: impossible
    for zero_infinity in (False, True):
        results = []
        for L in (gn, torch):
            xt = L.tensor(x, requires_grad=True)
            loss = L.nn.CTCLoss(reduction="sum", zero_infinity=zero_infinity)(
                xt.log_softmax(2), L.tensor(targets), L.tensor(lengths), L.tensor(lengths))
            loss.backward()
            results.append((loss.detach().numpy(), xt.grad.numpy()))
        for ours, theirs in zip(*results):
            np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, equal_nan=True)


def test_ctc_second_derivative_is_refused_as_in_torch():
    x = gn.randn(6, 2, 4, dtype=gn.float64, requires_grad=True)
    with pytest.raises(NotImplementedError, match="ctc_loss: the second derivative"):
        gn.grad(_ctc_case(gn, x.log_softmax(2)), [x], create_graph=True)


def test_ctc_errors_name_the_op_and_the_shapes():
    lp = gn.randn(6, 2, 4).log_softmax(2)
    t, n = gn.tensor([[1, 2], [3, 1]]), gn.tensor([2, 2])
    with pytest.raises(ValueError, match=r"ctc_loss: input_lengths \[7, 6\] must be in \[1, 6\]"):
        F.ctc_loss(lp, t, gn.tensor([7, 6]), n)
    with pytest.raises(ValueError, match=r"ctc_loss: blank=4 must be a class index in \[0, 4\)"):
        F.ctc_loss(lp, t, gn.tensor([6, 6]), n, blank=4)
    with pytest.raises(ValueError, match="concatenated targets hold 3 labels but target_lengths"):
        F.ctc_loss(lp, gn.tensor([1, 2, 3]), gn.tensor([6, 6]), n)
    with pytest.raises(ValueError, match=r"target_lengths must hold one length per sample \(2\)"):
        F.ctc_loss(lp, t, gn.tensor([6, 6]), gn.tensor([2]))
    with pytest.raises(ValueError, match=r"ctc_loss: log_probs must be \(T, N, C\)"):
        F.ctc_loss(gn.randn(2, 3, 4, 5), t, gn.tensor([6, 6]), n)
    with pytest.raises(ValueError, match=r"target labels must be in \[0, 4\)"):
        F.ctc_loss(lp, gn.tensor([[1, 9], [3, 1]]), gn.tensor([6, 6]), n)


# ----- issue 18 audit: NaN in median/sort/topk, infinities in scans, errors catchable as RuntimeError -------------
NAN_ROWS = [[float("nan"), 1.0, 2.0], [3.0, 1.0, 2.0], [1.0, float("nan"), float("nan")], [float("inf"), 0.0, 5.0]]


def test_median_propagates_nan_as_torch():
    ours, theirs = gn.median(gn.tensor(NAN_ROWS), 1), torch.median(torch.tensor(NAN_ROWS), 1)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    assert np.isnan(gn.median(gn.tensor(NAN_ROWS)).item()) and np.isnan(torch.median(torch.tensor(NAN_ROWS)).item())
    x = gn.tensor(NAN_ROWS, requires_grad=True)
    gn.median(x, 1).values.sum().backward()  # the gradient goes to the chosen element (the first NaN)
    assert x.grad.numpy()[0].tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_topk_and_descending_sort_put_nan_first_as_torch(k):
    ours, theirs = gn.topk(gn.tensor(NAN_ROWS), k), torch.topk(torch.tensor(NAN_ROWS), k)
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    ours_sorted = gn.sort(gn.tensor(NAN_ROWS), descending=True, stable=True)
    theirs_sorted = torch.sort(torch.tensor(NAN_ROWS), descending=True, stable=True)
    np.testing.assert_array_equal(ours_sorted.indices.numpy(), theirs_sorted.indices.numpy())
    np.testing.assert_array_equal(gn.argsort(gn.tensor(NAN_ROWS), descending=True).numpy(),
                                  theirs_sorted.indices.numpy())


def test_cumsum_and_cumprod_of_infinities_are_silent_as_torch():
    import warnings

    values = [float("inf"), 0.0, float("-inf"), 2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        ours = [gn.cumprod(gn.tensor(values), 0).numpy(), gn.cumsum(gn.tensor(values), 0).numpy()]
    theirs = [torch.cumprod(torch.tensor(values), 0).numpy(), torch.cumsum(torch.tensor(values), 0).numpy()]
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "call,names",
    [
        (lambda: gn.gather(gn.zeros(2, 3), 1, gn.tensor([[5]])), "gather"),
        (lambda: F.cross_entropy(gn.zeros(2, 3), gn.tensor([0, 5])), "cross_entropy"),
        (lambda: gn.zeros(2) & gn.zeros(2), "bitwise_and"),
        (lambda: gn.linspace(0, 1, 3, dtype=gn.bool), "linspace"),
        (lambda: gn.einsum("ij,jk->il", gn.zeros(2, 2), gn.zeros(2, 2)), "einsum"),
    ],
)
def test_errors_where_torch_raises_runtime_error_are_runtime_errors(call, names):
    with pytest.raises(RuntimeError, match=names):  # still IndexError / TypeError / ValueError as before
        call()


def test_uint8_any_all_and_bool_square_keep_torch_dtypes():
    u8 = np.array([[0, 3, 200], [0, 0, 1]], dtype=np.uint8)
    for name, kw in [("any", {}), ("all", {}), ("any", {"dim": 1}), ("all", {"dim": 0, "keepdim": True})]:
        ours, theirs = getattr(gn.tensor(u8), name)(**kw), getattr(torch.tensor(u8), name)(**kw)
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.") == "uint8"
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    bools = np.array([True, False])
    assert gn.tensor(bools).square().tolist() == torch.tensor(bools).square().tolist() == [1, 0]
    assert gn.tensor(bools).square().dtype == gn.int64
