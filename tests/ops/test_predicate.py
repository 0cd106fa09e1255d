"""Generated OpInfo checks for the predicate functions of glassnet/functions.py (see tests/opinfo.py)."""

from opinfo import PREDICATE, generated_tests

(
    test_forward_matches_torch,
    test_grad_matches_torch,
    test_gradcheck,
    test_gradgradcheck,
    test_gradgrad_matches_torch,
) = generated_tests(PREDICATE)
