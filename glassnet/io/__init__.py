"""Reading and writing weights: `gn.save` / `gn.load` for state dicts in the safetensors format, and
`load_state_dict` to map weights made elsewhere (PyTorch, Hugging Face) onto a glassnet module."""

from glassnet.io.mapping import LoadReport, load_state_dict
from glassnet.io.weights import PickleCheckpointError, WeightsFileError, load, save

__all__ = ["LoadReport", "PickleCheckpointError", "WeightsFileError", "load", "load_state_dict", "save"]
