"""Shared test settings: the tests directory is importable (tests/opinfo.py) and Hypothesis runs briefly.

Set GLASSNET_HYPOTHESIS_EXAMPLES (e.g. 500) to let the property tests search harder.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "glassnet",
    max_examples=int(os.environ.get("GLASSNET_HYPOTHESIS_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("glassnet")
