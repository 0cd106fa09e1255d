"""Every differentiable operation, one small Function class each, forward and backward side by side.

Infinities and NaN are results here, as in PyTorch: x / 0 is ±inf, log of a negative number is NaN, and NumPy's
RuntimeWarnings about them ("divide by zero", "invalid value", "overflow") are silenced for the engine's own modules
by one warnings filter (it costs nothing until a warning is raised; an `np.errstate` block around every op would
cost microseconds per op). Warnings from the user's own NumPy code are untouched.
"""

import warnings

warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"glassnet\.(ops\.|tensor$|functions$)")
