"""Every differentiable operation, one small Function class each, forward and backward side by side.

Infinities and NaN are results here, as in PyTorch: x / 0 is ±inf, log of a negative number is NaN, and NumPy's
RuntimeWarnings about them ("divide by zero", "invalid value", "overflow") are silenced for the engine's own modules
(the ops, the Tensor, functions.py, and autograd's gradient sums) by one warnings filter (it costs nothing until a
warning is raised; an `np.errstate` block around every op would cost microseconds per op). Warnings from the user's
own NumPy code are untouched. (A warning is credited to the module that called the ufunc: where an op calls a NumPy
function written in Python, such as np.sum or np.cumprod, it calls the ufunc itself or uses np.errstate.)
"""

import warnings

ENGINE_MODULES = r"glassnet\.(ops\.|tensor$|functions$|autograd$)"  # the modules whose RuntimeWarnings are silenced
warnings.filterwarnings("ignore", category=RuntimeWarning, module=ENGINE_MODULES)
