"""Every fast path in glassnet, beside the readable reference it must equal: read this list first.

A fast path exists only where a benchmark showed the gain (bench/). Each entry names where the fast code lives, the
readable version it must give the same numbers as (its docstring says so too, in a line starting "Reference:"), and
the test that asserts the equality. `tests/test_fast_paths.py` checks that all three exist.
"""

from __future__ import annotations

from typing import NamedTuple


class FastPath(NamedTuple):
    """One fast path: what it is, where it lives, the reference it equals, and the test that says so."""

    what: str
    where: str  # "module:qualified.name"
    reference: str  # the words its docstring uses after "Reference:"
    test: str  # "tests/file.py::test_name"


FAST_PATHS = (
    FastPath(
        "Function.apply unpacks one, two and three Tensor arguments by hand",
        "glassnet.autograd:Function.apply",
        "the general loop (its last branch)",
        "tests/test_fast_paths.py::test_apply_unrolled_calls_equal_the_general_loop",
    ),
    FastPath(
        "the backward walk adds in place into sums it made itself",
        "glassnet.autograd:run_backward",
        "a fresh sum for every share",
        "tests/test_fast_paths.py::test_walk_in_place_sums_equal_fresh_sums",
    ),
    FastPath(
        "Linear and Tanh skip the walk's per-input shape and dtype check (exact_gradients)",
        "glassnet.ops.linalg:Linear",
        "match_gradient in run_backward",
        "tests/test_autograd.py::test_ops_claiming_exact_gradients_return_them_on_every_registry_sample",
    ),
    FastPath(
        "the fused LSTM layer: one node per direction, gates in one exp pass",
        "glassnet.ops.recurrent:LSTMSequence",
        "nn.LSTM(fused=False)",
        "tests/ops/test_recurrent_ops.py::test_fused_matches_reference_outputs_and_gradients",
    ),
    FastPath(
        "the fused GRU layer",
        "glassnet.ops.recurrent:GRUSequence",
        "nn.GRU(fused=False)",
        "tests/ops/test_recurrent_ops.py::test_fused_gru_matches_reference_outputs_and_gradients",
    ),
    FastPath(
        "mean squared error as one node",
        "glassnet.ops.loss:MeanSquaredError",
        "((x - t) ** 2).mean()",
        "tests/test_fast_paths.py::test_fused_mse_equals_the_composed_formula",
    ),
    FastPath(
        "softmax cross-entropy as one node",
        "glassnet.ops.loss:CrossEntropy",
        "nll_loss(log_softmax(x), t)",
        "tests/test_fast_paths.py::test_fused_cross_entropy_equals_nll_of_log_softmax",
    ),
    FastPath(
        "GELU (tanh form) computed in place on arrays",
        "glassnet.ops.activation:Gelu",
        "the recorded formula of its create_graph branch",
        "tests/test_fast_paths.py::test_in_place_gelu_equals_the_recorded_formula",
    ),
    FastPath(
        "plain SGD updates every parameter in one loop",
        "glassnet.optim.sgd:SGD.update_group",
        "Optimizer.update_group with SGD.update",
        "tests/test_fast_paths.py::test_plain_sgd_loop_equals_the_general_update",
    ),
    FastPath(
        "learning rates as cached 0-d arrays",
        "glassnet.optim.optimizer:scalar_array",
        "the Python float",
        "tests/test_fast_paths.py::test_plain_sgd_loop_equals_the_general_update",
    ),
    FastPath(
        "the sum over rows as a product with ones",
        "glassnet.ops.linalg:sum_rows",
        "a.sum(axis=0)",
        "tests/ops/test_linalg.py::test_sum_rows_equals_the_axis_0_sum_for_arrays_and_tensors_and_any_dtype",
    ),
    FastPath(
        "the convolution GEMM in cache-sized blocks",
        "glassnet.ops.conv:_gemm",
        "np.matmul(a, b)",
        "tests/test_fast_paths.py::test_blocked_convolution_gemm_equals_one_matmul",
    ),
    FastPath(
        "Module.__call__ runs forward directly while no hook is live",
        "glassnet.nn.module:Module.__call__",
        "the hooked path below it",
        "tests/test_fast_paths.py::test_module_call_without_hooks_equals_the_hooked_path",
    ),
    FastPath(
        "Tensor +, −, × of one dtype skip promotion",
        "glassnet.tensor:Tensor.__add__",
        "_binary",
        "tests/test_fast_paths.py::test_same_dtype_operators_equal_the_promoting_path",
    ),
    FastPath(
        "rows added at a 1-D index as one flat np.add.at (embedding and x[idx] gradients)",
        "glassnet.backend:ArrayBackend.scatter_add",
        "numpy.add.at(out, index, values)",
        "tests/test_fast_paths.py::test_row_scatter_add_equals_numpys_add_at",
    ),
    FastPath(
        "a stride-1 transposed convolution (a convolution's input gradient) adds long contiguous runs",
        "glassnet.ops.conv:_stride_one_transposed",
        "col2im(Wᵀ @ g)",
        "tests/test_fast_paths.py::test_stride_one_transposed_convolution_equals_col2im",
    ),
    FastPath(
        "the sum along the last axis as a product with ones (softmax's row sums, forward and backward)",
        "glassnet.ops.linalg:sum_last",
        "a.sum(axis=-1, keepdims=True)",
        "tests/ops/test_linalg.py::test_sum_last_equals_the_last_axis_sum",
    ),
    FastPath(
        "LayerNorm over the last axis: row sums as products with ones, x̂ and y in place",
        "glassnet.ops.normalization:LayerNorm._forward_rows",
        "_standardize and _affine",
        "tests/test_fast_paths.py::test_layer_norm_rows_equal_the_general_formulas",
    ),
    FastPath(
        "LayerNorm's backward over the last axis, in place",
        "glassnet.ops.normalization:LayerNorm._backward_rows",
        "_affine_backward and standardize_backward",
        "tests/test_fast_paths.py::test_layer_norm_rows_equal_the_general_formulas",
    ),
    FastPath(
        "a slice's gradient added into the walk's sum for its input (no zeros-sized array)",
        "glassnet.ops.shape:GetItem",
        "backward (IndexAdd)",
        "tests/test_fast_paths.py::test_slice_gradients_added_into_the_walks_sum_equal_the_zeros_and_add_path",
    ),
)
