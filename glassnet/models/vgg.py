"""SmallVGG: a VGG-style CNN, stacks of 3x3 convolutions between 2x2 max-pools, sized for small images."""

from __future__ import annotations

from glassnet import nn
from glassnet.models._utils import check_input
from glassnet.tensor import Tensor


class SmallVGG(nn.Module):
    """A small VGG-style network (Simonyan & Zisserman 2014, "Very deep convolutional networks").

    The idea it shows: depth from uniform blocks of small 3x3 convolutions (two 3x3 layers see 5x5 with fewer
    parameters and one more nonlinearity), halving the resolution with max-pooling and growing the width per block.
    Each width w in `widths` is a block [conv3x3 → BatchNorm → ReLU] x 2 → maxpool 2; then global average pooling
    and a Linear classifier, so any input size of at least 2**len(widths) pixels works.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, widths: tuple[int, ...] = (16, 32)) -> None:
        super().__init__()
        if not widths:
            raise ValueError("SmallVGG: widths must name at least one block width")
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        c = in_channels
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
                       nn.Conv2d(w, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2)]
            c = w
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)
        self.min_size = 2 ** len(widths)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, in_channels, H, W) → (batch, num_classes) logits."""
        check_input(x, "SmallVGG", 4, f"(batch, {self.in_channels}, H, W)", channels=(1, self.in_channels))
        if min(x.shape[2:]) < self.min_size:
            raise ValueError(f"SmallVGG got input of shape {tuple(x.shape)}; H and W must be at least {self.min_size}")
        return self.classifier(self.pool(self.features(x)).flatten(1))
