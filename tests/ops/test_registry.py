"""The op registry itself: it lists every op of the engine, each with several sample inputs, and as a whole
covers broadcasting, zero-size and 0-d inputs (so the generated tests of each ops module cover them too)."""

import pytest
from opinfo import ALL_OPS, REGISTRY

REQUIRED = {
    "arithmetic": "add sub mul div pow neg abs exp log log1p sqrt rsqrt sin cos clamp clip maximum minimum where",
    "activation": "tanh sigmoid relu F.relu F.leaky_relu F.elu F.selu F.gelu F.gelu_tanh F.silu F.softplus F.sigmoid "
                  "F.tanh F.softmax F.log_softmax F.hardtanh",
    "reduction": "sum mean max_all min_all max_dim min_dim amax amin var std prod logsumexp argmax argmin",
    "shape": "reshape view transpose permute T mT expand expand_as squeeze unsqueeze flatten unflatten repeat tile "
             "getitem_int getitem_slice getitem_none_ellipsis getitem_bool_mask getitem_int_array_repeated cat stack "
             "split chunk pad",
    "linalg": "matmul einsum",
}


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
    assert any(s == () for s in shapes), "no 0-d sample"
    assert any(0 in s for s in shapes), "no zero-size sample"
    assert len(set(shapes)) >= 5


def test_binary_ops_have_broadcasting_samples():
    for op in ALL_OPS:
        if op.name in ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "matmul", "where"):
            assert any(len(set(s.shapes)) > 1 for s in op.samples), op.name
