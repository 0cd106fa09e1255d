"""LeNet-5: the convolutional network of LeCun et al. (1998) in its common modern form (ReLU, max-pooling)."""

from __future__ import annotations

from glassnet import nn
from glassnet.models._utils import check_input
from glassnet.tensor import Tensor


class LeNet5(nn.Module):
    """LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998, "Gradient-based learning applied to document recognition").

    The idea it shows: local receptive fields with shared weights (convolution) plus subsampling (pooling) give
    translation-tolerant features, so a small network learns digits from pixels. Layout for 28x28 inputs:
    conv 5x5 (in→6, pad 2) · ReLU · maxpool 2 → conv 5x5 (6→16) · ReLU · maxpool 2 → 16·5·5=400 → 120 → 84 → classes.
    With 1 input channel and 10 classes it has 61,706 parameters.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        """(batch, in_channels, 28, 28) images → (batch, num_classes) logits."""
        check_input(x, "LeNet5", 4, f"(batch, {self.in_channels}, 28, 28)", channels=(1, self.in_channels))
        if tuple(x.shape[2:]) != (28, 28):
            raise ValueError(
                f"LeNet5 got input of shape {tuple(x.shape)}; expected (batch, {self.in_channels}, 28, 28)"
            )
        return self.classifier(self.features(x))
