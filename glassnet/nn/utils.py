"""Training utilities used beside a model: gradient clipping and explicit regularisation penalties.

They live in `glassnet.optim` (clip.py, regularization.py); `gn.nn.utils` is where PyTorch users look for them.
"""

from glassnet.optim.clip import clip_grad_norm_, clip_grad_value_
from glassnet.optim.regularization import l1_penalty, l2_penalty

__all__ = ["clip_grad_norm_", "clip_grad_value_", "l1_penalty", "l2_penalty"]

from glassnet.nn.reparametrize import (  # noqa: E402 - weight reparametrisations and parameter vectors
    parameters_to_vector,
    remove_spectral_norm,
    remove_weight_norm,
    spectral_norm,
    vector_to_parameters,
    weight_norm,
)

__all__ += ["parameters_to_vector", "vector_to_parameters", "weight_norm", "remove_weight_norm", "spectral_norm",
            "remove_spectral_norm"]
