"""Explicit penalties to add to a loss (implemented in `glassnet.nn.utils`; re-exported here)."""

from glassnet.nn.utils import l1_penalty, l2_penalty

__all__ = ["l1_penalty", "l2_penalty"]
