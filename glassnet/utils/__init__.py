"""`gn.utils.data`: PyTorch's spelling (`torch.utils.data.DataLoader`, `TensorDataset`, …) for `glassnet.data`, so
ported training scripts run with their imports unchanged."""

from glassnet import data

__all__ = ["data"]
