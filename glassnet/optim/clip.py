"""Gradient clipping (implemented in `glassnet.nn.utils`, where PyTorch has it; re-exported here)."""

from glassnet.nn.utils import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
