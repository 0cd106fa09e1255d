"""Neural-network building blocks: functional ops (`glassnet.nn.functional`), modules and layers."""

from glassnet.nn import functional
