"""`gn.utils.data`: PyTorch's spelling (`torch.utils.data.DataLoader`, `TensorDataset`, …) for `glassnet.data`, so
ported training scripts run with their imports unchanged: `from glassnet.utils.data import DataLoader`, and the
submodules PyTorch code imports from (`…data.dataloader`, `.dataset`, `.sampler`, `.distributed`), are the same
module objects as glassnet.data's, registered under these names (so a class is the same class by either name)."""

import sys

from glassnet import data
from glassnet.data import dataloader, dataset, distributed

for _name, _module in {
    "data": data,
    "data.dataloader": dataloader,
    "data.dataset": dataset,
    "data.distributed": distributed,
    "data.sampler": dataloader,  # torch.utils.data.sampler: glassnet's samplers live beside the DataLoader
}.items():
    sys.modules[f"{__name__}.{_name}"] = _module
del _name, _module

__all__ = ["data"]
