"""Reading and writing weights: `gn.save` / `gn.load` for state dicts in the safetensors format."""

from glassnet.io.weights import WeightsFileError, load, save

__all__ = ["WeightsFileError", "load", "save"]
