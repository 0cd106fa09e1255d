"""The op registry itself: it lists every op of the engine, each with several sample inputs, and as a whole
covers broadcasting, zero-size and 0-d inputs (so the generated tests of each ops module cover them too)."""

import pytest
from opinfo import ALL_OPS, REGISTRY

REQUIRED = {
    "arithmetic": "add sub mul div pow neg abs exp log log1p sqrt rsqrt sin cos clamp clip maximum minimum where",
    "activation": "tanh sigmoid relu F.relu F.leaky_relu F.elu F.selu F.gelu F.gelu_tanh F.silu F.softplus F.sigmoid "
                  "F.tanh F.softmax F.log_softmax F.hardtanh F.relu6 F.hardsigmoid F.hardswish F.mish F.logsigmoid "
    "F.softsign F.celu F.glu F.softmin F.threshold F.hardshrink F.softshrink F.tanhshrink F.rrelu_eval",
    "reduction": "sum mean max_all min_all max_dim min_dim amax amin var std prod logsumexp argmax argmin",
    "shape": "reshape view transpose permute T mT expand expand_as squeeze unsqueeze flatten unflatten repeat tile "
             "getitem_int getitem_slice getitem_none_ellipsis getitem_bool_mask getitem_int_array_repeated cat stack "
             "split chunk pad",
    "linalg": "matmul einsum linalg.inv linalg.det linalg.solve linalg.svdvals linalg.vector_norm linalg.matrix_norm "
    "norm linalg.slogdet slogdet_negative_det logdet",
    "maths": "floor ceil trunc round round_decimals frac sign floor_divide div_trunc div_floor remainder fmod erf erfc "
    "erfinv log2 log10 exp2 expm1 tan asin acos atan atan2 sinh cosh asinh acosh atanh hypot lerp logaddexp copysign "
    "xlogy var_mean std_mean prod_dtype",
    "losses_more": "F.margin_ranking_loss F.hinge_embedding_loss F.soft_margin_loss F.triplet_margin_loss "
    "F.pairwise_distance F.poisson_nll_loss F.gaussian_nll_loss F.multilabel_soft_margin_loss F.normalize "
    "F.pixel_shuffle F.pixel_unshuffle",
    "resample": "F.interpolate F.pad_modes F.pad_negative F.one_hot F.adaptive_max_pool2d F.adaptive_max_pool1d "
    "F.max_unpool2d F.adaptive_max_pool3d F.max_unpool1d F.max_unpool3d F.lp_pool1d F.lp_pool2d F.lp_pool3d",
    "scan": "cumsum cumprod cummax cummin logcumsumexp",
    "ordering": "sort argsort topk kthvalue median_all median_dim mode unique searchsorted bucketize",
    "indexing": "flip fliplr flipud roll rot90 repeat_interleave meshgrid unfold movedim narrow index_select take "
    "take_along_dim tril triu diagonal trace diag_embed diag masked_fill masked_select masked_scatter scatter "
    "scatter_add scatter_reduce index_add index_copy index_fill",
    "parity_misc": "nanmedian_dim nanmedian_nan cumprod_zeros scatter_reduce_prod_zeros linalg.svd F.embedding_bag "
    "F.embedding_bag_weighted F.ctc_loss",
    "predicate": "eq ne lt le gt ge logical_and logical_or logical_xor logical_not any all isnan isinf isfinite "
    "isclose bitwise_and shift",
    "conv3d": "F.conv3d F.conv_transpose3d F.max_pool3d F.avg_pool3d F.adaptive_avg_pool3d",
}
NO_0D = {"conv3d": "convolution and pooling take (N, C, *spatial) inputs; a 0-d input has no meaning there"}


@pytest.mark.parametrize("module", list(REQUIRED))
def test_registry_lists_every_op_of_the_engine(module):
    names = {op.name for op in REGISTRY[module]}
    missing = set(REQUIRED[module].split()) - names
    assert not missing, f"ops missing from the {module} registry: {sorted(missing)}"


def test_names_are_unique_and_each_op_has_samples():
    names = [op.name for op in ALL_OPS]
    assert len(names) == len(set(names))
    assert all(op.samples for op in ALL_OPS)


@pytest.mark.parametrize("module", list(REGISTRY))
def test_each_module_covers_0d_zero_size_and_several_shapes(module):
    shapes = [s for op in REGISTRY[module] for sample in op.samples for s in sample.shapes]
    assert any(s == () for s in shapes) or module in NO_0D, "no 0-d sample"
    assert any(0 in s for s in shapes), "no zero-size sample"
    assert len(set(shapes)) >= 5


def test_binary_ops_have_broadcasting_samples():
    for op in ALL_OPS:
        if op.name in ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "matmul", "where"):
            assert any(len(set(s.shapes)) > 1 for s in op.samples), op.name
